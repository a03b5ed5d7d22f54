"""Demos and reproductions that use the installed packages (not installed themselves).

Run from the repository root: ``python -m examples.demo`` (what ``make demo``
runs) or ``python examples/demo.py``; ``python -m examples.demo_minilm``
(``make demo-minilm``). They import only public names of ``codec`` and
``bindings``.
"""
