"""The ``rdcodec`` command: encode, decode and inspect ``.npy`` arrays from the shell.

Examples
--------
::

    rdcodec encode weights.npy weights.rdc --lattice E8 --rate 4
    rdcodec inspect weights.rdc
    rdcodec decode weights.rdc restored.npy
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from . import api
from .errors import CodecError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rdcodec", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    enc = sub.add_parser("encode", help="compress a .npy array")
    enc.add_argument("input", type=Path, help=".npy file (float16/32/64)")
    enc.add_argument("output", type=Path, help="stream to write")
    enc.add_argument("--lattice", default=None, help="Z, D4 (D<n>) or E8 (default)")
    target = enc.add_mutually_exclusive_group()
    target.add_argument("--step", type=float)
    target.add_argument("--rate", type=float, help="bits per element")
    target.add_argument("--distortion", type=float, help="mean squared error")
    enc.add_argument("--coder", default="arithmetic")
    enc.add_argument("--seed", type=int, default=0)
    enc.add_argument("--no-dither", action="store_true")

    dec = sub.add_parser("decode", help="decompress a stream to .npy")
    dec.add_argument("input", type=Path)
    dec.add_argument("output", type=Path)
    dec.add_argument("--max-elements", type=int, default=api.DEFAULT_MAX_ELEMENTS)

    ins = sub.add_parser("inspect", help="print a stream's header as JSON")
    ins.add_argument("input", type=Path)
    return p


def main(argv=None) -> int:
    """Entry point; returns the exit status (0 ok, 1 bad stream, 2 bad arguments)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "encode":
            x = np.load(args.input, allow_pickle=False)
            blob = api.encode(
                x,
                lattice=args.lattice,
                step=args.step,
                rate=args.rate,
                distortion=args.distortion,
                coder=args.coder,
                seed=args.seed,
                dither=not args.no_dither,
            )
            args.output.write_bytes(blob)
            info = api.inspect(blob)
            bpe = info.bits_per_element
            sys.stdout.write(f"{x.size} elements -> {len(blob)} bytes ({bpe:.4f} bits/element)\n")
        elif args.command == "decode":
            y = api.decode(args.input.read_bytes(), max_elements=args.max_elements)
            np.save(args.output, y)
        else:
            info = api.inspect(args.input.read_bytes())
            sys.stdout.write(json.dumps(info.to_dict(), indent=1, default=str) + "\n")
    except CodecError as exc:
        sys.stderr.write(f"rdcodec: {type(exc).__name__}: {exc}\n")
        return 1
    except (ValueError, TypeError, OSError) as exc:
        sys.stderr.write(f"rdcodec: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
