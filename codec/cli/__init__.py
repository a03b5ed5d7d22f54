"""The ``rdcodec`` command (``python -m codec`` too): compress checkpoint files from the shell.

Examples
--------
::

    rdcodec compress model.safetensors -o model.rdk --lattice E8 --snr 24
    rdcodec info model.rdk
    rdcodec decompress model.rdk -o restored.safetensors
    rdcodec rd model.safetensors --tensor encoder.layer.0.attention.self.query.weight
    rdcodec bench model.safetensors --snr 24

Exit status: 0 success, 1 failed operation (bad or corrupt input, existing
output), 2 bad usage, 130 interrupted. docs/cli.md has the details.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from .. import api
from ..errors import CodecError
from . import analysis, commands
from .commands import Failure, UsageError
from .formats import FORMATS, InputError, OutputExists

__all__ = ["main"]

EPILOG = """\
examples:
  rdcodec compress model.safetensors -o model.rdk --snr 24
  rdcodec compress model.safetensors -o model.rdk --lattice E8 --rate 4 --exclude '*embeddings*'
  rdcodec compress weights.pt -o weights.rdk --quantizer ecsq --distortion 1e-5 --coder auto
  rdcodec compress shards/model.safetensors.index.json -o model.rdk
  rdcodec info model.rdk [--json]
  rdcodec decompress model.rdk -o restored.safetensors      (or --format pt|npz|npy)
  rdcodec rd model.safetensors --tensor NAME --rates 2,3,4,5 --plot rd.png
  rdcodec bench model.safetensors --snr 24 --configs E8,Z,ecsq
  python -m codec --help                                    (the same command)

