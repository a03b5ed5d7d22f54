"""Framework adapters: :mod:`bindings.torch` (PyTorch; ``bindings.pytorch`` is its former
name). Importing ``bindings`` imports no framework; each adapter imports its own."""
