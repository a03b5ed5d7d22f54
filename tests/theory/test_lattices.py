"""Lattice constants against their closed forms and the table in docs/theory.md."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import (
    ECSQ_HIGH_RATE_GAP_BITS,
    G_A2,
    G_CUBIC,
    G_D4,
    G_E8,
    G_LEECH,
    G_SPHERE_BOUND,
    LatticeConstants,
    dn_normalized_second_moment,
    ecdq_high_rate_redundancy,
    ecdq_redundancy_bound,
    granular_gain_db,
    lattice_constants,
    lattice_names,
    unit_ball_volume,
)

# docs/theory.md, "Lattices": name, dim, G, gain dB, 0.5*log2(2 pi e G), 0.5*log2(4 pi e G),
# each printed to the precision used there.
THEORY_TABLE = [
    ("Z", 1, 0.0833333, 0.0, 0.2546, 0.7546),
    ("A2", 2, 0.0801875, 0.167, 0.2269, 0.7269),
    ("D4", 4, 0.0766032, 0.366, 0.1939, 0.6939),
    ("E8", 8, 0.0716821, 0.654, 0.1460, 0.6460),
    ("Leech", 24, 0.0657710, 1.028, 0.0839, 0.5839),
    ("sphere", None, 0.0585498, 1.533, 0.0, 0.5),
]
CLOSED_FORMS = {
    "Z": 1 / 12,
    "A2": 5 / (36 * math.sqrt(3)),
    "D4": 13 / (120 * math.sqrt(2)),
    "E8": 929 / 12960,
    "Leech": 0.0657710,
    "sphere": 1 / (2 * math.pi * math.e),
}


def half_ulp_of_print(value):
    """Half a unit in the last printed decimal (the table's rounding)."""
    text = repr(value)
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10.0**-decimals + 1e-12


@pytest.mark.parametrize("row", THEORY_TABLE, ids=[r[0] for r in THEORY_TABLE])
def test_table_in_theory_md(row):
    name, dim, g, gain, hi_rate, any_rate = row
    c = lattice_constants(name)
    assert c.dimension == dim
    closed = CLOSED_FORMS[name]
    assert c.G == c.normalized_second_moment
    assert abs(c.G - closed) < 1e-7
    assert abs(c.granular_gain_db - 10 * math.log10((1 / 12) / closed)) < 1e-7
    assert abs(c.ecdq_high_rate_redundancy - 0.5 * math.log2(2 * math.pi * math.e * closed)) < 1e-7
    assert abs(c.ecdq_redundancy_bound - 0.5 * math.log2(4 * math.pi * math.e * closed)) < 1e-7
    # ... and the numbers as printed in docs/theory.md.
    for got, printed in [
        (c.G, g),
        (c.granular_gain_db, gain),
        (c.ecdq_high_rate_redundancy, hi_rate),
        (c.ecdq_redundancy_bound, any_rate),
    ]:
        assert abs(got - printed) <= half_ulp_of_print(printed), (name, got, printed)
    assert ecdq_high_rate_redundancy(c.G) == pytest.approx(c.ecdq_high_rate_redundancy)
    assert ecdq_redundancy_bound(c.G) == pytest.approx(c.ecdq_redundancy_bound)


def test_module_constants_equal_closed_forms():
    assert G_CUBIC == 1 / 12
    assert abs(G_A2 - 5 / (36 * math.sqrt(3))) < 1e-15
    assert abs(G_D4 - 13 / (120 * math.sqrt(2))) < 1e-15
    assert abs(G_E8 - 929 / 12960) < 1e-15
    assert G_LEECH == 0.0657710
    assert abs(G_SPHERE_BOUND - 1 / (2 * math.pi * math.e)) < 1e-15
    # The ECSQ high-rate gap is the cube's ECDQ high-rate redundancy: 1.53 dB.
    assert abs(ECSQ_HIGH_RATE_GAP_BITS - ecdq_high_rate_redundancy(G_CUBIC)) < 1e-12
    assert abs(granular_gain_db(G_SPHERE_BOUND) - 10 * math.log10(math.pi * math.e / 6)) < 1e-12


def test_dn_closed_form_known_values():
    assert abs(dn_normalized_second_moment(4) - 13 / (120 * math.sqrt(2))) < 1e-15
    assert abs(dn_normalized_second_moment(2) - 1 / 12) < 1e-15  # D2 = rotated, scaled Z^2
    assert abs(dn_normalized_second_moment(3) - 0.0787451) < 1e-7  # fcc, SPLAG table 2.3
    assert lattice_constants("D4").G == dn_normalized_second_moment(4)


@given(n=st.integers(2, 200))
def test_dn_between_sphere_bound_and_cube(n):
    g = dn_normalized_second_moment(n)
    assert G_SPHERE_BOUND < g <= 1 / 12 + 1e-15


def nearest_dn(x):
    """Conway & Sloane (1982): round; if the sum is odd, re-round the worst coordinate."""
    f = np.round(x)
    odd = (f.sum(axis=1) % 2) != 0
    err = x - f
    worst = np.argmax(np.abs(err), axis=1)
    rows = np.nonzero(odd)[0]
    cols = worst[odd]
    f[rows, cols] += np.where(err[rows, cols] > 0, 1.0, -1.0)
    return f


@pytest.mark.parametrize("n", [3, 4, 5, 8])
def test_dn_closed_form_against_monte_carlo(n):
    # 2Z^n is a sublattice of D_n, so x uniform on [0, 2)^n gives a uniform error
    # over the Voronoi cell; G = E|e|^2 / (n * det^(2/n)), det(D_n) = 2.
    rng = np.random.default_rng(n)
    x = rng.uniform(0.0, 2.0, size=(200_000, n))
    sq = np.sum((x - nearest_dn(x)) ** 2, axis=1) / n / 2.0 ** (2.0 / n)
    se = sq.std() / math.sqrt(sq.size)
    assert abs(sq.mean() - dn_normalized_second_moment(n)) < 4 * se


def test_e8_constant_against_monte_carlo():
    rng = np.random.default_rng(8)
    x = rng.uniform(0.0, 2.0, size=(200_000, 8))
    a = nearest_dn(x)
    b = nearest_dn(x - 0.5) + 0.5
    da = np.sum((x - a) ** 2, axis=1)
    db = np.sum((x - b) ** 2, axis=1)
    sq = np.minimum(da, db) / 8.0  # det(E8) = 1
    assert abs(sq.mean() - G_E8) < 4 * sq.std() / math.sqrt(sq.size)


def test_a2_constant_against_monte_carlo():
    basis = np.array([[1.0, 0.0], [0.5, math.sqrt(3) / 2]])
    rng = np.random.default_rng(2)
    coeffs = rng.uniform(0.0, 1.0, size=(200_000, 2))
    x = coeffs @ basis
    shifts = np.array([(i, j) for i in (-1, 0, 1, 2) for j in (-1, 0, 1, 2)], dtype=float)
    candidates = shifts @ basis
    d2 = np.min(np.sum((x[:, None, :] - candidates[None]) ** 2, axis=2), axis=1)
    volume = abs(np.linalg.det(basis))
    assert volume == pytest.approx(lattice_constants("A2").volume)
    sq = d2 / 2.0 / volume
    assert abs(sq.mean() - G_A2) < 4 * sq.std() / math.sqrt(sq.size)


def test_generator_volumes():
    d4 = np.array([[2, 0, 0, 0], [-1, 1, 0, 0], [0, -1, 1, 0], [0, 0, -1, 1]], float)
    assert abs(np.linalg.det(d4)) == pytest.approx(lattice_constants("D4").volume)
    e8 = np.zeros((8, 8))
    e8[0, 0] = 2.0
    for i in range(1, 7):
        e8[i, i - 1], e8[i, i] = -1.0, 1.0
    e8[7] = 0.5
    assert abs(np.linalg.det(e8)) == pytest.approx(lattice_constants("E8").volume)


def test_kissing_numbers_and_densities():
    assert lattice_constants("Z8").kissing_number == 16
    assert lattice_constants("A2").kissing_number == 6
    assert lattice_constants("D4").kissing_number == 24
    assert lattice_constants("D8").kissing_number == 112
    assert lattice_constants("E8").kissing_number == 240
    assert lattice_constants("Leech").kissing_number == 196560
    assert lattice_constants("A2").packing_density == pytest.approx(0.9068996821)
    assert lattice_constants("D3").packing_density == pytest.approx(math.pi / math.sqrt(18))
    assert lattice_constants("D4").packing_density == pytest.approx(math.pi**2 / 16)
    assert lattice_constants("E8").packing_density == pytest.approx(0.2536695079)
    assert lattice_constants("Leech").packing_density == pytest.approx(0.0019295743)
    assert lattice_constants("Z").packing_density == pytest.approx(1.0)
    assert unit_ball_volume(3) == pytest.approx(4 * math.pi / 3)
    sphere = lattice_constants("sphere")
    assert sphere.kissing_number is None and sphere.packing_density is None


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("z", "Z"),
        ("cubic", "Z"),
        ("Cubic", "Z"),
        ("z8", "Z8"),
        ("hexagonal", "A2"),
        ("d4", "D4"),
        ("D16", "D16"),
        ("e8", "E8"),
        ("L24", "Leech"),
        ("lambda24", "Leech"),
        (" Leech ", "Leech"),
        ("sphere_bound", "sphere"),
    ],
)
def test_lookup_aliases(alias, canonical):
    c = lattice_constants(alias)
    assert isinstance(c, LatticeConstants) and c.name == canonical


