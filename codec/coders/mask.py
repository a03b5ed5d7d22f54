r"""Pruning masks: context-modelled binary coding of which weights a tensor keeps.

An i.i.d. code of a mask that keeps ``K`` of ``N`` weights costs
``N·H(K/N)`` bits, which at the densities of pruned networks is most of the
compressed model (LeNet-5 at 2.6 %: 0.17 bit per weight, two thirds of the
archive). Magnitude pruning is not i.i.d.: whole output rows and input
columns keep more or fewer weights, and neighbouring inputs are pruned
together. :func:`encode_mask` codes each tensor's mask, viewed as ``rows ×
cols`` (first axis by the rest), with an adaptive binary model conditioned on
the kept fraction seen so far in the bit's row and column and on the bit to
its left (the layout is in docs/format.md §9 and
:mod:`codec._kernels.mask`); a tensor where that model does not pay for its
learning uses one adaptive context instead.
"""

from __future__ import annotations

import math

import numpy as np

from .._kernels import mask as mask_kernels
from .base import raise_for_status

__all__ = ["encode_mask", "decode_mask", "mask_matrix_shape"]


def mask_matrix_shape(shape) -> tuple[int, int]:
    """The ``(rows, cols)`` view of a tensor's mask: first axis by the product of the rest
    (``(1, n)`` for a vector, ``(1, 1)`` for a scalar).

    Examples
    --------
    >>> mask_matrix_shape((50, 20, 5, 5)), mask_matrix_shape((10,))
    ((50, 500), (1, 10))
    """
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"a shape has non-negative sizes, got {shape}")
    if len(shape) <= 1:
        return 1, math.prod(shape)
    return shape[0], math.prod(shape[1:])


def _matrices(shapes) -> tuple[np.ndarray, np.ndarray]:
    dims = [mask_matrix_shape(s) for s in shapes]
    rows = np.array([r for r, _ in dims], np.int64).reshape(-1)
    cols = np.array([c for _, c in dims], np.int64).reshape(-1)
    return rows, cols


def encode_mask(mask, shapes) -> bytes:
    r"""Code the keep-mask of one or more tensors.

    Parameters
    ----------
    mask : array_like of bool
        The tensors' masks flattened in C order and concatenated (``True`` =
        kept), ``sum(prod(shape))`` elements.
    shapes : sequence of tuple
        The tensors' shapes, in order; each is coded as ``rows × cols``
        (:func:`mask_matrix_shape`).

    Returns
    -------
    bytes
        Self-delimiting given ``shapes``: a version byte, each tensor's kept
        count and model, one range-coded body.

    Notes
    -----
    The code length is close to the ideal adaptive code length
    :math:`-\sum_t \log_2 \hat p_{c_t}(b_t)` of the chosen model (Krichevsky–
    Trofimov estimates per context :math:`c_t`), plus at most 7 bytes of
    flush; bits the kept count already determines cost nothing. On an i.i.d.
    mask it stays within about :math:`\tfrac12 \log_2 N` bits of ``N·H(p)``
    per tensor; on a magnitude-pruned LeNet-5 at 2.6 % it is 6 % shorter,
    on LeNet-300-100 12 % (its first layer sees image pixels).

    Examples
    --------
    >>> import numpy as np
    >>> m = np.random.default_rng(0).random(600) < 0.1
    >>> blob = encode_mask(m, [(20, 25), (100,)])
    >>> bool((decode_mask(blob, [(20, 25), (100,)]) == m).all())
    True
    """
    rows, cols = _matrices(shapes)
    bits = np.ascontiguousarray(np.asarray(mask).reshape(-1), dtype=bool).view(np.uint8)
    if bits.size != int((rows * cols).sum()):
        raise ValueError(
            f"mask has {bits.size} elements but the shapes hold {int((rows * cols).sum())}"
        )
    models = np.empty(rows.size, np.int64)
    offset = 0
    for m in range(rows.size):
        costs = [
            mask_kernels.model_cost_bits(bits, offset, rows[m], cols[m], model)
            for model in (mask_kernels.MODEL_ORDER0, mask_kernels.MODEL_ROW_COLUMN)
        ]
        models[m] = int(np.argmin(costs))  # ties: the simpler order-0 model
        offset += int(rows[m] * cols[m])
    buf = np.empty(mask_kernels.bound_bytes(rows.size, bits.size), np.uint8)
    end = mask_kernels.encode_into(bits, rows, cols, models, buf, 0)
    return buf[:end].tobytes()


def decode_mask(data, shapes) -> np.ndarray:
    """Decode what :func:`encode_mask` wrote for these ``shapes``: a flat bool array.

    Raises
    ------
    codec.errors.TruncatedStreamError, codec.errors.CorruptStreamError
        Bytes that end early, carry a bad header or kept count, or do not end
        where the masks do.
    """
    rows, cols = _matrices(shapes)
    buf = np.frombuffer(bytes(data), np.uint8)
    out = np.empty(int((rows * cols).sum()), np.uint8)
    status = mask_kernels.decode_into(buf, 0, buf.size, rows, cols, out)
    raise_for_status(status, "pruning mask")
    return out.view(bool)
