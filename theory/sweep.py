"""Rate–distortion sweeps of the codec, the Bjøntegaard delta rate, and one JSON schema.

A *sweep* encodes and decodes one array with several codec configurations at
several target rates and measures what the real bytes cost:

>>> import numpy as np
>>> from theory import rd_sweep
>>> def encode(x, *, rate, seed=0):              # a toy codec for the example
...     step = 2.0 ** (2.0 - rate)
...     return np.round(x / step).astype(np.int8).tobytes() + np.float64(step).tobytes()
>>> def decode(blob):
...     step = np.frombuffer(blob[-8:], np.float64)[0]
...     return np.frombuffer(blob[:-8], np.int8).astype(np.float64) * step
>>> x = np.random.default_rng(0).normal(size=1000)
>>> records = rd_sweep(x, {"toy": {}}, [2.0, 4.0], encode=encode, decode=decode)
>>> [r["target_rate"] for r in records], records[0]["bits_per_element"]
([2.0, 4.0], 8.064)

JSON schema (one for every results file, after CompressAI's)::

    {"name": str, "description": str,
     "results": {"bits_per_element": [...], "mse": [...], "snr_db": [...],
                 "name": [...], "config": [...], "target_rate": [...], ...}}

``results`` is column-oriented: one equally long list per record field.
Non-finite floats are written as ``null`` (strict JSON) and read back as NaN.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy.interpolate import PchipInterpolator

from ._validation import positive_scalar, real_array
from .sources import EmpiricalSource, GaussianSource, Source

__all__ = [
    "RD_RECORD_FIELDS",
    "bd_rate",
    "curve_from_records",
    "parse_rd_json",
    "rd_sweep",
    "read_rd_json",
    "records_to_json",
]

RD_RECORD_FIELDS = (
    "name",
    "config",
    "target_rate",
    "bits_per_element",
    "num_bytes",
    "mse",
    "snr_db",
    "reference",
    "reference_rate",
    "gap_bits",
    "seconds",
)
"""The keys of every record returned by :func:`rd_sweep`, in order."""

_FLOAT_FIELDS = (
    "target_rate",
    "bits_per_element",
    "mse",
    "snr_db",
    "reference_rate",
    "gap_bits",
    "seconds",
)
_RESERVED_KEYS = ("rate", "step", "distortion", "seed")


def _config_name(config: Mapping) -> str:
    if not config:
        return "default"
    return ",".join(f"{k}={config[k]}" for k in sorted(config))


def _normalise_configs(configs) -> list[tuple[str, dict]]:
    if isinstance(configs, Mapping):
        items = list(configs.items())
    elif isinstance(configs, Sequence) and not isinstance(configs, (str, bytes)):
        items = []
        for cfg in configs:
            if not isinstance(cfg, Mapping):
                raise TypeError(
                    f"each config must be a dict of encode keyword arguments, got "
                    f"{type(cfg).__name__}"
                )
            items.append((_config_name(cfg), cfg))
    else:
        raise TypeError(
            "configs must be a dict {name: config} or a list of config dicts, got "
            f"{type(configs).__name__}"
        )
    if not items:
        raise ValueError("configs must hold at least one configuration")
    out = []
    names = set()
    for name, cfg in items:
        if not isinstance(name, str):
            raise TypeError(f"config names must be str, got {type(name).__name__}")
        if not isinstance(cfg, Mapping):
            raise TypeError(
                f"config {name!r} must be a dict of encode keyword arguments, got "
                f"{type(cfg).__name__}"
            )
        if name in names:
            raise ValueError(f"duplicate config name {name!r}; give each config a unique name")
        names.add(name)
        clash = [k for k in _RESERVED_KEYS if k in cfg]
        if clash:
            raise ValueError(
                f"config {name!r} sets {clash}: rd_sweep sets rate= from `rates` and "
                "seed= from its own seed argument; remove them from the config"
            )
        out.append((name, dict(cfg)))
    return out


def _reference(x: np.ndarray, source):
    """Return (label, function mse -> reference rate in bits)."""
    if source is None:
        source = EmpiricalSource(x)
    if not isinstance(source, Source):
        raise TypeError(
            f"source must be a theory Source (e.g. GaussianSource(variance)) or None, "
            f"got {type(source).__name__}"
        )
    if isinstance(source, GaussianSource):
        return "gaussian_rate_distortion", source.rate_distortion
    try:
        source.differential_entropy_bits  # noqa: B018 - computed (and cached) here
    except ValueError:
        # An atom in the data (e.g. pruned zeros): no finite SLB.
        return "none", lambda mse: math.nan
    return "shannon_lower_bound", source.shannon_lower_bound


def rd_sweep(
    x,
    configs,
    rates,
    *,
    seed=0,
    encode: Callable | None = None,
    decode: Callable | None = None,
    source: Source | None = None,
) -> list[dict]:
    """Encode and decode ``x`` over a grid of codec configurations and target rates.

    For each configuration (a dict of keyword arguments of ``codec.encode``)
    and each target rate ``r``, calls ``encode(x, **config, rate=r,
    seed=seed)`` then ``decode(blob)``, and records

    .. math::

        \\text{bits\\_per\\_element} = \\frac{8\\,|\\text{blob}|}{N}, \\quad
        \\text{mse} = \\frac1N \\sum (\\hat x - x)^2, \\quad
        \\text{snr\\_db} = 10 \\log_{10} \\frac{\\operatorname{Var}(x)}{\\text{mse}},

    and the gap ``bits_per_element - reference_rate`` to a rate–distortion
    reference at the measured MSE: the exact Gaussian :math:`R(D)` when
    ``source`` is a :class:`~theory.GaussianSource`, otherwise the Shannon
    lower bound of ``source`` (default: an :class:`~theory.EmpiricalSource`
    of ``x``, whose entropy is estimated; if ``x`` has an atom, e.g. many
    exact zeros, the reference is ``"none"`` and the gap NaN). The SNR uses
    the variance, so 6.02 dB per bit is the Gaussian :math:`R(D)` slope.

    Parameters
    ----------
    x : array_like
        Real, finite, non-empty array (any shape; passed to ``encode`` as a
        float array of its own dtype if floating, else float64).
    configs : dict or list of dict
        ``{name: config}``, or a list of configs named by their sorted
        ``key=value`` pairs. A config must not set ``rate``, ``step``,
        ``distortion`` or ``seed``.
    rates : sequence of float
        Target rates in bits per element, each ``> 0``.
    seed : int, optional
        Passed to every ``encode`` call (dither seed); default 0.
    encode, decode : callable, optional
        Default to ``codec.encode`` and ``codec.decode`` (imported here, on
        first use); inject others to test or to compare peers.
    source : Source, optional
        The source model for the reference rate (see above).

    Returns
    -------
    list of dict
        One record per (config, rate), configs in the given order, rates in
        the given order; keys :data:`RD_RECORD_FIELDS`. ``seconds`` is the
        wall time of encode + decode; everything else is deterministic given
        a deterministic codec.

    Raises
    ------
    TypeError
        If ``x`` is not real, ``configs`` has the wrong shape, ``seed`` is not
        an integer, ``source`` is not a :class:`~theory.Source`, or
        ``encode`` does not return bytes.
    ValueError
        If ``x`` is empty or not finite, ``rates`` is empty or has a value
        ``<= 0``, a config is invalid, or ``decode`` returns a different
        shape.

    Examples
    --------
    See the module docstring.
    """
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(f"x must be a real array, got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError("x must hold at least one element")
    ref64 = real_array(arr, "x")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = ref64
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    rate_list = [positive_scalar(r, "rate") for r in _as_list(rates, "rates")]
    items = _normalise_configs(configs)
    if encode is None or decode is None:
        import codec  # lazy: theory does not depend on the codec at import time

        encode = codec.encode if encode is None else encode
        decode = codec.decode if decode is None else decode
    label, reference = _reference(ref64, source)
    variance = float(np.var(ref64))
    records = []
    for name, cfg in items:
        for r in rate_list:
            t0 = time.perf_counter()
            blob = encode(arr, **cfg, rate=r, seed=int(seed))
            x_hat = decode(blob)
            seconds = time.perf_counter() - t0
            if not isinstance(blob, (bytes, bytearray, memoryview)):
                raise TypeError(f"encode must return bytes, got {type(blob).__name__}")
            x_hat = np.asarray(x_hat)
            if x_hat.shape != arr.shape:
                raise ValueError(
                    f"decode returned shape {x_hat.shape} for input shape {arr.shape} "
                    f"(config {name!r}, rate {r})"
                )
            num_bytes = len(bytes(blob))
            bpe = 8.0 * num_bytes / arr.size
            mse = float(np.mean((x_hat.astype(np.float64) - ref64) ** 2))
            snr = _snr_db(variance, mse)
            ref_rate = float(reference(mse)) if mse > 0 else math.inf
            records.append(
                {
                    "name": name,
                    "config": dict(cfg),
                    "target_rate": r,
                    "bits_per_element": bpe,
                    "num_bytes": num_bytes,
                    "mse": mse,
                    "snr_db": snr,
                    "reference": label,
                    "reference_rate": ref_rate,
                    "gap_bits": bpe - ref_rate,
                    "seconds": seconds,
                }
            )
    return records


def _as_list(values, name: str) -> list:
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        if isinstance(values, numbers.Real):
            return [values]
        raise TypeError(f"{name} must be a sequence of numbers, got {type(values).__name__}")
    out = list(np.asarray(values).ravel()) if isinstance(values, np.ndarray) else list(values)
    if not out:
        raise ValueError(f"{name} must not be empty")
    return out


def _snr_db(variance: float, mse: float) -> float:
    if mse == 0:
        return math.inf
    if variance == 0:
        return -math.inf
    return 10.0 * math.log10(variance / mse)


def curve_from_records(records, name=None) -> tuple[np.ndarray, np.ndarray]:
    """The (bits per element, SNR dB) points of one configuration, sorted by rate.

    Parameters
    ----------
    records : list of dict
        Records from :func:`rd_sweep` or :func:`parse_rd_json`.
    name : str, optional
        Keep only records with this ``name`` (required if several names occur).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Bits per element (increasing) and SNR in dB.

    Raises
    ------
    ValueError
        If no record matches, or ``name`` is omitted and several names occur.

    Examples
    --------
    >>> from theory import curve_from_records
    >>> recs = [{"name": "a", "bits_per_element": 2.0, "snr_db": 12.0},
    ...         {"name": "a", "bits_per_element": 1.0, "snr_db": 6.0}]
    >>> [v.tolist() for v in curve_from_records(recs)]
    [[1.0, 2.0], [6.0, 12.0]]
    """
    names = {rec["name"] for rec in records}
    if name is None:
        if len(names) > 1:
            raise ValueError(f"records hold several configs {sorted(names)}; pass name=")
        chosen = list(records)
    else:
        chosen = [rec for rec in records if rec["name"] == name]
    if not chosen:
        raise ValueError(f"no record named {name!r}; names are {sorted(names)}")
    bits = np.array([rec["bits_per_element"] for rec in chosen], dtype=np.float64)
    snr = np.array([rec["snr_db"] for rec in chosen], dtype=np.float64)
    order = np.argsort(bits, kind="stable")
    return bits[order], snr[order]


def _curve_arrays(curve, label: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(curve, Mapping):
        try:
            bits, snr = curve["bits_per_element"], curve["snr_db"]
        except KeyError:
            raise ValueError(f"{label} must have keys 'bits_per_element' and 'snr_db'") from None
    elif isinstance(curve, Sequence) and len(curve) == 2:
        bits, snr = curve
    else:
        raise TypeError(
            f"{label} must be a (bits, snr_db) pair or a mapping with 'bits_per_element' "
            f"and 'snr_db', got {type(curve).__name__}"
        )
    bits = real_array(bits, f"{label} bits", ndim=1)
    snr = real_array(snr, f"{label} snr_db", ndim=1)
    if bits.size != snr.size:
        raise ValueError(f"{label}: bits and snr_db differ in length ({bits.size}, {snr.size})")
    if bits.size < 2:
        raise ValueError(f"{label} needs at least 2 points, got {bits.size}")
    if np.any(bits <= 0):
        raise ValueError(f"{label}: rates must be > 0 to take their logarithm")
    order = np.argsort(snr, kind="stable")
    snr, bits = snr[order], bits[order]
    if np.any(np.diff(snr) <= 0):
        raise ValueError(f"{label}: snr_db values must be distinct (one rate per quality)")
    return np.log(bits), snr


def bd_rate(curve_a, curve_b) -> float:
    """Bjøntegaard delta rate of ``curve_b`` against ``curve_a``, in percent.

    Both curves are interpolated as log-rate against SNR with a piecewise
    cubic Hermite (PCHIP, monotone, no overshoot) interpolant — the variant
    now used in place of Bjøntegaard's original cubic polynomial fit — and
    the log-rate difference is averaged over the overlapping SNR interval
    :math:`[S_{lo}, S_{hi}]`:

    .. math::

        \\Delta = \\frac{1}{S_{hi} - S_{lo}} \\int_{S_{lo}}^{S_{hi}}
                  \\left[\\ln R_b(S) - \\ln R_a(S)\\right] dS, \\qquad
        \\text{BD-rate} = 100\\,(e^{\\Delta} - 1)\\ \\%.

    Convention: **negative means curve b needs fewer bits than curve a for the
    same quality** (b is better); e.g. -10 means 10 % fewer bits on average.

    Parameters
    ----------
    curve_a, curve_b : tuple or mapping
        ``(bits_per_element, snr_db)`` arrays, or a mapping with keys
        ``"bits_per_element"`` and ``"snr_db"`` (e.g. the ``results`` of a
        JSON file). At least 2 points each, rates ``> 0``, distinct SNRs.

    Returns
    -------
    float
        The average rate difference in percent.

    Raises
    ------
    TypeError
        If a curve has the wrong form.
    ValueError
        If a curve has fewer than 2 points, a rate ``<= 0``, repeated SNRs,
        non-finite values, or the SNR ranges do not overlap.

    References
    ----------
    G. Bjøntegaard, "Calculation of average PSNR differences between
    RD-curves", ITU-T SG16/Q6 VCEG-M33, Austin, 2001.

    Examples
    --------
    A codec that needs exactly half the bits at every SNR:

    >>> from theory import bd_rate
    >>> a = ([1.0, 2.0, 4.0], [10.0, 16.0, 22.0])
    >>> b = ([0.5, 1.0, 2.0], [10.0, 16.0, 22.0])
    >>> round(bd_rate(a, b), 6)
    -50.0
    """
    log_ra, snr_a = _curve_arrays(curve_a, "curve_a")
    log_rb, snr_b = _curve_arrays(curve_b, "curve_b")
    lo = max(snr_a[0], snr_b[0])
    hi = min(snr_a[-1], snr_b[-1])
    if not hi > lo:
        raise ValueError(
            f"the SNR ranges do not overlap (a: [{snr_a[0]}, {snr_a[-1]}], "
            f"b: [{snr_b[0]}, {snr_b[-1]}]); measure both curves over a common range"
        )
    int_a = PchipInterpolator(snr_a, log_ra).integrate(lo, hi)
    int_b = PchipInterpolator(snr_b, log_rb).integrate(lo, hi)
    delta = (int_b - int_a) / (hi - lo)
    return float(100.0 * math.expm1(delta))


def _json_value(value, where: str):
    """Convert a record value to plain JSON types (NaN/inf -> None)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, Mapping):
        return {str(k): _json_value(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_value(v, where) for v in value]
    raise TypeError(
        f"cannot write {where} of type {type(value).__name__} to JSON; use plain "
        "numbers, strings, lists and dicts in configs"
    )


def records_to_json(records, name, description, *, path=None) -> str:
    """Serialise sweep records to the one JSON results schema.

    .. code-block:: text

        {"name": name, "description": description,
         "results": {field: [value of each record, ...], ...}}

    Columns follow :data:`RD_RECORD_FIELDS` first, then any extra keys in
    first-seen order. Non-finite floats become ``null`` (strict JSON).

    Parameters
    ----------
    records : list of dict
        Records, e.g. from :func:`rd_sweep`; all with the same keys.
    name : str
        Short identifier of the result set (e.g. ``"resnet32-e8"``).
    description : str
        One or more sentences on what was measured.
    path : str or os.PathLike, optional
        If given, the JSON is also written there (UTF-8). Nothing is written
        otherwise.

    Returns
    -------
    str
        The JSON text.

    Raises
    ------
    TypeError
        If ``name``/``description`` are not strings, a record is not a dict,
        or a value cannot be represented in JSON.
    ValueError
        If the records do not all have the same keys.

    Examples
    --------
    >>> from theory import parse_rd_json, records_to_json
    >>> text = records_to_json([{"name": "z", "bits_per_element": 1.0, "mse": 0.25,
    ...                          "snr_db": 6.02}], "demo", "one point")
    >>> parse_rd_json(text)["results"]["mse"]
    [0.25]
    """
    if not isinstance(name, str) or not isinstance(description, str):
        raise TypeError("name and description must be str")
    records = list(records)
    keys: list[str] = []
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            raise TypeError(f"record {i} must be a dict, got {type(rec).__name__}")
        for k in rec:
            if k not in keys:
                keys.append(k)
    ordered = [k for k in RD_RECORD_FIELDS if k in keys] + [
        k for k in keys if k not in RD_RECORD_FIELDS
    ]
    for i, rec in enumerate(records):
        if set(rec) != set(keys):
            raise ValueError(
                f"record {i} has keys {sorted(rec)}, expected {sorted(keys)}; all records "
                "must have the same fields"
            )
    results = {
        k: [_json_value(rec[k], f"record {i} {k}") for i, rec in enumerate(records)]
        for k in ordered
    }
    doc = {"name": name, "description": description, "results": results}
    text = json.dumps(doc, indent=1, allow_nan=False)
    if path is not None:
        with open(os.fspath(path), "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return text


def parse_rd_json(text) -> dict:
    """Parse and validate a JSON results document (the inverse of :func:`records_to_json`).

    Parameters
    ----------
    text : str or bytes
        The JSON text.

    Returns
    -------
    dict
        ``{"name": str, "description": str, "results": {field: list},
        "records": list of dict}`` where ``records`` re-assembles one dict
        per point; ``null`` in a float column (:data:`RD_RECORD_FIELDS`
        floats) becomes NaN.

    Raises
    ------
    TypeError
        If ``text`` is not str/bytes.
    ValueError
        If it is not JSON, or not of the schema: missing ``name``,
        ``description`` or ``results``, a column that is not a list, or
        columns of different lengths.

    Examples
    --------
    >>> from theory import parse_rd_json
    >>> doc = parse_rd_json('{"name": "n", "description": "d", '
    ...                     '"results": {"bits_per_element": [1.0], "snr_db": [null]}}')
    >>> doc["records"]
    [{'bits_per_element': 1.0, 'snr_db': nan}]
    """
    if not isinstance(text, (str, bytes, bytearray)):
        raise TypeError(f"text must be str or bytes, got {type(text).__name__}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("a results document must be a JSON object")
    for key, kind in (("name", str), ("description", str), ("results", dict)):
        if not isinstance(doc.get(key), kind):
            raise ValueError(f"a results document needs a {kind.__name__} field {key!r}")
    results = doc["results"]
    lengths = set()
    for key, col in results.items():
        if not isinstance(col, list):
            raise ValueError(f"results[{key!r}] must be a list")
        lengths.add(len(col))
    if len(lengths) > 1:
        raise ValueError(f"results columns differ in length: {sorted(lengths)}")
    for key in _FLOAT_FIELDS:
        if key in results:
            results[key] = [math.nan if v is None else v for v in results[key]]
    n = lengths.pop() if lengths else 0
    records = [{k: results[k][i] for k in results} for i in range(n)]
    return {
        "name": doc["name"],
        "description": doc["description"],
        "results": results,
        "records": records,
    }


def read_rd_json(path) -> dict:
    """Read a JSON results file; see :func:`parse_rd_json`.

    Parameters
    ----------
    path : str or os.PathLike
        File written by :func:`records_to_json` (or by hand in its schema).

    Returns
    -------
    dict
        As :func:`parse_rd_json`.

    Raises
    ------
    OSError
        If the file cannot be read.
    ValueError
        If it is not a valid results document.

    Examples
    --------
    >>> import os, tempfile
    >>> from theory import read_rd_json, records_to_json
    >>> path = os.path.join(tempfile.mkdtemp(), "rd.json")
    >>> _ = records_to_json([{"bits_per_element": 2.0}], "n", "d", path=path)
    >>> read_rd_json(path)["records"]
    [{'bits_per_element': 2.0}]
    """
    with open(os.fspath(path), encoding="utf-8") as fh:
        return parse_rd_json(fh.read())
