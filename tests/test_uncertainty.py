"""How much a fitted kernel can be trusted (memplug.plugins.fitting.uncertainty): pinned bounds, the
Laplace error bars and their calibration against known kernels, undetermined directions, derived
quantities of a closure's channels, flags, the bootstrap check, and the result files.

Targets are made by known kernels on a small grid (N = 4 solver blocks, 60 log-spaced times,
Kob-Andersen-like statics with Ω² = k_peak² T = 52.6, Newtonian dynamics), so the truth is known.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memplug.errors import InputError
from memplug.fit import FitOutcome, FitProblem
from memplug.fit_results import load_result, result_summary
from memplug.interfaces import Closure, Parameter, ParameterSpace
from memplug.kernels import ExplicitKernel, ExponentialSumKernel
from memplug.model import default_context
from memplug.plugins.fitting.bootstrap import bootstrap, refit
from memplug.plugins.fitting.plotting import save_result
from memplug.plugins.fitting.uncertainty import (
    kernel_flags,
    laplace,
    pinned_parameters,
    result_fields,
)
from memplug.registry import get_registry
from memplug.targets import Target

N = 4
T = np.geomspace(0.01, 10.0, 60)
T_M = np.geomspace(0.01, 10.0, 200)
CTX = dataclasses.replace(default_context(), dynamics="newtonian")
#: the exponential closure's truth: M^{αα} = A_α exp(−r_α t)
A_TRUE, R_TRUE = np.array([200.0, 150.0]), np.array([5.0, 8.0])
RHO, SIGMA = 0.8, 2e-3


def exponential_problem(F=None, closure=None) -> FitProblem:
    closure = closure or get_registry().create("closures", "exponential")
    F = np.ones((len(T), 2)) if F is None else F
    return FitProblem(closure, Target("synthetic", T, F, CTX), N=N)


def ar1_noise(rng, shape, rho=RHO, sigma=SIGMA) -> np.ndarray:
    """Stationary AR(1) noise along the first (lag) axis: e_i = ρ e_{i−1} + √(1 − ρ²) σ ξ_i."""
    e = np.empty(shape)
    e[0] = rng.normal(0.0, sigma, shape[1:])
    for i in range(1, shape[0]):
        e[i] = rho * e[i - 1] + math.sqrt(1 - rho**2) * rng.normal(0.0, sigma, shape[1:])
    return e


@pytest.fixture(scope="module")
def truth():
    prob = exponential_problem()
    x = prob.vector({"amplitude": A_TRUE, "rate": R_TRUE})
    F, M, status = prob.outputs(x, T, T_M)
    assert status == 0
    return x, F, M


# --------------------------------------------------------------------------------------------
# pinned parameters
# --------------------------------------------------------------------------------------------


def test_pinned_parameters_at_and_near_each_bound():
    """Positions by hand: log (ln v − ln lo)/(ln hi − ln lo) with lo = 1e-8, hi = 1e12 (a range
    of 20 decades, 1 % = 0.2 decades); logit/identity (v − lo)/(hi − lo)."""
    space = ParameterSpace([
        Parameter("k", 1.0, (3,), 1e-8, 1e12, "log"),
        Parameter("b", 1.0, (3,), 0.05, 4.0, "logit"),
        Parameter("c", 0.0, (3,), -1.0, 1.0, "identity"),
        Parameter("tau", [1.0, 10.0, 100.0], (3,), 1e-2, 1e4, "ordered"),
        Parameter("q", 1.0, (2,), 1e-3, 1e3, "softplus"),  # unknown, lo > 0: the log rule
        Parameter("w", 0.0, (2,), -1.0, 1.0, "softplus"),  # unknown, lo <= 0: the linear rule
        Parameter("amp", 1.0, (3,), 0.0, 1e4, "log"),  # ln 0 = −∞: the lower bound never pins
        Parameter("free", 0.0, (2,), -math.inf, math.inf, "identity"),
        Parameter("pos", 1.0, (3,), 0.0, math.inf, "identity"),
    ])  # fmt: skip
    values = {
        "k": [1.2e-8, 10**11.9, 1e11],  # positions 0.004 (lower), 0.9975 (upper), 0.95 (free)
        "b": [0.05 + 0.005 * 3.95, 4.0 - 0.02 * 3.95, 2.0],  # 0.005 (lower), 0.98 (free), 0.49
        "c": [-0.999, 0.985, 1.0],  # 0.0005 (lower), 0.9925 (upper), 1 (upper)
        "tau": [1.1e-2, 1.0, 9.5e3],  # log: 0.0014 (lower), 0.333, 0.9957 (upper)
        "q": [1.05e-3, 1.0],  # log: 0.0035 (lower), 0.5
        "w": [-0.995, 0.5],  # linear: 0.0025 (lower), 0.75; on a log rule −0.995 would be NaN
        "amp": [1e-30, 9.95e3, 5e3],  # never (ln 0 = −∞), raw range 0.995 (upper), 0.5
        "free": [-1e300, 1e300],  # infinite bounds never pin
        "pos": [0.0, 1e-3, -1e-3],  # one finite bound: only at (0.0) or beyond (−1e-3) pins
    }
    v = space.pack({k: np.asarray(x, float) for k, x in values.items()})
    pinned = pinned_parameters(space, np.asarray(v), physical=True)
    assert pinned == {
        "k[0]": "lower", "k[1]": "upper", "b[0]": "lower", "c[0]": "lower", "c[1]": "upper",
        "c[2]": "upper", "tau[0]": "lower", "tau[2]": "upper", "q[0]": "lower", "w[0]": "lower",
        "amp[1]": "upper", "pos[0]": "lower", "pos[2]": "lower",
    }  # fmt: skip
    # tighter tolerance: k[0] (0.004), k[1] (0.9975), c[1] (0.9925) are no longer within 0.1 %
    tight = pinned_parameters(space, np.asarray(v), tol=1e-3, physical=True)
    assert (
        "k[1]" not in tight
        and "c[1]" not in tight
        and "k[0]" not in tight
        and tight["c[0]"] == "lower"
    )
    # from the unconstrained vector (the default): a logit u of 12 is within 1e-5 of the top
    small = ParameterSpace(
        [Parameter("b", 1.0, (2,), 0.05, 4.0, "logit"), Parameter("k", 1.0, (), 1e-8, 1e12, "log")]
    )
    assert pinned_parameters(small, np.array([12.0, 0.0, math.log(1e-8) + 0.1])) == {
        "b[0]": "upper",
        "k": "lower",
    }
    with pytest.raises(InputError, match="shape"):
        pinned_parameters(small, np.zeros(2))


def test_an_interval_covering_its_range_is_undetermined():
    """A parameter the data allow anywhere in its range (an interval over ≥ 98 % of it, on the
    pinning scale) is reported as undetermined (on real data: the exponents ν of Eq. 8)."""
    from memplug.plugins.fitting.uncertainty import _spans_range

    assert _spans_range("linear", 0.05, 4.0, 0.05, 4.0, 0.01)  # ν ∈ [0.05, 4]: all of it
    assert not _spans_range("linear", 0.5, 3.0, 0.05, 4.0, 0.01)  # 63 % of it
    assert _spans_range("log", 1e-8 * 1.5, 1e12, 1e-8, 1e12, 0.01)  # 99.1 % of 20 decades
    assert not _spans_range("log", 1e-6, 1e11, 1e-8, 1e12, 0.01)  # 85 %
    assert not _spans_range("log", 1e-30, 1e4, 0.0, 1e4, 0.01)  # ln 0 = −∞: an infinite range
    assert not _spans_range("linear", -1e300, 1e300, -math.inf, math.inf, 0.01)


# --------------------------------------------------------------------------------------------
# calibration of the Laplace band against a known kernel
# --------------------------------------------------------------------------------------------


def test_laplace_band_coverage_with_correlated_noise(truth):
    """24 seeded draws of AR(1) noise (ρ₁ = 0.8, σ = 2e-3) on F made by M = A exp(−r t); each
    draw is fitted by a few Gauss-Newton steps from the truth and its 95 % band is compared with
    the true M(t) (every time of the grid, both species) and the true θ.

    Measured (these seeds): with the AR(1) correction 0.96 of M(t) and 0.97 of θ covered
    (100 other draws: 0.94 / 0.95); without it (correlation="none", the residuals taken as
    independent) 0.69 / 0.67 (100 draws: 0.63 / 0.66) — the bars are ~2x too narrow;
    inflating by n/n_eff instead of the AR(1) sandwich (``neff``) gives 0.97 / 0.99."""
    x_true, F_true, M_true = truth
    theta_true = np.concatenate([A_TRUE, R_TRUE])
    rng = np.random.default_rng(2024)
    diag = np.arange(2)
    cover = {c: ([], []) for c in ("ar1", "none")}
    rho, noise = [], []
    for _ in range(24):
        prob = exponential_problem(F_true + ar1_noise(rng, F_true.shape))
        x = refit(prob, x_true, max_nfev=20)
        for c, (cm, ct) in cover.items():
            u = laplace(prob, x, t_M=T_M, correlation=c)
            inside = (M_true >= u.M_lo) & (M_true <= u.M_hi)
            cm.append(inside[:, diag, diag].mean())
            ct.append(((theta_true >= u.theta_lo) & (theta_true <= u.theta_hi)).mean())
            if c == "ar1":
                rho += list(u.rho1.values())
                noise += list(u.noise.values())
        assert u.flags == [] and u.pinned == {} and u.undetermined == []
    # the noise model is recovered from the residuals (median over draws and species)
    assert np.median(rho) == pytest.approx(RHO, abs=0.1) and np.median(noise) == pytest.approx(
        SIGMA, rel=0.2
    )
    m_ar1, t_ar1 = np.mean(cover["ar1"][0]), np.mean(cover["ar1"][1])
    m_none, t_none = np.mean(cover["none"][0]), np.mean(cover["none"][1])
    assert 0.85 <= m_ar1 <= 1.0 and 0.85 <= t_ar1 <= 1.0, (m_ar1, t_ar1)
    assert m_none < 0.8 and t_none < 0.8, (m_none, t_none)  # the correction matters


def test_noise_estimate_and_bootstrap_check(truth):
    """The moving-block bootstrap (a slower second method) gives a band of M(t) as wide as the
    Laplace band within a factor 2, here with ρ₁ = 0.5 (n_eff ≈ 20 per species, blocks of ~6
    points). Measured median width ratio bootstrap / Laplace 0.82 (A) / 0.85 (B) here, 0.53 - 1.0
    over seeds 0 - 6: the bootstrap runs narrower than the calibrated Laplace band. With ρ₁ = 0.8 on 60 points (n_eff ≈ 7, blocks of ~18-30 points, 2-3 per series) the
    bootstrap is 0.4 - 0.8 of the calibrated Laplace band: too few blocks, and fitted residuals
    lack part of the noise's low-frequency power."""
    x_true, F_true, _ = truth
    prob = exponential_problem(F_true + ar1_noise(np.random.default_rng(7), F_true.shape, rho=0.5))
    x = refit(prob, x_true, max_nfev=20)
    u = laplace(prob, x, t_M=T_M)
    for sp in ("A", "B"):
        assert 0.5 * SIGMA < u.noise[sp] < 2 * SIGMA and 0.2 < u.rho1[sp] < 0.8, (u.noise, u.rho1)
        assert u.n_eff[sp] == pytest.approx(len(T) * (1 - u.rho1[sp]) / (1 + u.rho1[sp]))
    b = bootstrap(prob, x, n_boot=40, seed=1, t_M=T_M)
    assert b.n_failed == 0 and b.M.shape == (40, len(T_M), 2, 2) and b.block > 1
    diag = np.arange(2)
    ratio = np.median((b.M_hi - b.M_lo)[:, diag, diag] / (u.M_hi - u.M_lo)[:, diag, diag], axis=0)
    assert np.all((ratio > 0.5) & (ratio < 2.0)), ratio
    with pytest.raises(InputError, match="block"):
        bootstrap(prob, x, n_boot=5, block=0)
    with pytest.raises(InputError, match="correlation"):
        laplace(prob, x, correlation="ar2")


