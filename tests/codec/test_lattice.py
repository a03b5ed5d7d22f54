"""Lattice quantizers against theory: nearest point, second moment, dither."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from codec.quantizers.lattice import LatticeQuantizer, dn_normalized_second_moment, get_lattice

LATTICES = ["Z", "D4", "E8"]
G_PUBLISHED = {"Z": 1 / 12, "D4": 0.0766032, "E8": 0.0716821}


def in_lattice(p, name):
    if name == "Z":
        return np.all(p == np.round(p))
    if name.startswith("D"):
        return np.all(p == np.round(p)) and np.round(p).sum() % 2 == 0
    # E8: all integer or all half-integer, even sum
    f = p - np.floor(p)
    return (np.all(f == 0) or np.all(f == 0.5)) and p.sum() % 2 == 0


def brute_force_nearest(t, name):
    """Exhaustive search over lattice points within the covering radius (1) per coordinate."""
    n = t.size
    if name == "Z":
        return np.floor(t + 0.5)
    cosets = [0.0] if name.startswith("D") else [0.0, 0.5]
    best, best_d = None, np.inf
    for c in cosets:
        ranges = [np.arange(np.floor(ti - c) - 1, np.floor(ti - c) + 3) + c for ti in t]
        cand = np.array(list(itertools.product(*ranges)))
        cand = cand[np.isclose((cand - c).sum(axis=1) % 2, 0)]
        d = ((cand - t) ** 2).sum(axis=1)
        k = int(np.argmin(d))
        if d[k] < best_d:
            best, best_d = cand[k], d[k]
    assert best is not None and best.size == n
    return best


coords = st.one_of(
    st.floats(-50, 50, allow_nan=False),
    st.integers(-20, 20).map(lambda k: k + 0.5),  # ties
    st.integers(-20, 20).map(lambda k: k / 4),  # E8 deep holes sit at quarter points
    st.floats(-1e-300, 1e-300),
    st.floats(-1e12, 1e12, allow_nan=False),
)


@pytest.mark.parametrize("name", ["D4", "E8"])
@given(data=st.data())
def test_nearest_point_equals_brute_force(name, data):
    lat = get_lattice(name)
    t = np.array(data.draw(st.lists(coords, min_size=lat.dim, max_size=lat.dim)))
    p = lat.nearest_point(t)
    assert in_lattice(p, name)
    b = brute_force_nearest(t, name)
    d_alg = ((p - t) ** 2).sum()
    d_bf = ((b - t) ** 2).sum()
    # Equal up to ties (and the rounding of huge coordinates).
    assert d_alg <= d_bf * (1 + 1e-12) + 1e-9 * (1 + np.abs(t).max()) ** 2 * 1e-12 + 1e-12


@given(st.lists(coords, min_size=1, max_size=16))
def test_nearest_point_z(values):
    t = np.array(values)
    p = get_lattice("Z").nearest_point(t[:, None])[:, 0]
    assert np.all(np.abs(p - t) <= 0.5)


def test_nearest_point_random_bulk():
    rng = np.random.default_rng(11)
    for name in ["D4", "E8"]:
        lat = get_lattice(name)
        t = rng.normal(scale=3, size=(200, lat.dim))
        p = lat.nearest_point(t)
        for i in range(t.shape[0]):
            b = brute_force_nearest(t[i], name)
            assert ((p[i] - t[i]) ** 2).sum() <= ((b - t[i]) ** 2).sum() + 1e-12


@pytest.mark.parametrize("name", LATTICES)
def test_normalized_second_moment(name):
    """Plain rounding of uniform data fills the Voronoi cell: MSE/V^(2/n) = G within 1%."""
    lat = get_lattice(name)
    rng = np.random.default_rng(5)
    t = rng.uniform(-40, 40, size=(400_000 // lat.dim, lat.dim))
    p = lat.nearest_point(t)
    mse = ((t - p) ** 2).mean()
    g = mse / lat.volume_scale
    # Standard error of the mean |e|^2 over 4·10^5 coordinates: <= 0.14 % (Z, the worst:
    # relative std of e^2 for a uniform e is 0.894); 0.6 % is > 4 sigma (measured <= 0.15 %).
    assert g == pytest.approx(G_PUBLISHED[name], rel=0.006)
    assert lat.G == pytest.approx(G_PUBLISHED[name], rel=1e-6)


def test_dn_second_moment_formula():
    assert dn_normalized_second_moment(2) == pytest.approx(1 / 12)
    assert dn_normalized_second_moment(3) == pytest.approx(0.0787451, abs=1e-7)
    assert dn_normalized_second_moment(4) == pytest.approx(13 / (120 * np.sqrt(2)), abs=1e-12)


def _dithered_error(name, x, step=0.37, seed=123):
    lat = get_lattice(name)
    q = LatticeQuantizer(lat, step, dither=True, seed=seed)
    return q.dequantize(q.quantize(x)) - x, lat


@pytest.mark.parametrize("name", LATTICES)
def test_dither_error_uniform_and_input_independent(name):
    n = 240_000
    rng = np.random.default_rng(9)
    lat = get_lattice(name)
    step = 0.37
    inputs = {
        "zero": np.zeros(n),
        "constant": np.full(n, 0.3),
        "gaussian": rng.standard_normal(n) * 5,
        # adversarial: lattice points and deep holes, the worst cases of plain rounding
        "lattice_points": np.repeat(step * rng.integers(-3, 3, n // lat.dim), lat.dim) * 1.0,
        "half_steps": np.full(n, step / 2),
    }
    target = lat.G * lat.volume_scale * step**2
    errs = {}
    for key, x in inputs.items():
        e, _ = _dithered_error(name, x, step)
        errs[key] = e
        # Tolerances > 4 standard errors on 240 000 coordinates (measured |dev| in brackets):
        # MSE 0.18 % s.e. (<= 0.32 %), mean 0.0006·step (<= 0.0012), correlation 0.002
        # (<= 0.004). The distribution itself is tested in test_dither_oracle.py.
        assert np.mean(e**2) == pytest.approx(target, rel=0.008), key
        assert abs(np.mean(e)) < 0.003 * step, key
        # independent of the input: no correlation with x (where x varies)
        if x.std() > 0:
            assert abs(np.corrcoef(x, e)[0, 1]) < 0.01, key
        # the error lies in the (negated) Voronoi cell of step·Λ
        blocks = (-e / step).reshape(-1, lat.dim)
        assert np.all(lat.nearest_point(blocks[:2000]) == 0), key
    # same distribution for every input: compare quantiles of the error (s.e. of the
    # difference of two quantiles <= 0.0014·step; measured <= 0.0033·step)
    qs = np.linspace(0.05, 0.95, 19)
    ref = np.quantile(errs["gaussian"], qs)
    for key, e in errs.items():
        assert np.allclose(np.quantile(e, qs), ref, atol=0.006 * step), key


def test_generator_dither_is_input_independent_where_cube_is_not():
    """For E8 a cube dither is input dependent; the generator-matrix dither is not
    (docs/theory.md, "Subtractive dither")."""
    lat = get_lattice("E8")
    n_blocks = 60_000
    rng = np.random.default_rng(1)
    for c in (0.0, 0.3):
        t = np.full((n_blocks, 8), c)
        cube = rng.uniform(-0.5, 0.5, size=t.shape)
        e_cube = lat.nearest_point(t + cube) - cube - t
        v = lat.dither(7, n_blocks)
        e_gen = lat.nearest_point(t + v) - v - t
        g_cube = (e_cube**2).mean() / lat.G
        g_gen = (e_gen**2).mean() / lat.G
        assert g_gen == pytest.approx(1.0, abs=0.01)  # s.e. 0.0012 over 60 000 blocks
        if c == 0.0:
            assert g_cube < 0.95  # docs/theory.md measured 0.935


def test_dither_reproducible_from_seed():
    lat = get_lattice("E8")
    assert np.array_equal(lat.dither(5, 100), lat.dither(5, 100))
    assert not np.array_equal(lat.dither(5, 100), lat.dither(6, 100))
    # a prefix does not depend on how many blocks were drawn
    assert np.array_equal(lat.dither(5, 1000)[:100], lat.dither(5, 100))


def test_unknown_lattice():
    with pytest.raises(ValueError, match="unknown lattice"):
        get_lattice("A7")
    with pytest.raises(TypeError):
        get_lattice(8)
    assert get_lattice("cubic") is get_lattice("Z")
    assert get_lattice("d6").dim == 6


@pytest.mark.parametrize("lattice", ["D4", "E8"])
def test_streams_of_several_chunks_in_one_call(lattice):
    """codec.encode hands to_streams a group of ceil(threads / streams per chunk) chunks:
    one chunk on a 2-thread machine (E8 has 5 streams per chunk), several on a large
    one. So the multi-chunk path is called directly: each chunk's streams equal those
    of the chunk alone, and from_streams inverts them (a mutation survivor of
    codec/_kernels/lattice.py, docs/testing.md)."""
    import codec

    chunk = 64
    x = np.random.default_rng(7).standard_normal(5 * chunk)
    qz = codec.quantize(x, lattice=lattice, step=0.3, chunk_size=chunk).quantizer
    points = qz.quantize(x, chunk)
    symbols, offsets = qz.to_streams(points, chunk)
    per = qz.streams_per_chunk
    assert offsets.size == 5 * per + 1
    for c in range(5):
        alone, off1 = qz.to_streams(points[c * chunk : (c + 1) * chunk], chunk)
        got = symbols[offsets[c * per] : offsets[(c + 1) * per]]
        np.testing.assert_array_equal(got, alone)
    np.testing.assert_array_equal(qz.from_streams(symbols, offsets, chunk, x.size), points)
