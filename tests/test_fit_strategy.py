"""The default fitting strategy: CMA-ES with IPOP restarts, the L-BFGS polish stage, the budget
per parameter, and the paper's normalisation F_s^{αα}(0) = S^{αα}(k_p) (Eq. 1). Small synthetic
targets of tests/fit_support.py (Eq. 8 made by the same solver settings the fit uses)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fit_support import dataset, dataset_file, eq8_spec, perturbed, problem, state

from memplug.data import context_for
from memplug.errors import InputError
from memplug.fit import FitProblem, FitSettings, normalisation_scale, run_fit
from memplug.plugins.fitting.jobs import (
    BUDGET_PER_PARAMETER,
    POLISH_BUDGET,
    FitJob,
    polish,
    run_job,
)
from memplug.registry import get_registry
from memplug.targets import make_target

POP = 8


def test_ipop_restarts_a_stalled_run_with_twice_the_population_and_keeps_the_best():
    """A run that stops improving (patience 3 generations, rtol 1e-4) is restarted from x0 with a
    doubled population; the best point over the runs is the result and the stop reason says so."""
    prob, x_true = problem()
    opt = get_registry().create("optimizers", f"cmaes:popsize={POP},patience=3,restarts=2,rtol=0.5")
    out = run_fit(
        prob, opt, perturbed(x_true, 0.3), FitSettings(budget=60 * POP, target_loss=0.0, seed=3)
    )
    runs = opt.runs
    assert len(runs) == 3  # rtol = 0.5: every run "stalls" quickly; 2 restarts, then it stops
    assert [r["popsize"] for r in runs] == [POP, 2 * POP, 4 * POP]
    assert runs[1]["sigma0"] == pytest.approx(0.3)  # σ = max(σ0 = 5e-4, 0.3) after a restart
    assert out.loss == pytest.approx(min(r["best"] for r in runs))
    assert "3 CMA-ES runs (IPOP)" in out.stop_reason and "optimizer stopped" in out.stop_reason
    with pytest.raises(InputError, match="restarts"):
        get_registry().create("optimizers", "cmaes:restarts=-1")


def test_polish_stage_improves_on_cmaes_and_is_reported():
    """CMA-ES with a tiny budget (it ends far from the optimum), then L-BFGS through the solver
    from its best point: the outcome keeps both stages, the better point and the summed counts."""
    prob, x_true = problem(target=eq8_spec(noise=1e-3, seed=2))
    job = FitJob(
        state=state(), optimizer=f"cmaes:popsize={POP}", budget=6 * POP, target_loss=0.0, seed=5
    )
    first = run_fit(prob, get_registry().create("optimizers", job.optimizer), perturbed(x_true, 0.3),
                    job.settings(dim=prob.dim))  # fmt: skip
    out = polish(prob, first, job, None)
    a, b = out.stages
    assert a["stage"] == job.optimizer and b["stage"] == "lbfgs polish"
    assert (
        a["loss"] == first.loss
        and 0 < b["evaluations"] <= POLISH_BUDGET[0] + POLISH_BUDGET[1] * prob.dim
    )
    assert b["loss"] < 0.5 * first.loss  # far from the optimum, gradients gain a lot
    assert out.loss == b["loss"] == pytest.approx(float(prob.loss(out.x)))
    assert out.evaluations == first.evaluations + b["evaluations"]
    assert out.history.shape[0] == first.history.shape[0] + out.generations - first.generations
    assert "polish:" in out.stop_reason
    none = polish(prob, first, FitJob(**{**job.__dict__, "polish": "none"}), None)
    assert len(none.stages) == 1 and none.loss == first.loss


def test_a_bad_polish_value_is_one_clear_error(tmp_path):
    job = FitJob(
        state=state(), dataset=dataset_file(tmp_path), target=eq8_spec(), polish="bfgs", solver_n=8
    )
    with pytest.raises(InputError, match="--polish: expected lbfgs or none"):
        run_job(job)


def test_default_budget_is_proportional_to_the_number_of_parameters():
    job = FitJob(state="x")
    assert job.settings(dim=12).budget == BUDGET_PER_PARAMETER * 12
    assert job.settings(dim=27).budget == BUDGET_PER_PARAMETER * 27
    assert FitJob(state="x", budget=100).settings(dim=12).budget == 100


def test_paper_normalisation_scales_target_and_solution_by_S_aa_at_k_peak():
    """Eq. 1: F_s^{αα}(k_p, 0) = S^{αα}(k_p). The memory equation is linear in F, so the fitted F is
    the unit-normalised solution times S^{αα}(k_p); the loss weights species by S²."""
    ds = dataset()
    ctx = context_for(ds, state(), dynamics="overdamped")
    S = ctx.S.reshape(len(ctx.k), 2, 2)
    expected = [np.interp(ctx.k_peak, ctx.k, S[:, a, a]) for a in range(2)]  # independent lookup
    np.testing.assert_allclose(normalisation_scale(ctx, "paper"), expected, rtol=1e-12)
    assert (
        0.3 < expected[0] < 4 and 0.05 < expected[1] < 2
    )  # S^{AA}(k_p) of order 1, x_B-weighted BB
    tgt = make_target(eq8_spec(), ds, state(), ctx)
    clo = get_registry().create("closures", "double-stretched")
    unit = FitProblem(clo, tgt, N=8)
    paper = FitProblem(clo, tgt, N=8, normalisation="paper")
    np.testing.assert_allclose(paper.F_target, unit.F_target * np.array(expected), rtol=1e-14)
    x = unit.initial_vector()
    F_unit, _, _ = unit.outputs(x, t=np.array([1e-6, 1.0]))
    F_paper, _, _ = paper.outputs(x, t=np.array([1e-6, 1.0]))
    np.testing.assert_allclose(F_paper, F_unit * np.array(expected), rtol=1e-12)
    np.testing.assert_allclose(
        F_paper[0], expected, rtol=1e-4
    )  # F(0) = S^{αα}(k_p) (first grid point)
    assert math.isfinite(float(paper.loss(x))) and float(paper.loss(x)) != float(unit.loss(x))
    with pytest.raises(InputError, match="--normalisation"):
        FitProblem(clo, tgt, N=8, normalisation="max")


def test_two_reasonable_starts_land_on_one_kernel_within_its_band():
    """Synthetic Eq. 8 target with noise σ = 1e-3 (the truth is known): CMA-ES + polish from two
    starts 0.5 away from the truth in different directions (unconstrained units), other seeds, give
    the same M(t) within the Laplace band of either fit (on the times where the band is determined),
    and the band covers the true kernel. (From the closure's generic default this budget is too
    small: measured loss 7e-3 against 2.9e-4, with the uncertainty flagging 'not at a minimum'.)"""
    import jax.numpy as jnp

    from memplug.plugins.fitting.uncertainty import laplace

    prob, x_true = problem(target=eq8_spec(noise=1e-3, seed=4))
    job = FitJob(state=state(), optimizer=f"cmaes:popsize={POP}", budget=150 * POP, target_loss=0.0)
    fits = []
    for x0, seed in ((perturbed(x_true, 0.5, seed=8), 1), (perturbed(x_true, 0.5, seed=9), 2)):
        opt = get_registry().create("optimizers", job.optimizer)
        first = run_fit(
            prob, opt, x0, FitSettings(budget=job.budget, target_loss=0.0, seed=seed, sigma0=0.3)
        )
        fits.append(polish(prob, first, FitJob(**{**job.__dict__, "seed": seed}), None))
    t_M = np.geomspace(prob.t[0], prob.t[-1], 60)
    bands = [laplace(prob, f.x, t_M=t_M) for f in fits]
    M_true = np.asarray(
        prob.closure.kernel(prob.theta(jnp.asarray(x_true)), prob.context)(jnp.asarray(t_M))
    )
    for a, b in ((0, 1), (1, 0)):
        u = bands[a]
        ok = np.isfinite(u.M_lo) & np.isfinite(u.M_hi)
        d = np.arange(2)
        sel = ok[:, d, d]
        assert sel.mean() > 0.5  # the band is determined over most of the window
        other = bands[b].M[:, d, d][sel]
        inside = (other >= u.M_lo[:, d, d][sel]) & (other <= u.M_hi[:, d, d][sel])
        assert inside.mean() > 0.9, (a, inside.mean())
        truth_in = (M_true[:, d, d][sel] >= u.M_lo[:, d, d][sel]) & (
            M_true[:, d, d][sel] <= u.M_hi[:, d, d][sel]
        )
        assert truth_in.mean() > 0.8, (a, truth_in.mean())
    assert abs(fits[0].loss - fits[1].loss) < 0.1 * max(fits[0].loss, fits[1].loss)


def test_a_second_start_is_run_and_reported_when_the_user_gives_one():
    """add_start (used by run_job for --init mct or a result): one run per start, the budget
    shared, the best start continued; the stop reason names the runs and the start that won."""
    prob, x_true = problem()
    bad = np.full_like(x_true, 3.0)  # far from the data
    opt = get_registry().create("optimizers", f"cmaes:popsize={POP},restarts=0")
    opt.add_start(perturbed(x_true, 0.2), 0.3)
    out = run_fit(
        prob, opt, bad, FitSettings(budget=40 * POP, target_loss=0.0, seed=1, sigma0=5e-4)
    )
    runs = opt.runs
    assert [r["start"] for r in runs] == [0, 1]
    assert runs[1]["best"] < runs[0]["best"]  # the reasonable start wins
    assert (
        out.loss == runs[1]["best"]
        and "from 2 starts" in out.stop_reason
        and "(start 2)" in out.stop_reason
    )


def test_a_closure_without_parameters_is_evaluated_once_not_optimised(tmp_path):
    """`exponential:free=none` (and `tabulated`) have no free parameters: the fit is one solve."""
    job = FitJob(state=state(), closure="exponential:free=none", dataset=dataset_file(tmp_path),
                 target=eq8_spec(), solver_n=8)  # fmt: skip
    r = run_job(job)
    assert r["evaluations"] == 1 and r["theta"] == {} and math.isfinite(r["loss"])
    assert "no free parameters" in r["stop_reason"]