# --------------------------------------------------------------------------------------------
# undetermined directions: a closure with a redundant pair
# --------------------------------------------------------------------------------------------


class RedundantClosure(Closure):
    """M^{αα}(t) = a_α b_α exp(−r_α t): only the product a b is determined by F."""

    name = "test-redundant"

    def parameters(self, context):
        return [
            Parameter("a", 1.0, (2,), 0.0, 1e4, "log"),
            Parameter("b", 1.0, (2,), 0.0, 1e4, "log"),
            Parameter("rate", 1.0, (2,), 0.0, 1e6, "log"),
        ]

    def kernel(self, theta, context):
        eye = jnp.eye(2)
        amp = theta["a"] * theta["b"]
        return ExponentialSumKernel(
            (amp[:, None] * eye)[None], (theta["rate"][:, None] * eye + (1 - eye))[None]
        )


def test_redundant_pair_is_reported_and_identifiable_quantities_are_not_affected(truth):
    """Second method: the exponential closure with A = a b describes the same kernel with no
    redundancy, so its bands, its rate intervals and its M(0) error must be those of the
    redundant closure, while a and b separately are reported as not determined."""
    x_true, F_true, _ = truth
    F = F_true + ar1_noise(np.random.default_rng(3), F_true.shape)
    exp_prob = exponential_problem(F)
    x_exp = refit(exp_prob, x_true, max_nfev=20)
    ref = laplace(exp_prob, x_exp, t_M=T_M)
    red_prob = exponential_problem(F, RedundantClosure())
    A, rate = np.exp(x_exp[:2]), np.exp(x_exp[2:])
    x_red = red_prob.vector({"a": np.sqrt(A), "b": np.sqrt(A), "rate": rate})
    u = laplace(red_prob, x_red, t_M=T_M)
    assert sorted(u.undetermined) == ["a[0]", "a[1]", "b[0]", "b[1]"]
    assert len(u.directions) == 2
    for d in u.directions:  # each null direction is mostly (ln a_α − ln b_α)/√2
        (la, va), (lb, vb) = sorted(d.items())
        assert la[0] == "a" and lb[0] == "b" and la[1:] == lb[1:]
        # measured |v| = 0.7071 on one CPU and 0.652 on another (AMD EPYC): the rest of the unit
        # vector lies on parameters below the reporting threshold, mixed in by round-off in the
        # eigenvectors of the (near-)degenerate null space; a and b still carry ≥ 80 % of it
        assert 0.63 < abs(va) < 0.72 and va == pytest.approx(-vb, abs=2e-2)
    assert np.all(np.isnan(u.theta_lo[:4])) and np.all(np.isfinite(u.theta_lo[4:]))
    np.testing.assert_allclose(u.theta_lo[4:], ref.theta_lo[2:], rtol=1e-6)
    np.testing.assert_allclose(u.theta_hi[4:], ref.theta_hi[2:], rtol=1e-6)
    np.testing.assert_allclose(u.M_sigma, ref.M_sigma, rtol=1e-5, atol=1e-12)
    assert u.derived["M0_A"]["determined"]
    assert u.derived["M0_A"]["sigma"] == pytest.approx(ref.derived["M0_A"]["sigma"], rel=1e-5)
    assert u.noise == pytest.approx(ref.noise, rel=1e-8)


