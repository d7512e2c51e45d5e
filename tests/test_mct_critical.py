"""MCT steady state: hard-sphere critical point, exponent parameter, identical-halves mixture."""

from __future__ import annotations

import numpy as np
import pytest

from memplug.errors import InputError
from memplug.plugins.mct import grid, kernels, steady
from memplug.plugins.systems import hard_spheres as hs

K = grid.midpoint_grid(100, 40.0)  # N_k = 100 on (0, 40], midpoints
PHI_C = 0.515912  # Franosch, Fuchs, Götze, Mayr & Singh, PRE 55, 7153 (1997), PY, this grid
LAMBDA = 0.735  # same reference: exponent parameter of PY hard spheres


def one_component(phi):
    return kernels.make_statics(K, hs.percus_yevick_S(K, phi), 6 * phi / np.pi, [1.0])


def halves(phi):
    S = hs.percus_yevick_mixture_S(K, phi, [1.0, 1.0], [0.5, 0.5])
    return kernels.make_statics(K, S, 6 * phi / np.pi, [0.5, 0.5])


@pytest.fixture(scope="module")
def critical():
    return steady.critical_point(one_component, 0.51, 0.52, xtol=2e-5)


def test_schematic_f2_exponent_parameter():
    # F2 model m = 4 f² at its critical point f = 1/2 has λ = 1/2 (Götze 1984)
    lam, ev, _ = steady.exponent_parameter(
        lambda F: 4.0 * F * F, np.ones((1, 1, 1)), np.full((1, 1, 1), 0.5)
    )
    assert lam == pytest.approx(0.5, abs=1e-12)
    assert ev == pytest.approx(1.0, abs=1e-12)


def test_hard_sphere_critical_packing_fraction(critical):
    assert abs(critical.value - PHI_C) < 1e-3
    assert critical.glass - critical.liquid <= 2e-5
    assert critical.eigenvalue == pytest.approx(1.0, abs=0.01)  # marginal stability at φ_c


def test_hard_sphere_exponent_parameter(critical):
    assert abs(critical.lam - LAMBDA) < 0.02


def test_glass_above_liquid_below_and_f_peaks_with_S(critical):
    above = steady.nonergodicity(one_component(critical.value + 1e-3))
    below = steady.nonergodicity(one_component(critical.value - 1e-3))
    assert above.glass and above.converged
    assert not below.glass and np.max(np.abs(below.f)) < 1e-8
    S = one_component(critical.value).S[:, 0, 0]
    f = above.f[:, 0, 0]
    assert abs(K[np.argmax(f)] - K[np.argmax(S)]) <= 0.4 + 1e-12  # within one grid step
    # at φ_c (glass end of the bracket): collective f_c/S at the peak ≈ 0.85 (the maximum of the
    # PY hard-sphere f_c(q) curve, Franosch et al. 1997, Fig. 2); tagged f_s^c(7.0) ≈ 0.76, the
    # Gaussian value exp(−(q r_s)²) for the localization length r_s ≈ 0.0745 d of Fuchs, Götze &
    # Mayr, PRE 58, 3384 (1998). De Gennes narrowing: at k_peak the collective plateau is the higher.
    ip = np.argmax(S)
    fc = critical.f_c[:, 0, 0] / critical.statics.S[:, 0, 0]
    assert fc[ip] == pytest.approx(0.85, abs=0.03)
    assert critical.fs_c[ip, 0] == pytest.approx(0.76, abs=0.02)
    assert critical.fs_c[ip, 0] < fc[ip]
    # tagged: decreasing in k (Gaussian-like) from the second grid point on; at k_0 = Δ/2 the
    # midpoint bipolar rule sees only p = q pairs and underestimates m_s (a known artefact of
    # this discretisation, documented in docs/mct.md)
    assert np.all(np.diff(critical.fs_c[1:, 0]) < 0)


def test_identical_halves_reproduce_one_component(critical):
    for phi in (critical.glass + 1e-3, critical.liquid - 1e-3):
        one = steady.nonergodicity(one_component(phi))
        two = steady.nonergodicity(halves(phi))
        assert one.glass == two.glass
        np.testing.assert_allclose(two.f.sum(axis=(1, 2)), one.f[:, 0, 0], atol=1e-9)
        np.testing.assert_allclose(two.fs, np.repeat(one.fs, 2, axis=1), atol=1e-9)
        # the concentration mode of identical species is the tagged particle: f₁₁ − f₁₂ = x f_s
        np.testing.assert_allclose((two.f[:, 0, 0] - two.f[:, 0, 1]) / 0.5, one.fs[:, 0], atol=1e-9)


def test_bracket_errors():
    with pytest.raises(InputError, match="both ends .* glasses"):
        steady.critical_point(one_component, 0.53, 0.55, xtol=1e-3, exponent=False)
    with pytest.raises(InputError, match="lo < hi"):
        steady.critical_point(one_component, 0.52, 0.51)
