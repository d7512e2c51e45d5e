"""The fitting pipeline (paper Eq. 7): loss, population evaluation, recovery, noise floor,
checkpoint/resume and result files. Targets are made by known kernels (tests/fit_support.py)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from fit_support import (
    EQ6_TRUE,
    EQ8_IDENTIFIABLE,
    dataset,
    dataset_file,
    eq8_spec,
    perturbed,
    problem,
    state,
)

from memplug.errors import InputError
from memplug.fit import FitSettings, r2_score, run_fit
from memplug.fit_results import load_result
from memplug.plugins.fitting.jobs import FitJob, run_job
from memplug.registry import get_registry

POP = 8  # one population size everywhere: one compiled loss


def cmaes():
    return get_registry().create("optimizers", f"cmaes:popsize={POP}")


def test_loss_zero_at_truth_inf_for_failed_solves():
    prob, x = problem()
    U = np.stack(
        [x]
        + [perturbed(x, 0.1, s) for s in range(5)]
        + [np.full_like(x, np.nan), np.full_like(x, 800.0)]
    )
    losses = prob.evaluate(U)  # one jit(vmap) call over the population, never raises
    assert losses.shape == (POP,)
    assert losses[0] < 1e-20  # the target was made by these parameters with the same solver
    assert np.all(np.isfinite(losses[1:6])) and np.all(losses[1:6] > 0)
    assert losses[6] == np.inf  # NaN parameters
    assert losses[7] == np.inf  # exp(800) amplitudes: a non-finite solve
    # Eq. 7 by hand for one candidate
    F, _, status = prob.outputs(U[1])
    assert status == 0
    assert losses[1] == pytest.approx(float(np.sum((F - prob.F_target) ** 2)), rel=1e-10)


def test_window_and_lasso():
    ds = dataset()
    from memplug.data import context_for
    from memplug.fit import FitProblem
    from memplug.targets import make_target

    tgt = make_target(eq8_spec(), ds, state(), context_for(ds, state(), dynamics="overdamped"))
    clo = get_registry().create("closures", "double-stretched")
    prob = FitProblem(clo, tgt, N=8, t_min=0.1, t_max=10.0, lasso=1e-3)
    assert prob.t.min() >= 0.1 and prob.t.max() <= 10.0 and len(prob.t) < len(tgt.t)
    x = prob.initial_vector()
    theta = np.asarray(prob.space.from_unconstrained(x))
    F, _, _ = prob.outputs(x)
    expected = np.sum((F - prob.F_target) ** 2) + 1e-3 * np.sum(np.abs(theta))
    assert float(prob.evaluate(np.stack([x] * POP))[0]) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(InputError, match="window"):
        FitProblem(clo, tgt, N=8, t_min=1e6)


def test_cmaes_recovers_eq8_kernel():
    prob, x_true = problem()
    x0 = perturbed(x_true, 0.2)
    out = run_fit(
        prob, cmaes(), x0, FitSettings(budget=8000, target_loss=1e-10, seed=1)
    )  # σ0 = 5e-4 (paper)
    assert out.loss < 1e-6, out  # the criterion; the fit goes to 1e-10 to check parameters
    labels = prob.space.labels()
    fit = np.asarray(prob.space.from_unconstrained(out.x))
    true = np.asarray(prob.space.from_unconstrained(x_true))
    for name in EQ8_IDENTIFIABLE:
        i = labels.index(name)
        assert fit[i] == pytest.approx(true[i], rel=2e-2), name


def test_cmaes_recovers_eq6_kernel():
    prob, x_true = problem("stretched:n_exp=1")
    out = run_fit(
        prob, cmaes(), perturbed(x_true, 0.1), FitSettings(budget=8000, target_loss=1e-10, seed=2)
    )
    assert out.loss < 1e-6, out
    labels = prob.space.labels()
    fit = np.asarray(prob.space.from_unconstrained(out.x))
    for name, value in EQ6_TRUE.items():
        assert fit[labels.index(f"{name}[0]")] == pytest.approx(value[0], rel=5e-2), name


def test_noise_floor():
    """With Gaussian noise σ = 1e-3 the loss ends near the sum of squared noise ((n − p)/n of it)."""
    prob, x_true = problem(target=eq8_spec(noise=1e-3, seed=5))
    clean, _ = problem()
    noise_ss = float(np.sum((prob.F_target - clean.F_target) ** 2))
    assert noise_ss == pytest.approx(300 * 1e-6, rel=0.2)  # 150 times × 2 species × σ²
    out = run_fit(
        prob, cmaes(), perturbed(x_true, 0.2), FitSettings(budget=3000, target_loss=0.0, seed=3)
    )
    assert 0.5 * noise_ss < out.loss < 1.5 * noise_ss, (out.loss, noise_ss)
    F, _, _ = prob.outputs(out.x)
    assert r2_score(F, prob.F_target) > 0.999


class _Interrupt(Exception):
    pass


@pytest.mark.parametrize(
    "optimizer", [f"cmaes:popsize={POP}", f"nevergrad:TwoPointsDE,popsize={POP}"]
)
def test_resume_after_interrupt_is_identical(tmp_path, optimizer):
    prob, x_true = problem()
    x0 = perturbed(x_true, 0.2)
    settings = FitSettings(budget=30 * POP, target_loss=0.0, seed=11, sigma0=1e-2)
    reg = get_registry()
    ref = run_fit(prob, reg.create("optimizers", optimizer), x0, settings)

    ck = tmp_path / "fit.ckpt"

    def stop_at_7(p):
        if p.generation == 7:
            np.random.seed(1234)  # global RNG disturbed after the checkpoint: must be restored
            raise _Interrupt

    with pytest.raises(_Interrupt):
        run_fit(
            prob,
            reg.create("optimizers", optimizer),
            x0,
            settings,
            checkpoint=ck,
            callback=stop_at_7,
        )
    assert ck.exists() and not list(tmp_path.glob(".*tmp"))
    out = run_fit(
        prob, reg.create("optimizers", optimizer), x0, settings, checkpoint=ck, resume=True
    )
    assert out.resumed and out.generations == ref.generations
    np.testing.assert_array_equal(out.x, ref.x)
    assert out.loss == ref.loss
    np.testing.assert_array_equal(out.history[:, :4], ref.history[:, :4])
    # a checkpoint written for other inputs is refused
    with pytest.raises(InputError, match="other inputs"):
        run_fit(
            prob,
            reg.create("optimizers", optimizer),
            x0,
            FitSettings(budget=99, seed=12),
            checkpoint=ck,
            resume=True,
        )


def test_result_files(tmp_path):
    job = FitJob(
        state=state(), closure="double-stretched", optimizer=f"cmaes:popsize={POP},restarts=0",
        dataset=dataset_file(tmp_path), target=eq8_spec(), budget=4 * POP, target_loss=0.0,
        seed=4, solver_n=8, out=str(tmp_path / "out"), polish="none",
    )  # fmt: skip
    r = run_job(job)
    files = {k: tmp_path / "out" / f"{job.stem()}.{k}" for k in ("nc", "json", "png")}
    assert all(f.exists() for f in files.values())
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.endswith(".tmp")]
    ds = load_result(files["nc"])
    assert ds.attrs["seed"] == 4 and ds.attrs["evaluations"] == 4 * POP
    assert ds["F_fit"].shape == ds["F_target"].shape == (150, 2)
    assert ds["M_fit"].shape[1:] == (2, 2) and ds["history"].shape == (4, 5)
    assert list(map(str, ds["param"].values))[:2] == ["A_AA", "q_AA"]
    assert json.loads(ds.attrs["inputs"])["target"] == eq8_spec()
    assert "jax" in json.loads(ds.attrs["versions"])
    assert ds.attrs["loss"] == pytest.approx(r["loss"])
    summary = json.loads(files["json"].read_text())
    assert summary["state"] == state() and summary["evaluations"] == 4 * POP
    # resume of a finished job reuses the result
    again = run_job(FitJob(**{**job.__dict__, "resume": True}))
    assert again["reused"] and again["loss"] == r["loss"]


def test_init_from_a_reference_memory(monkeypatch):
    """--init mct fits the closure's kernel to the reference memory first (paper: M = M_mct at the
    start). Here the reference is the true Eq. 8 kernel, standing in for M_mct."""
    import jax.numpy as jnp

    import memplug.plugins.fitting.jobs as jobs

    prob, x_true = problem()
    kernel = prob.closure.kernel(prob.theta(jnp.asarray(x_true)), prob.context)
    monkeypatch.setattr(
        jobs, "reference_memory", lambda ctx, t, name: np.asarray(kernel(jnp.asarray(t)))
    )
    x0, note, M_ref = jobs.initial_vector(prob, "mct")
    assert note == "mct" and M_ref.shape == (200, 2, 2)
    losses = prob.evaluate(np.stack([x0, prob.initial_vector()] + [x0] * (POP - 2)))
    assert (
        losses[0] < 1e-6 < losses[1]
    )  # the fitted start reproduces F; the closure default does not
    monkeypatch.setattr(jobs, "reference_memory", lambda ctx, t, name: None)
    with pytest.warns(UserWarning, match="pending"):
        _, note, _ = jobs.initial_vector(prob, "mct")
    assert note.startswith("default")


def test_compiled_losses_are_bounded_lru(monkeypatch):
    """The in-memory cache of compiled losses keeps the COMPILED_CACHE_SIZE most recently used
    problems (building a FitProblem only wraps functions in jax.jit; nothing compiles here)."""
    from collections import OrderedDict

    import memplug.fit as fit

    monkeypatch.setattr(fit, "_COMPILED", OrderedDict())
    monkeypatch.setattr(fit, "COMPILED_CACHE_SIZE", 3)
    prob, _ = problem()

    def make(lasso):
        return fit.FitProblem(prob.closure, prob.target, N=8, lasso=lasso)

    first = [make(v) for v in (1e-3, 2e-3, 3e-3)]
    assert len(fit._COMPILED) == 3
    assert make(1e-3)._batch_loss is first[0]._batch_loss  # a hit, now the most recent
    make(4e-3)  # evicts the least recently used: λ₁ = 2e-3
    assert len(fit._COMPILED) == 3
    assert sorted(k[2] for k in fit._COMPILED) == [1e-3, 3e-3, 4e-3]
    assert make(2e-3)._batch_loss is not first[1]._batch_loss  # rebuilt after eviction


def test_persistent_compilation_cache(tmp_path, monkeypatch):
    """--compile-cache / $MEMPLUG_COMPILATION_CACHE: compiled losses land on disk; a bad path is an
    InputError naming the option."""
    import jax

    import memplug.fit as fit

    monkeypatch.delenv(fit.COMPILATION_CACHE_ENV, raising=False)
    assert fit.enable_compilation_cache(None) is None  # off unless asked for
    previous = jax.config.jax_compilation_cache_dir
    try:
        path = fit.enable_compilation_cache(tmp_path / "jit")
        assert os.environ[fit.COMPILATION_CACHE_ENV] == str(path)
        prob, x = problem()
        # a problem key no other test uses (λ₁), so this compiles now (> 1 s: JAX's threshold to store)
        fresh = fit.FitProblem(prob.closure, prob.target, N=8, lasso=1.234e-9)
        fresh.evaluate(np.stack([x] * 3))
        assert any(p.is_file() for p in path.rglob("*"))
    finally:
        jax.config.update("jax_compilation_cache_dir", previous)
        monkeypatch.delenv(fit.COMPILATION_CACHE_ENV, raising=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="--compile-cache"):
        fit.enable_compilation_cache(tmp_path / "file" / "sub")


def test_states_share_one_compiled_loss(monkeypatch):
    """The statics (Ω², k_peak, T, S(k), dt0, F(0)) are arguments of the compiled loss: a second
    state with other statics but the same block count reuses the first state's compiled
    functions, and its losses and F equal those of a problem that bakes its statics in as
    constants (the path of closures that need concrete statics) to round-off."""
    from collections import OrderedDict

    from fit_support import N

    import memplug.fit as fit
    from memplug.data import context_for
    from memplug.plugins.datasets.schema import synthetic_state
    from memplug.targets import make_target

    monkeypatch.setattr(fit, "_COMPILED", OrderedDict())
    monkeypatch.setattr(fit, "_TRACEABLE", {})
    clo = get_registry().create("closures", "stretched:n_exp=1")
    probs = []
    for T in (0.8, 0.9):  # Ω² = k_p² T differs: other dt0, other statics
        ds = synthetic_state(T=T, seed=3)
        st = str(ds["state"].values[0])
        probs.append(
            fit.FitProblem(
                clo, make_target("data", ds, st, context_for(ds, st, dynamics="overdamped")), N=N
            )
        )
    a, b = probs
    assert a.traced and b.traced
    assert a.solver.dt0 != b.solver.dt0 and a.solver.n_blocks == b.solver.n_blocks
    assert b._batch_loss is a._batch_loss and len(fit._COMPILED) == 1
    U = a.initial_vector() + np.random.default_rng(0).normal(0.0, 0.2, (4, a.dim))
    loss_traced, F_traced = b.evaluate(U), b.outputs(U[0])[0]
    monkeypatch.setattr(fit.FitProblem, "_probe", lambda self: False)
    monkeypatch.setattr(fit, "_TRACEABLE", {})
    c = fit.FitProblem(clo, b.target, N=N)
    assert not c.traced and c._batch_loss is not a._batch_loss
    np.testing.assert_allclose(c.evaluate(U), loss_traced, rtol=1e-12)
    np.testing.assert_allclose(c.outputs(U[0])[0], F_traced, rtol=0, atol=1e-12)


def test_closure_needing_concrete_statics_keeps_them_constant():
    """A kernel that converts the statics to Python numbers cannot be traced with them as
    arguments: the problem finds that by one trace and compiles with them as constants."""
    import jax.numpy as jnp

    from memplug.fit import FitProblem
    from memplug.plugins.closures.exponential import ExponentialClosure

    class Concrete(ExponentialClosure):
        def kernel(self, theta, context):
            float(context.T)  # needs a concrete temperature
            return super().kernel(theta, context)

    from fit_support import N

    prob, _ = problem()
    p = FitProblem(Concrete(), prob.target, N=N)
    assert not p.traced
    assert np.isfinite(p.loss(jnp.asarray(p.initial_vector())))
