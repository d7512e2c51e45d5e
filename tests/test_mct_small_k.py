"""Small-k continuation of S(k) below 2π/L for MCT on simulated statics."""

from __future__ import annotations

import numpy as np
import pytest

from memplug.errors import InputError
from memplug.interfaces import Context
from memplug.plugins.datasets.schema import synthetic_state
from memplug.plugins.mct import dynamics, grid, kernels, steady
from memplug.plugins.mct.small_k import below_box, box_length, continue_small_k
from memplug.plugins.systems import hard_spheres as hs

K = grid.midpoint_grid(100, 40.0)  # the dataset grid
FLAGGED = below_box(K, 10.0)  # L = 10: k = 0.2, 0.6 (2π/L = 0.628)
X = np.array([0.8, 0.2])
DIAMETERS = [1.0, 0.88]


def py_mixture(phi):
    rho = phi / (np.pi / 6 * np.dot(X, np.asarray(DIAMETERS) ** 3))
    return hs.percus_yevick_mixture_S(K, phi, DIAMETERS, X), rho


def corrupt(S):
    """What a truncated g(r) transform can do below 2π/L: wrong, even indefinite values."""
    bad = S.copy()
    bad[0] = [[-0.33, 0.1], [0.1, 0.5]]
    bad[1] = 5 * bad[1]
    return bad


def test_flags_match_the_dataset_definition():
    np.testing.assert_allclose(K[FLAGGED], [0.2, 0.6])
    assert box_length(1200, 1.2) == pytest.approx(10.0)


@pytest.mark.parametrize("method, tol", [("quadratic", 0.01), ("constant", 0.06)])
def test_continuation_recovers_percus_yevick_below_box(method, tol):
    # PY c(k) is analytic and even in k, the premise of the continuation: from k = 1.0, 1.4, 1.8 the
    # quadratic fit recovers S at k = 0.2, 0.6 to 0.4 % (measured), holding c constant to ~4 %.
    S, rho = py_mixture(0.50)
    out = continue_small_k(K, corrupt(S), FLAGGED, rho, X, method=method)
    assert np.max(np.abs(out[:2] - S[:2]) / np.abs(S[:2])) < tol
    np.testing.assert_array_equal(out[2:], S[2:])  # reliable points untouched
    stacked = continue_small_k(K, np.stack([corrupt(S), S]), FLAGGED, rho, X, method=method)
    np.testing.assert_allclose(stacked[0], out, rtol=1e-12)
    np.testing.assert_allclose(stacked[1], out, rtol=1e-12)


def test_corrupted_below_box_points_do_not_change_the_glass():
    # f(k) in the glass (φ = 0.53 > φ_c ≈ 0.516 of this mixture) from exact PY statics and from
    # corrupted-then-continued statics: the continuation changes S only at k = 0.2, 0.6, and the
    # bipolar weights q·p make those points nearly irrelevant for the memory elsewhere.
    S, rho = py_mixture(0.53)
    exact = steady.nonergodicity(kernels.make_statics(K, S, rho, X), tagged=False)
    cont = steady.nonergodicity(
        kernels.make_statics(K, continue_small_k(K, corrupt(S), FLAGGED, rho, X), rho, X),
        tagged=False,
    )
    assert exact.glass and cont.glass
    ratio = lambda ne: ne.f[2:, 0, 0] / S[2:, 0, 0]  # noqa: E731
    assert np.max(np.abs(ratio(cont) - ratio(exact))) < 1e-4
    with pytest.raises(InputError, match="not positive definite"):
        kernels.make_statics(K, corrupt(S), rho, X)


def test_critical_point_from_corrupted_statics_equals_the_clean_one():
    # one-component PY (fast): φ_c with k = 0.2, 0.6 corrupted and continued equals φ_c of the exact
    # statics to the bisection tolerance (the two paths take identical decisions).
    def path(corrupted):
        def at(phi):
            S = hs.percus_yevick_S(K, phi)[:, None, None]
            if corrupted:
                S = S.copy()
                S[0], S[1] = -0.2, 3.0 * S[1]
                S = continue_small_k(K, S, FLAGGED, 6 * phi / np.pi, [1.0])
            return kernels.make_statics(K, S, 6 * phi / np.pi, [1.0])

        return at

    clean = steady.critical_point(path(False), 0.513, 0.519, xtol=2e-4, exponent=False)
    cont = steady.critical_point(path(True), 0.513, 0.519, xtol=2e-4, exponent=False)
    assert abs(cont.value - clean.value) <= 2e-4
    assert abs(clean.value - 0.515912) < 1e-3  # Franosch et al. PRE 55, 7153 (1997)