def test_lookup_errors():
    with pytest.raises(ValueError, match="unknown lattice 'E7'"):
        lattice_constants("E7")
    with pytest.raises(ValueError, match="D1"):
        lattice_constants("D1")
    with pytest.raises(ValueError, match="n >= 1"):
        lattice_constants("Z0")
    with pytest.raises(TypeError, match="str"):
        lattice_constants(8)
    with pytest.raises(ValueError, match=">= 2"):
        dn_normalized_second_moment(1)
    with pytest.raises(TypeError):
        dn_normalized_second_moment(4.0)
    with pytest.raises(ValueError):
        granular_gain_db(0.0)
    with pytest.raises(ValueError):
        unit_ball_volume(0)
    assert "leech" in lattice_names()


def test_theory_md_prints_the_table_the_tests_check():
    """docs/theory.md's lattice table holds exactly the numbers of THEORY_TABLE."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "theory.md").read_text(encoding="utf-8")
    rows = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("| ") and "|---" not in line and not line.startswith("| lattice")
    ]
    printed = {r[0].split()[0]: r for r in rows if len(r) == 6}
    names = {"Z": "Z^n", "A2": "A2", "D4": "D4", "E8": "E8", "Leech": "Leech", "sphere": "sphere"}
    for name, _, g, gain, hi_rate, any_rate in THEORY_TABLE:
        row = printed[names[name]]
        assert float(row[2].split()[-1]) == g, name
        assert float(row[3]) == gain and float(row[4]) == hi_rate and float(row[5]) == any_rate
