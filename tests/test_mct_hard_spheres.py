"""Percus-Yevick hard spheres: one component (Wertheim) and mixtures (Baxter factorisation)."""

from __future__ import annotations

import numpy as np
import pytest

from memplug.errors import InputError
from memplug.plugins.mct.grid import midpoint_grid
from memplug.plugins.systems import hard_spheres as hs


def test_compressibility_limit():
    # PY: S(0) = (1 − φ)⁴ / (1 + 2φ)² (Wertheim 1963, Thiele 1963)
    for phi in (0.2, 0.4, 0.5159):
        S0 = hs.percus_yevick_S(np.array([1e-4]), phi)[0]
        assert S0 == pytest.approx((1 - phi) ** 4 / (1 + 2 * phi) ** 2, rel=1e-6)


def test_peak_position_and_height():
    # PY at φ = 0.515912 on the 100-point grid: main peak at kd = 7.0, S ≈ 3.49 (analytic formula)
    k = midpoint_grid(100, 40.0)
    S = hs.percus_yevick_S(k, 0.515912)
    assert k[np.argmax(S)] == pytest.approx(7.0)
    assert S.max() == pytest.approx(3.486, abs=2e-3)


def test_mixture_of_equal_spheres_is_the_one_component_fluid():
    k = midpoint_grid(100, 40.0)
    S1 = hs.percus_yevick_S(k, 0.5)
    Sm = hs.percus_yevick_mixture_S(k, 0.5, [1.0, 1.0], [0.3, 0.7])
    np.testing.assert_allclose(Sm.sum(axis=(1, 2)), S1, rtol=1e-11)
    # S^{αβ} = x_α δ_αβ + x_α x_β (S − 1) for identical species
    x = np.array([0.3, 0.7])
    np.testing.assert_allclose(
        Sm, np.diag(x)[None] + np.outer(x, x)[None] * (S1 - 1)[:, None, None], atol=1e-11
    )


def test_mixture_hard_core_condition():
    # h_ij(r) = −1 inside the core r < σ_ij (the PY solution is exact there); inverse transform
    # h(r) = (2π² r)⁻¹ ∫ k ĥ(k) sin(kr) dk with a Gaussian taper, checked well inside the core.
    d, x, phi = np.array([1.0, 0.6]), np.array([0.4, 0.6]), 0.4
    k = np.arange(1, 20001) * 0.005
    S = hs.percus_yevick_mixture_S(k, phi, d, x)
    rho = hs.mixture_density(phi, d, x)
    h = (S - np.diag(x)[None]) / (rho * np.outer(x, x))[None]
    taper = np.exp(-((k / 25) ** 2))
    for i, j in [(0, 0), (0, 1), (1, 1)]:
        sij = 0.5 * (d[i] + d[j])
        for r in (0.3 * sij, 0.5 * sij):
            hr = np.sum(k * h[:, i, j] * np.sin(k * r) * taper) * 0.005 / (2 * np.pi**2 * r)
            assert hr == pytest.approx(-1.0, abs=1e-3)


def test_system_context_and_validation():
    sys1 = hs.HardSpheres()
    ctx = sys1.context(phi=0.5)
    assert ctx.S.shape == (100, 1, 1) and ctx.k_peak == pytest.approx(7.0)
    assert ctx.rho == pytest.approx(6 * 0.5 / np.pi)
    sys2 = hs.HardSpheres(diameters=(1.0, 0.8), x=(0.5, 0.5))
    ctx2 = sys2.context(phi=0.5, T=2.0)
    assert ctx2.S.shape == (100, 2, 2) and ctx2.n_species == 2
    np.testing.assert_allclose(ctx2.omega2, np.diag([ctx2.k_peak**2 * 2.0] * 2))
    with pytest.raises(InputError, match="phi"):
        sys1.context(phi=0.8)
    with pytest.raises(InputError, match="phi"):
        sys1.context()
    with pytest.raises(InputError, match="x has"):
        hs.HardSpheres(diameters=(1.0, 0.8), x=(1.0,))
    with pytest.raises(InputError, match="no option"):
        hs.HardSpheres(colour="red")