# --------------------------------------------------------------------------------------------
# channels, flags, pinned parameters in a result file
# --------------------------------------------------------------------------------------------


class RiseKernel(ExplicitKernel):
    """M^{αα}(t) = A_α (1 + c_α t) exp(−r_α t): rises at short times when c > r."""

    A: jax.Array
    r: jax.Array
    c: jax.Array

    def __call__(self, t):
        t = jnp.asarray(t, dtype=float)[:, None]
        return jax.vmap(jnp.diag)(self.A * (1.0 + self.c * t) * jnp.exp(-self.r * t))


class RiseClosure(Closure):
    """A tiny closure with the ``channels`` contract: the analytic area ∫₀^∞ M^{αα} dt =
    A (1/r + c/r²) and the ratio of the two species' rates."""

    name = "test-rise"

    def parameters(self, context):
        return [
            Parameter("A", 100.0, (2,), 0.0, 1e4, "log"),
            Parameter("r", 5.0, (2,), 1e-3, 1e3, "log"),
            Parameter("c", 1.0, (2,), 0.0, 100.0, "logit"),
        ]

    def kernel(self, theta, context):
        return RiseKernel(theta["A"], theta["r"], theta["c"])

    def channels(self, theta, context):
        A, r, c = theta["A"], theta["r"], theta["c"]
        area = A * (1.0 / r + c / r**2)
        return {"area_A": area[0], "area_B": area[1], "rate_ratio": r[1] / r[0]}


