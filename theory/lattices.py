"""Constants of the lattices used as vector quantizers.

For a lattice :math:`\\Lambda \\subset \\mathbb R^n` with Voronoi cell
:math:`V` of volume :math:`|V|`, the normalised second moment is

.. math:: G(\\Lambda) = \\frac{1}{n}\\,
          \\frac{\\int_V \\lVert x \\rVert^2 \\, dx}{|V|^{1 + 2/n}},

a scale-free number; a quantizer with cell volume :math:`|V|` has mean
squared error :math:`G |V|^{2/n}` per dimension (exactly, with subtractive
dither). Lower is better; the cube gives :math:`1/12`, and no lattice in any
dimension beats the sphere bound :math:`1/(2\\pi e)` (its :math:`n \\to \\infty`
limit).

Sources for the values
----------------------
- :math:`\\mathbb Z^n`: :math:`1/12`; :math:`A_2`: :math:`5/(36\\sqrt3)`;
  :math:`E_8`: :math:`929/12960`; :math:`\\Lambda_{24}`: 0.0657710 (a
  numerical value, not a closed form) — J. H. Conway and N. J. A. Sloane,
  *Sphere Packings, Lattices and Groups* (SPLAG), 3rd ed., Springer 1999,
  chapter 2 table 2.3 and chapter 21; Conway & Sloane, "Voronoi regions of
  lattices, second moments of polytopes, and quantization", IEEE Trans.
  Inf. Theory 28(2):211–226, 1982.
- :math:`D_n`, :math:`n \\ge 2`: the closed form

  .. math:: G(D_n) = 2^{-2/n}\\left(\\frac{1}{12} + \\frac{1}{2n(n+1)}\\right)

  (SPLAG ch. 21, and Conway & Sloane 1982). It is derived exactly as
  follows, which is how this module's tests check it: take :math:`x` uniform
  in a unit cube cell of :math:`\\mathbb Z^n`, :math:`u = x - \\mathrm{round}(x)`
  uniform on :math:`[-\\tfrac12, \\tfrac12]^n`. With probability 1/2 the
  rounded point has even coordinate sum and lies in :math:`D_n` (error
  :math:`\\lVert u\\rVert^2`); otherwise the nearest point of :math:`D_n`
  re-rounds the coordinate of largest :math:`|u_i| = M` the other way, which
  adds :math:`(1-M)^2 - M^2 = 1 - 2M`. Since :math:`E[M] = \\tfrac{n}{2(n+1)}`,
  :math:`E\\lVert e\\rVert^2 = \\tfrac{n}{12} + \\tfrac12(1 - \\tfrac{n}{n+1})
  = \\tfrac{n}{12} + \\tfrac{1}{2(n+1)}`; divide by :math:`n` and by
  :math:`\\det(D_n)^{2/n} = 2^{2/n}`. It gives :math:`G(D_2) = 1/12`
  (:math:`D_2` is a rotated, scaled :math:`\\mathbb Z^2`),
  :math:`G(D_3) = 0.0787451` (the fcc lattice, as tabulated) and
  :math:`G(D_4) = 13/(120\\sqrt2)`.

Kissing numbers: :math:`2n`, 6, :math:`2n(n-1)`, 240, 196560. Packing
densities :math:`\\Delta = V_n \\rho^n / \\det`, with :math:`V_n` the unit-ball
volume and :math:`\\rho` the packing radius (SPLAG ch. 1, table 1.2).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ._validation import positive_int, positive_scalar

__all__ = [
    "G_A2",
    "G_CUBIC",
    "G_D4",
    "G_E8",
    "G_LEECH",
    "G_SPHERE_BOUND",
    "LatticeConstants",
    "dn_normalized_second_moment",
    "granular_gain_db",
    "lattice_constants",
    "lattice_names",
    "unit_ball_volume",
]

G_CUBIC = 1.0 / 12.0
"""Normalised second moment of :math:`\\mathbb Z^n` (any :math:`n`): 1/12."""

G_A2 = 5.0 / (36.0 * math.sqrt(3.0))
"""Normalised second moment of the hexagonal lattice :math:`A_2`: :math:`5/(36\\sqrt3)`."""

G_D4 = 13.0 / (120.0 * math.sqrt(2.0))
"""Normalised second moment of :math:`D_4`: :math:`13/(120\\sqrt2)`."""

G_E8 = 929.0 / 12960.0
"""Normalised second moment of :math:`E_8`: 929/12960."""

G_LEECH = 0.0657710
"""Normalised second moment of the Leech lattice :math:`\\Lambda_{24}` (numerical, SPLAG)."""

G_SPHERE_BOUND = 1.0 / (2.0 * math.pi * math.e)
"""The sphere bound :math:`1/(2\\pi e)`: the :math:`n \\to \\infty` limit, beaten by no lattice."""


def unit_ball_volume(dimension) -> float:
    """Volume of the unit ball in :math:`\\mathbb R^n`.

    .. math:: V_n = \\frac{\\pi^{n/2}}{\\Gamma(n/2 + 1)}

    Parameters
    ----------
    dimension : int
        :math:`n \\ge 1`.

    Returns
    -------
    float
        :math:`V_n`.

    Raises
    ------
    TypeError
        If ``dimension`` is not an integer.
    ValueError
        If ``dimension < 1``.

    Examples
    --------
    >>> import math
    >>> from theory import unit_ball_volume
    >>> unit_ball_volume(2) == math.pi
    True
    """
    n = positive_int(dimension, "dimension")
    return math.exp(0.5 * n * math.log(math.pi) - math.lgamma(0.5 * n + 1.0))


def dn_normalized_second_moment(n) -> float:
    """Normalised second moment of the checkerboard lattice :math:`D_n`.

    .. math:: G(D_n) = 2^{-2/n}\\left(\\frac{1}{12} + \\frac{1}{2n(n+1)}\\right)

    (derivation in the module docstring; SPLAG ch. 21).

    Parameters
    ----------
    n : int
        Dimension, ``n >= 2``.

    Returns
    -------
    float
        :math:`G(D_n)`.

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n < 2``.

    Examples
    --------
    >>> import math
    >>> from theory import dn_normalized_second_moment
    >>> math.isclose(dn_normalized_second_moment(4), 13 / (120 * math.sqrt(2)))
    True
    """
    n = positive_int(n, "n", minimum=2)
    return 2.0 ** (-2.0 / n) * (1.0 / 12.0 + 1.0 / (2.0 * n * (n + 1)))


def granular_gain_db(normalized_second_moment) -> float:
    """Granular gain of a quantizer over the cube (scalar) quantizer, in dB.

    .. math:: \\gamma = 10 \\log_{10} \\frac{1/12}{G}

    The MSE saved at equal cell volume (rate); at most
    :math:`10\\log_{10}(2\\pi e/12) = 1.533` dB.

    Parameters
    ----------
    normalized_second_moment : float
        :math:`G > 0`.

    Returns
    -------
    float
        Gain in dB (0 for :math:`G = 1/12`).

    Raises
    ------
    TypeError, ValueError
        If ``normalized_second_moment`` is not a finite positive real number.

    Examples
    --------
    >>> from theory import G_E8, granular_gain_db
    >>> round(granular_gain_db(G_E8), 3)
    0.654
    """
    g = positive_scalar(normalized_second_moment, "normalized_second_moment")
    return 10.0 * math.log10((1.0 / 12.0) / g)


@dataclass(frozen=True)
class LatticeConstants:
    """Constants of one lattice (or of the sphere bound), per its standard generator.

    Attributes
    ----------
    name : str
        Canonical name: ``"Z"``, ``"Z8"``, ``"A2"``, ``"D4"``, ``"E8"``,
        ``"Leech"``, ``"sphere"``.
    dimension : int or None
        :math:`n`; ``None`` for the sphere bound (the :math:`n \\to \\infty` limit).
    normalized_second_moment : float
        :math:`G` (see the module docstring).
    volume : float or None
        Fundamental-cell volume :math:`|\\det B|` of the standard generator:
        1 for :math:`\\mathbb Z^n`, :math:`\\sqrt3/2` for :math:`A_2` (basis
        :math:`(1,0), (\\tfrac12, \\tfrac{\\sqrt3}2)`), 2 for :math:`D_n`
        (integer vectors of even sum), 1 for :math:`E_8`
        (:math:`D_8 \\cup D_8 + \\tfrac12\\mathbf 1`) and for the Leech lattice
        (unimodular scaling, minimal norm 4).
    kissing_number : int or None
        Number of nearest neighbours.
    packing_density : float or None
        Fraction of space covered by balls of the packing radius.
    description : str
        One line saying what the lattice is.
    """

    name: str
    dimension: int | None
    normalized_second_moment: float
    volume: float | None
    kissing_number: int | None
    packing_density: float | None
    description: str

    @property
    def G(self) -> float:
        """Alias of :attr:`normalized_second_moment`."""
        return self.normalized_second_moment

    @property
    def granular_gain_db(self) -> float:
        """:math:`10\\log_{10}((1/12)/G)` dB; see :func:`theory.granular_gain_db`."""
        return granular_gain_db(self.normalized_second_moment)

    @property
    def ecdq_high_rate_redundancy(self) -> float:
        """:math:`\\tfrac12\\log_2(2\\pi e G)` bits/dimension: ECDQ gap to R(D) at high rate."""
        return 0.5 * math.log2(2.0 * math.pi * math.e * self.normalized_second_moment)

    @property
    def ecdq_redundancy_bound(self) -> float:
        """:math:`\\tfrac12\\log_2(4\\pi e G)` bits/dimension (ECDQ gap bound at any rate)."""
        return 0.5 * math.log2(4.0 * math.pi * math.e * self.normalized_second_moment)


def _cubic(n: int) -> LatticeConstants:
    return LatticeConstants(
        name="Z" if n == 1 else f"Z{n}",
        dimension=n,
        normalized_second_moment=G_CUBIC,
        volume=1.0,
        kissing_number=2 * n,
        packing_density=unit_ball_volume(n) * 0.5**n,
        description=f"cubic lattice Z^{n} (uniform scalar quantizer per coordinate)",
    )


def _checkerboard(n: int) -> LatticeConstants:
    return LatticeConstants(
        name=f"D{n}",
        dimension=n,
        normalized_second_moment=dn_normalized_second_moment(n),
        volume=2.0,
        kissing_number=2 * n * (n - 1),
        packing_density=unit_ball_volume(n) * (1.0 / math.sqrt(2.0)) ** n / 2.0,
        description=f"checkerboard lattice D{n}: integer vectors with even coordinate sum",
    )


_A2 = LatticeConstants(
    name="A2",
    dimension=2,
    normalized_second_moment=G_A2,
    volume=math.sqrt(3.0) / 2.0,
    kissing_number=6,
    packing_density=math.pi / (2.0 * math.sqrt(3.0)),
    description="hexagonal lattice A2, basis (1, 0), (1/2, sqrt(3)/2)",
)
_E8 = LatticeConstants(
    name="E8",
    dimension=8,
    normalized_second_moment=G_E8,
    volume=1.0,
    kissing_number=240,
    packing_density=math.pi**4 / 384.0,
    description="Gosset lattice E8 = D8 union (D8 + 1/2)",
)
_LEECH = LatticeConstants(
    name="Leech",
    dimension=24,
    normalized_second_moment=G_LEECH,
    volume=1.0,
    kissing_number=196560,
    packing_density=math.pi**12 / math.factorial(12),
    description="Leech lattice Lambda24 (unimodular, minimal norm 4); G is numerical",
)
_SPHERE = LatticeConstants(
    name="sphere",
    dimension=None,
    normalized_second_moment=G_SPHERE_BOUND,
    volume=None,
    kissing_number=None,
    packing_density=None,
    description="sphere bound 1/(2 pi e): the n -> infinity limit, not a lattice",
)

_FIXED = {
    "z": lambda: _cubic(1),
    "cubic": lambda: _cubic(1),
    "a2": lambda: _A2,
    "hexagonal": lambda: _A2,
    "e8": lambda: _E8,
    "leech": lambda: _LEECH,
    "l24": lambda: _LEECH,
    "lambda24": lambda: _LEECH,
    "sphere": lambda: _SPHERE,
    "sphere_bound": lambda: _SPHERE,
}


def lattice_names() -> tuple[str, ...]:
    """The names :func:`lattice_constants` accepts, besides the ``"Zn"``/``"Dn"`` families.

    Returns
    -------
    tuple of str
        Lower-case fixed names (lookup is case-insensitive).

    Examples
    --------
    >>> from theory import lattice_names
    >>> "e8" in lattice_names()
    True
    """
    return tuple(_FIXED)


def lattice_constants(name: str) -> LatticeConstants:
    """Look up the constants of a lattice by name (case-insensitive).

    Accepted names: ``"Z"``/``"cubic"`` (dimension 1), ``"Zn"`` such as
    ``"Z8"``, ``"A2"``/``"hexagonal"``, ``"Dn"`` for any :math:`n \\ge 2`
    (``"D4"``, ``"D8"``, ...), ``"E8"``, ``"Leech"``/``"L24"``/``"Lambda24"``
    and ``"sphere"``/``"sphere_bound"``. The quantities derived from
    :math:`G` are properties of the result:

    .. math::

        \\gamma = 10\\log_{10}\\frac{1/12}{G}\\ \\mathrm{dB}, \\quad
        \\tfrac12\\log_2(2\\pi e G), \\quad \\tfrac12\\log_2(4\\pi e G)\\ \\text{bits}.

    Parameters
    ----------
    name : str
        The lattice name.

    Returns
    -------
    LatticeConstants
        Its dimension, :math:`G`, generator volume, kissing number and
        packing density.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If the name is unknown (the message lists the valid ones), or a
        ``"Dn"`` with :math:`n < 2` or ``"Zn"`` with :math:`n < 1`.

    References
    ----------
    Conway & Sloane, SPLAG (1999), chapters 1, 2 and 21.

    Examples
    --------
    >>> from theory import lattice_constants
    >>> e8 = lattice_constants("E8")
    >>> e8.dimension, e8.kissing_number, round(e8.G, 7), round(e8.granular_gain_db, 3)
    (8, 240, 0.0716821, 0.654)
    >>> round(lattice_constants("D8").G, 7)
    0.0759143
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    key = name.strip().lower()
    if key in _FIXED:
        return _FIXED[key]()
    match = re.fullmatch(r"([zd])(\d+)", key)
    if match:
        family, n = match.group(1), int(match.group(2))
        if family == "z":
            if n < 1:
                raise ValueError(f"Zn needs n >= 1, got {name!r}")
            return _cubic(n)
        if n < 2:
            raise ValueError(f"Dn needs n >= 2, got {name!r} (D1 = 2Z: use 'Z')")
        return _checkerboard(n)
    raise ValueError(
        f"unknown lattice {name!r}; use one of {', '.join(_FIXED)}, 'Zn' (e.g. 'Z8') "
        "or 'Dn' (e.g. 'D4', 'D8')"
    )
