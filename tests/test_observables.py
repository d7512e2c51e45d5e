"""Observables against independent implementations: freud (S(k), MSD) and direct double sums.

freud evaluates S(k) in single precision (float32 positions, k vectors and phases), so agreement with
freud is limited to ~1e-5; the 1e-10 agreement is checked against a float64 double sum over pairs,
S^{αβ}(k) = N⁻¹ Σ_{i∈α} Σ_{j∈β} cos(k·(r_i − r_j)), which shares no code with ours.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memplug.constants import K_EDGES, K_GRID
from memplug.plugins.md import observables as ob


def _config(N=120, L=5.0, seed=0):
    rng = np.random.default_rng(seed)
    # float32-representable positions, so freud (float32) sees exactly our configuration
    x = rng.uniform(-L / 2, L / 2, (N, 3)).astype(np.float32).astype(np.float64)
    species = np.r_[np.zeros(int(0.8 * N), int), np.ones(N - int(0.8 * N), int)]
    return x, species, L


def _octant_vectors(L, edges):
    """The k vectors freud's StaticStructureFactorDirect uses: n_x, n_y, n_z ≥ 0 (incl. 0 for k_min = 0)."""
    m = int(math.ceil(edges[-1] * L / (2 * math.pi)))
    r = np.arange(0, m + 1)
    n = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    kmod = 2 * math.pi / L * np.linalg.norm(n, axis=1)
    b = np.searchsorted(edges, kmod, side="right") - 1
    keep = (b >= 0) & (b < len(edges) - 1) & (kmod <= edges[-1])
    n, b = n[keep], b[keep]
    count = np.bincount(b, minlength=len(edges) - 1)
    return ob.WaveVectors(n=n, k=2 * math.pi / L * n, bin=b, count=count, L=L)


def test_partial_structure_factor_matches_freud_and_double_sum():
    freud = pytest.importorskip("freud")
    x, species, L = _config()
    edges = np.linspace(0.0, 9.0, 10)
    vec = _octant_vectors(L, edges)
    ours = ob.structure_factor(x, species, L, vec)
    box = freud.box.Box.cube(L)
    for p, (a, b) in enumerate(ob.PAIR_INDICES):
        sf = freud.diffraction.StaticStructureFactorDirect(
            bins=len(edges) - 1, k_max=edges[-1], k_min=0
        )
        sf.compute((box, x[species == a]), query_points=x[species == b], N_total=x.shape[0])
        np.testing.assert_allclose(ours[p], sf.S_k, rtol=2e-5, atol=2e-5)
    # float64 double sum over pairs, vector by vector
    N = x.shape[0]
    for p, (a, b) in enumerate(ob.PAIR_INDICES):
        xa, xb = x[species == a], x[species == b]
        d = xa[:, None, :] - xb[None, :, :]
        per_vector = np.array([np.cos(d @ k).sum() / N for k in vec.k])
        ref = np.bincount(vec.bin, per_vector, minlength=edges.size - 1) / vec.count
        np.testing.assert_allclose(ours[p], ref, rtol=1e-10, atol=1e-10)