def test_kernel_flags_on_arrays():
    t = np.linspace(0.0, 5.0, 501)
    clean = np.stack([np.exp(-t), 2 * np.exp(-3 * t)], axis=1)
    assert kernel_flags(t, clean, ("A", "B")) == []
    roundoff = clean - 1e-12  # below round-off of the largest |M|: not a negative kernel
    assert kernel_flags(t, roundoff, ("A", "B")) == []
    dip = clean.copy()
    dip[:, 1] = 2 * np.exp(-3 * t) * np.cos(2 * t)  # negative beyond t = π/4
    rise = clean.copy()
    rise[:, 0] = (1 + 4 * t) * np.exp(-t)  # maximum 4 e^{-3/4} = 1.89 at t = 3/4 (from 1 at 0)
    (neg,) = kernel_flags(t, dip, ("A", "B"))
    assert neg.startswith("negative M^BB:")
    (up,) = kernel_flags(t, rise, ("A", "B"))
    assert up.startswith("M^AA rises before its first decay") and "1.89 at t = 0.75" in up


def test_channels_flags_pinned_and_result_files(tmp_path):
    """A fit whose c_B sits at its upper bound: pinned (held fixed, no interval), the kernel
    rises at short times (flag), the closure's channels come with errors, and the result file,
    its summary, figure and the run table carry all of it."""
    from memplug.plugins.fitting.cli import results_table
    from memplug.plugins.fitting.jobs import FitJob, build_result, memory_grid

    clean = exponential_problem(closure=RiseClosure())
    x0 = clean.vector(
        {"A": A_TRUE, "r": R_TRUE, "c": np.array([0.5, 99.5])}
    )  # c_B at 0.995 of its range
    F, _, _ = clean.outputs(x0, T, T_M)  # the shapes build_result uses: compiled once
    prob = exponential_problem(F + ar1_noise(np.random.default_rng(5), F.shape), RiseClosure())
    x = refit(prob, x0, free=[0, 1, 2, 3, 4], max_nfev=15)  # c_B held at its bound
    u = laplace(prob, x, t_M=memory_grid(prob))
    assert u.pinned == {"c[1]": "upper"} and "c[1]" in u.undetermined
    i = u.labels.index("c[1]")
    assert np.isnan(u.theta_lo[i]) and u.sigma_u[i] == 0.0
    assert any(f.startswith("M^BB rises before its first decay") for f in u.flags), u.flags
    # derived: the closure's area is ∫₀^∞ M; the trapezoid ∫₀^{t_last} is the same number here
    # (M(10) ~ e^{-40}), and so are their errors (two routes to one quantity)
    for sp in ("A", "B"):
        area, integral = u.derived[f"area_{sp}"], u.derived[f"int_M_{sp}"]
        assert integral["value"] == pytest.approx(area["value"], rel=1e-4)
        assert integral["sigma"] == pytest.approx(area["sigma"], rel=1e-3)
        assert area["lo"] < area["value"] < area["hi"] and area["determined"]
        assert u.derived[f"M0_{sp}"]["value"] == pytest.approx(
            float(np.exp(x[0 if sp == "A" else 1])), rel=1e-12
        )
    assert u.derived["rate_ratio"]["value"] == pytest.approx(float(np.exp(x[3] - x[2])), rel=1e-12)

    loss = float(np.sum((u.F[prob.window] - prob.F_target) ** 2))
    outcome = FitOutcome(x=x, loss=loss, evaluations=15, generations=1,
                         history=np.zeros((0, 5)), stop_reason="test", elapsed=0.0)  # fmt: skip
    result = build_result(
        prob, outcome, FitJob(state="synthetic", closure="test-rise"), "default", None
    )
    assert result.pinned == {"c[1]": "upper"} and result.M_fit_lo.shape == result.M_fit.shape
    np.testing.assert_allclose(result.M_fit_hi, u.M_hi, rtol=1e-12)
    files = save_result(result, tmp_path / "fit.nc")
    assert files["png"].exists()
    ds = load_result(files["netcdf"])
    assert list(ds["pinned"].values) == [lab == "c[1]" for lab in result.labels]
    for name in ("theta_lo", "theta_hi", "M_fit_lo", "M_fit_hi", "F_fit_lo", "F_fit_hi"):
        assert name in ds
    summary = result_summary(ds)
    assert summary["pinned"] == {"c[1]": "upper"} and summary["undetermined"] == u.undetermined
    assert summary["flags"] == u.flags and set(summary["n_eff"]) == {"A", "B"}
    assert summary["derived"]["area_A"]["value"] == pytest.approx(u.derived["area_A"]["value"])
    assert summary.keys() == result.summary().keys()
    table, notes = results_table(
        [summary], title="t"
    ).renderables  # the table, then one line per fit
    cells = {c.header: list(c.cells) for c in table.columns}
    assert cells["pinned"] == ["1"] and cells["flags"] == [str(len(u.flags))]
    assert "pinned at a bound: c[1]" in notes.plain and "; M^BB rises" in notes.plain
    # an old file (no uncertainty) loads and summarises with None
    old = ds.drop_vars(
        ["theta_lo", "theta_hi", "pinned", "M_fit_lo", "M_fit_hi", "F_fit_lo", "F_fit_hi"]
    )
    for k in ("pinned_bounds", "undetermined", "flags", "derived", "noise", "n_eff", "uncertainty"):
        old.attrs.pop(k)
    assert result_summary(old)["pinned"] is None
    old_table = results_table([result_summary(old)], title="t").renderables[0]
    old_cells = {c.header: list(c.cells) for c in old_table.columns}
    assert old_cells["pinned"] == ["-"] and old_cells["flags"] == ["-"]
    # a failure never crashes: NaN parameters give a flag and no bands
    failed = result_fields(prob, np.full_like(x, np.nan), memory_grid(prob))
    assert failed["flags"][0].startswith("uncertainty failed:") and "M_fit_lo" not in failed