def test_context_of_a_simulated_state_is_continued():
    S, rho = py_mixture(0.50)
    ctx = Context(
        n_species=2,
        k=K,
        S=corrupt(S),
        rho=rho,
        x=X,
        T=1.0,
        dynamics="overdamped",
        extra={"N": rho * 1000.0, "state": "s1"},
    )
    st = dynamics.statics_from_context(ctx)
    assert np.max(np.abs(st.S[:2] - S[:2]) / np.abs(S[:2])) < 0.01
    with pytest.raises(InputError, match="state s1"):
        dynamics.statics_from_context(ctx, small_k="keep")
    # analytic statics (no box) are used as given
    plain = Context(n_species=2, k=K, S=S, rho=rho, x=X, T=1.0, dynamics="overdamped")
    np.testing.assert_array_equal(dynamics.statics_from_context(plain).S, S)


def test_bad_inputs_are_input_errors():
    S, rho = py_mixture(0.50)
    with pytest.raises(InputError, match="method"):
        continue_small_k(K, S, FLAGGED, rho, X, method="cubic")
    gap = np.zeros(K.size, bool)
    gap[1] = True
    with pytest.raises(InputError, match="smallest wave numbers"):
        continue_small_k(K, S, gap, rho, X)
    broken = S.copy()
    broken[3] = -broken[3]  # a reliable fit point
    with pytest.raises(InputError, match="k = 1.4"):
        continue_small_k(K, broken, FLAGGED, rho, X, where="state x")


def test_unconverged_bisection_stops_with_a_valid_bracket():
    def at(phi):
        return kernels.make_statics(K, hs.percus_yevick_S(K, phi), 6 * phi / np.pi, [1.0])

    cp = steady.critical_point(at, 0.50, 0.53, xtol=1e-9, max_iter=300, exponent=False)
    assert not cp.resolved
    assert cp.liquid < 0.515912 < cp.glass  # Franosch et al. (1997)
    with pytest.raises(InputError, match="did not converge"):
        steady.critical_point(at, 0.5159, 0.53, max_iter=5, exponent=False)


def test_table_one_regression_on_two_shipped_states():
    # LJ ρ = 1.2 bracketed by the two shipped states around T_mct: the full path over all LJ ρ = 1.2
    # states interpolates between the same two (docs/mct.md, Table I: 0.8769, measured with
    # `memplug mct critical --dataset default --potential LJ --rho 1.2`); paper Table I: 0.90.
    from memplug import data
    from memplug.plugins.mct.cli import critical_temperature

    folder = data.dataset_path("default")
    parts = [data.load_dataset(folder / f"LJ-rho1.20-T{T}.nc") for T in ("0.810", "0.900")]
    cp = critical_temperature(data.concat_states(parts), "LJ", 1.2, xtol=5e-3, exponent=False)
    assert cp.glass < cp.value < cp.liquid
    assert cp.value == pytest.approx(0.8769, abs=4e-3)  # the bracket is 5e-3 wide
    assert abs(cp.value / 0.90 - 1) < 0.10


@pytest.mark.parametrize("interpolate", ["T", "1/T"])
def test_path_interpolates_in_T_or_inverse_T(interpolate):
    from memplug import data
    from memplug.plugins.mct.cli import dataset_path_statics

    folder = data.dataset_path("default")
    ds = data.concat_states(
        [data.load_dataset(folder / f"LJ-rho1.20-T{T}.nc") for T in ("0.810", "0.900")]
    )
    T, at = dataset_path_statics(ds, "LJ", 1.2, interpolate=interpolate)
    mid = 0.5 * (T[0] + T[1]) if interpolate == "T" else 2.0 / (1 / T[0] + 1 / T[1])
    np.testing.assert_allclose(at(mid).S, 0.5 * (at(T[0]).S + at(T[1]).S), rtol=1e-12)
    assert np.all(np.linalg.eigvalsh(at(T[0]).S) > 0)  # the k = 0.2, 0.6 points are continued


def test_fit_in_inverse_T_reproduces_statics_linear_in_inverse_T():
    from memplug import data
    from memplug.plugins.mct.cli import dataset_path_statics

    Sa, rho = py_mixture(0.45)
    Sb, _ = py_mixture(0.50)
    temps = [1.0, 1.2, 1.5, 2.0, 2.5, 4.0]  # 4.0 > 3 T_min: not used by the fit

    def exact(T):  # S linear in 1/T: Sa at T = 2.5, Sb at T = 1
        w = (1 / T - 1 / 2.5) / (1 - 1 / 2.5)
        return (1 - w) * Sa + w * Sb

    states = []
    for i, T in enumerate(temps):
        st = synthetic_state("LJ", rho=rho, T=T, seed=i)
        S = exact(T)
        st["S"].values[:] = np.stack([S[:, 0, 0], S[:, 0, 1], S[:, 1, 1]])[None]
        states.append(st)
    ds = data.concat_states(states)
    T, at = dataset_path_statics(ds, "LJ", rho, interpolate="fit")
    np.testing.assert_allclose(T, temps[:5])
    np.testing.assert_allclose(at(1.7).S[2:], exact(1.7)[2:], rtol=1e-9, atol=1e-12)
    with pytest.raises(InputError, match="need 4"):
        dataset_path_statics(data.concat_states(states[:3]), "LJ", rho, interpolate="fit")