def test_structure_factor_half_space_equals_full_space():
    x, species, L = _config(seed=1)
    half = ob.structure_factor(
        x, species, L, ob.lattice_wave_vectors(L, K_EDGES[:30], max_per_bin=None)
    )
    full = ob.structure_factor(
        x, species, L, ob.lattice_wave_vectors(L, K_EDGES[:30], max_per_bin=None, half_space=False)
    )
    np.testing.assert_allclose(half, full, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_ideal_gas_structure_factor_is_x_delta():
    # uncorrelated positions: S^{αβ}(k) = x_α δ_αβ at every k ≠ 0 (within sampling noise)
    x, species, L = _config(N=1000, L=10.0, seed=2)
    grid = ob.structure_factor_on_grid(x, species, L, max_per_bin=200, gr_frames=1)
    ok = ~grid.from_gr & (grid.k > 5)
    np.testing.assert_allclose(grid.S[:, ok].mean(axis=1), [0.8, 0.0, 0.2], atol=0.02)
    assert grid.below_box.tolist()[:2] == [True, True] and not grid.below_box[2]  # 2π/10 = 0.628
    # below 2π/L: the continuation is the mean of the first three in-box points (ideal gas: x_α δ_αβ)
    np.testing.assert_allclose(grid.S[:, 0], grid.S[:, 2:5].mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(grid.S[:, :2], [[0.8, 0.8], [0.0, 0.0], [0.2, 0.2]], atol=0.06)


def test_continuation_below_box_keeps_S_positive_definite():
    # an indefinite value at a flagged point (as the g(r) transform can give) is replaced by a mean of
    # positive-definite matrices, which is positive definite
    k = K_GRID[:8]
    below = k < 2 * np.pi / 10.0
    rng = np.random.default_rng(5)
    S = np.empty((3, k.size))
    S[0], S[2] = rng.uniform(0.02, 0.05, k.size), rng.uniform(0.08, 0.12, k.size)
    S[1] = -0.5 * np.sqrt(S[0] * S[2])
    S[:, 0] = [0.4, -0.09, 0.01]  # det < 0
    out = ob.continue_below_box(S, below)
    assert np.all(out[0] * out[2] - out[1] ** 2 > 0) and np.all(out[0] > 0)
    np.testing.assert_array_equal(out[:, ~below], S[:, ~below])
    with pytest.raises(ValueError, match="below_box"):
        ob.structure_factor_on_grid(np.zeros((1, 4, 3)), np.zeros(4, int), 10.0, below_box="fft")


def test_msd_matches_freud_window_mode():
    freud = pytest.importorskip("freud")
    rng = np.random.default_rng(3)
    F, N, L = 40, 50, 5.0
    steps = rng.normal(scale=0.1, size=(F, N, 3))
    steps[0] = rng.uniform(0, L, (N, 3))
    # float32-representable, as freud converts positions to float32
    traj = np.cumsum(steps, axis=0).astype(np.float32).astype(np.float64)
    species = np.zeros(N, int)
    lags = np.arange(1, F)
    _, msd, n = ob.self_dynamics(traj, species, np.arange(F), np.arange(F), lags, 1.0, n_species=1)
    ref = freud.msd.MSD(freud.box.Box.cube(L), mode="window").compute(traj).msd
    # freud works in float32 (positions and FFT): ~3e-5 relative agreement is its precision
    np.testing.assert_allclose(msd[0], ref[1:], rtol=1e-4)
    # float64 brute force of the same window average
    direct = [np.mean(np.sum((traj[m:] - traj[:-m]) ** 2, axis=-1)) for m in lags]
    np.testing.assert_allclose(msd[0], direct, rtol=1e-12)
    assert n.tolist() == list(range(F - 1, 0, -1))  # all origins used at every lag


def test_self_intermediate_scattering_directions_and_direct_sum():
    rng = np.random.default_rng(4)
    F, N, L = 6, 80, 5.0
    traj = np.cumsum(rng.normal(scale=0.15, size=(F, N, 3)), axis=0)
    species = np.r_[np.zeros(64, int), np.ones(16, int)]
    k = 2 * math.pi / L * 3  # a lattice shell
    lags = np.arange(1, F)
    fs_lat, _, _ = ob.self_dynamics(
        traj,
        species,
        np.arange(F),
        np.arange(F),
        lags,
        k,
        directions="lattice",
        L=L,
        n_directions=1000,
    )
    # direct sum over the same vectors: ⟨cos k·Δr⟩
    vecs = ob._shell_vectors(L, k, 1000)
    for j, lag in enumerate(lags):
        d = traj[lag:] - traj[:-lag]
        per = np.cos(np.einsum("oni,qi->onq", d, vecs)).mean(axis=(0, 2))
        for a in (0, 1):
            assert fs_lat[a, 0, j] == pytest.approx(per[species == a].mean(), abs=1e-12)
    fs_sph, _, _ = ob.self_dynamics(traj, species, np.arange(F), np.arange(F), lags, k)
    np.testing.assert_allclose(fs_sph, fs_lat, atol=0.05)  # full sphere vs lattice directions


def test_radial_distribution_of_ideal_gas_and_gr_route():
    x, species, L = _config(N=1500, L=10.0, seed=5)
    r, g = ob.radial_distribution(x, species, L, dr=0.1)
    assert np.all(np.abs(g[:, r > 1.0].mean(axis=1) - 1.0) < 0.03)
    S = ob.structure_factor_from_gr(
        r, np.ones_like(g), 1.5, np.array([0.8, 0.2]), np.array([0.2, 0.6])
    )
    np.testing.assert_allclose(S, [[0.8, 0.8], [0, 0], [0.2, 0.2]])  # g = 1 -> ideal gas


@settings(max_examples=40, deadline=None)
@given(l_min=st.integers(1, 20), extra=st.integers(0, 10_000), n=st.integers(10, 160))
def test_quasi_log_lags(l_min, extra, n):
    l_max = l_min + n - 1 + extra
    lags = ob.quasi_log_lags(l_min, l_max, n)
    assert lags.size == n and lags[0] == l_min and lags[-1] == l_max
    assert np.all(np.diff(lags) >= 1)


def test_k_peak_parabola():
    k = K_GRID
    s = 1.0 + 2.0 * np.exp(-((k - 7.23) ** 2) / 0.5)
    assert ob.k_peak(k, s) == pytest.approx(7.23, abs=0.03)


def test_tau_alpha():
    t = np.geomspace(0.01, 100, 200)
    assert ob.tau_alpha(t, np.exp(-t / 3.0)) == pytest.approx(3.0, rel=1e-3)
    assert math.isnan(ob.tau_alpha(t, np.ones_like(t)))