exit status: 0 ok, 1 failed operation, 2 bad usage, 130 interrupted
"""


def _add_input_options(p, *, output: bool):
    p.add_argument("input", type=Path, help="checkpoint: .safetensors, *.index.json or folder, "
                   ".pt/.pth, .npz, .npy")  # fmt: skip
    if output:
        p.add_argument("-o", "--output", type=Path, required=True, help="file to write")


def _add_common(p):
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="show the traceback of a failure")


def _add_codec_options(p, *, default_snr=None):
    g = p.add_argument_group("quantizer and coder")
    g.add_argument("--lattice", help="Z, D4 (D<n>) or E8 (the default quantizer: E8 lattice)")
    g.add_argument("--quantizer", help="a registered quantizer: lattice, uniform, ecsq, "
                   "kmeans, ...")  # fmt: skip
    g.add_argument(
        "--coder",
        default="arithmetic",
        help="arithmetic (default), huffman, adaptive, lzw or auto (smallest per chunk)",
    )
    g.add_argument("--levels", type=int, help="k-means: number of levels")
    g.add_argument("--no-dither", action="store_true", help="lattices: plain rounding")
    g.add_argument("--seed", type=int, default=0, help="dither seed (default 0)")
    g.add_argument(
        "-O",
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="any other codec.encode option (value parsed as JSON), repeatable",
    )
    t = p.add_argument_group("rate control (at most one; default: MSE = var/256, ~24 dB)")
    m = t.add_mutually_exclusive_group()
    m.add_argument("--rate", type=float, help="bits per element (measured on the real bytes)")
    m.add_argument("--step", type=float, help="lattice scale / uniform step")
    m.add_argument("--distortion", type=float, help="mean squared error per element")
    m.add_argument(
        "--snr",
        type=float,
        default=default_snr,
        help="signal-to-noise ratio in dB, per tensor: D = var * 10^(-SNR/10)",
    )
    t.add_argument("--set", action="append", metavar="GLOB:KEY=VALUE",
                   help="per-tensor setting for names matching GLOB: a target (snr, rate, step, "
                   "distortion) or any codec.encode option; repeatable, later ones win; e.g. "
                   "--set '*word_embeddings*:snr=16'")  # fmt: skip
    s = p.add_argument_group("which tensors are coded")
    s.add_argument(
        "--include",
        action="append",
        metavar="GLOB",
        help="code only tensors whose name matches (repeatable)",
    )
    s.add_argument(
        "--exclude",
        action="append",
        metavar="GLOB",
        help="store tensors whose name matches losslessly (repeatable)",
    )
    s.add_argument(
        "--min-size",
        type=int,
        default=4096,
        metavar="N",
        help="float tensors with fewer elements are stored losslessly (default 4096)",
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rdcodec",
        description="Compress neural-network checkpoints (.safetensors, .pt, .npz, .npy) "
        "with lattice or scalar quantization and entropy coding.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"rdcodec {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    raw = argparse.RawDescriptionHelpFormatter

    c = sub.add_parser("compress", help="compress a checkpoint file", epilog=EPILOG,
                       formatter_class=raw)  # fmt: skip
    _add_input_options(c, output=True)
    _add_codec_options(c)
    c.add_argument("--prune", type=float, default=0.0, metavar="P",
                   help="zero the fraction P of smallest-magnitude weights of each coded tensor "
                   "before quantizing (magnitude pruning, per tensor)")  # fmt: skip
    c.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")
    _add_common(c)

    d = sub.add_parser("decompress", help="write a checkpoint back as a model file",
                       epilog=EPILOG, formatter_class=raw)  # fmt: skip
    d.add_argument("input", type=Path, help="a file written by `rdcodec compress`")
    d.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="file to write (a folder for a sharded safetensors checkpoint)",
    )
    d.add_argument("--format", choices=FORMATS, help="default: the output's suffix "
                   "(.safetensors, .pt/.pth, .npz, .npy), else the original's format")  # fmt: skip
    d.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")
    _add_common(d)

    i = sub.add_parser("info", help="header and per-tensor table of a compressed file")
    i.add_argument("input", type=Path)
    i.add_argument("--json", action="store_true", help="machine-readable output")
    _add_common(i)

    r = sub.add_parser("rd", help="rate-distortion table of a tensor against theory, and a plot",
                       epilog=EPILOG, formatter_class=raw)  # fmt: skip
    _add_input_options(r, output=False)
    r.add_argument("--tensor", help="tensor name (default: the largest float tensor)")
    r.add_argument("--configs", default="Z,D4,E8", help=analysis.CONFIG_HELP +
                   ", comma-separated (default Z,D4,E8)")  # fmt: skip
    r.add_argument("--rates", default="1,2,3,4,5", help="target bits per element, comma-separated")
    r.add_argument(
        "--sample",
        type=int,
        default=1 << 20,
        metavar="N",
        help="use a random sample of N elements of a larger tensor (0: all)",
    )
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--plot", type=Path, help="PNG to write (default ./<input stem>.rd.png)")
    r.add_argument("--no-plot", action="store_true")
    r.add_argument("--json", action="store_true")
    r.add_argument("-f", "--force", action="store_true", help="overwrite an existing plot")
    _add_common(r)

    b = sub.add_parser("bench", help="the quantizers side by side on one file",
                       epilog=EPILOG, formatter_class=raw)  # fmt: skip
    _add_input_options(b, output=False)
    _add_codec_options(b, default_snr=None)
    b.add_argument("--configs", help=analysis.CONFIG_HELP + ", comma-separated "
                   "(default: E8, D4, Z and every other registered quantizer)")  # fmt: skip
    b.add_argument("--json", action="store_true")
    _add_common(b)

    # the original one-array commands
    enc = sub.add_parser("encode", help="compress one .npy array to a stream (.rdc)")
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
    enc.add_argument("--debug", action="store_true")
    dec = sub.add_parser("decode", help="decompress one stream to .npy")
    dec.add_argument("input", type=Path)
    dec.add_argument("output", type=Path)
    dec.add_argument("--max-elements", type=int, default=api.DEFAULT_MAX_ELEMENTS)
    dec.add_argument("--debug", action="store_true")
    ins = sub.add_parser("inspect", help="print one stream's header as JSON")
    ins.add_argument("input", type=Path)
    ins.add_argument("--debug", action="store_true")
    return p


def _version() -> str:
    from .. import __version__

    return __version__


COMMANDS = {
    "compress": commands.compress,
    "decompress": commands.decompress,
    "info": commands.info,
    "rd": analysis.rd,
    "bench": analysis.bench,
    "encode": commands.legacy_encode,
    "decode": commands.legacy_decode,
    "inspect": commands.legacy_inspect,
}
LEGACY = ("encode", "decode", "inspect")


def main(argv=None) -> int:
    """Run ``rdcodec`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    0 success; 1 a failed operation (bad or corrupt input, an output that
    exists without ``--force``), one line on stderr naming the file and the
    problem (the traceback too with ``--debug``); 2 bad usage; 130 interrupted.
    """
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or bad usage (2)
        return exc.code if isinstance(exc.code, int) else 2
    debug = getattr(args, "debug", False)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        sys.stderr.write("rdcodec: interrupted; no output written\n")
        return 130
    except BrokenPipeError:  # `rdcodec info ... | head`: the reader left; stop quietly
        _silence_stdout()
        return 0
    except UsageError as exc:
        _report(exc, debug, f"rdcodec {args.command}: error: {exc}")
        return 2
    except (Failure, OutputExists) as exc:
        _report(exc, debug, f"rdcodec: {exc}")
        return 1
    except (CodecError, InputError) as exc:
        _report(exc, debug, f"rdcodec: {args.input}: {exc}")
        return 1
    except (ValueError, TypeError, OSError) as exc:
        if args.command in LEGACY:  # the original commands: bad arguments or data → 2
            _report(exc, debug, f"rdcodec: {exc}")
            return 2
        _report(exc, debug, f"rdcodec: {getattr(args, 'input', '')}: {exc}")
        return 1


def _silence_stdout():
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _report(exc, debug, line):
    if debug:
        traceback.print_exception(exc)
    sys.stderr.write(line.replace("\n", " ") + "\n")


if __name__ == "__main__":
    sys.exit(main())
