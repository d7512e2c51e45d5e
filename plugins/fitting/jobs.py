"""Fit jobs: one (state, closure, optimizer) fit from a dataset to result files, and the fan-out
of many jobs, serially or through Dask (a LocalCluster of ``workers`` processes or an existing
scheduler). A job's result depends only on the job (its seed included), never on where it ran, so
serial and distributed runs give identical files.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from memplug.errors import InputError
from memplug.fit import FitOutcome, FitProblem, FitSettings, Progress, r2_score, run_fit
from memplug.fit_results import FitResult, load_result, result_summary
from memplug.interfaces import DEFAULT_DYNAMICS
from memplug.plugins.fitting.plotting import save_result
from memplug.registry import Spec
from memplug.targets import make_target, reference_memory, reference_names

#: The reference memory fits are compared with (``--mct-reference``, ``--target mct``) and start
#: from (``--init mct``): the one the MCT plugin registers.
DEFAULT_REFERENCE = "mct"
#: σ0 of the paper (start from M_mct) and of a start from a closure's generic default.
PAPER_SIGMA0 = 5e-4
DEFAULT_START_SIGMA0 = 0.3
#: Default budget of the main optimizer: evaluations per free parameter of the closure.
BUDGET_PER_PARAMETER = 400
#: Gradient evaluations of the L-BFGS polish stage: a fixed part plus this many per parameter.
POLISH_BUDGET = (50, 10)
POLISH_METHODS = ("lbfgs", "none")


@dataclass(frozen=True)
class FitJob:
    """Everything that defines one fit (picklable; the unit of work of the fan-out).

    ``init`` is ``default`` (the closure's initial θ), ``mct`` (fit the closure's kernel to
    M_mct(t) first, the paper's choice) or the path of a previous result file of the same closure.
    ``mct_reference`` also stores M_mct(t) in the result (a full MCT solve of the state; implied by
    ``init="mct"`` and ``target="mct"``). ``dynamics`` is ``newtonian`` (F'' + Ω²F + M*F' = 0, the default,
    `memplug.interfaces.DEFAULT_DYNAMICS`: the equation of motion of MD data, ballistic at short times) or ``overdamped`` (the paper's
    Eq. 5, F' + Ω²F + M*F' = 0, which cannot follow the ballistic start of MD data: measured R² 0.5
    against 0.9998 for Newtonian on WCA ρ = 1.2, T = 10 with the same budget). ``out`` is the results directory (``None``: nothing is
    written, no checkpoint).

    ``budget`` counts loss evaluations of the main optimizer; ``None`` is ``BUDGET_PER_PARAMETER``
    × the closure's number of parameters. ``polish`` (``lbfgs``, the default, or ``none``) runs
    L-BFGS through the solver from the optimizer's best point (its own budget: ``POLISH_BUDGET``
    gradient evaluations), a separate stage reported as such. ``normalisation`` is ``unit``
    (F_s(0) = 1, the dataset's) or ``paper`` (Eq. 1: F_s^{αα}(0) = S^{αα}(k_p), which weights the
    species and states by S^{αα}(k_p)² in Eq. 7 and R²).

    ``closure`` and ``optimizer`` are the canonical text of a `memplug.registry.Spec` (a `Spec`
    given here is stored as ``str(spec)``, so the recorded inputs stay plain text);
    `closure_spec` and `optimizer_spec` parse them back.
    """

    state: str
    closure: str = "double-stretched"
    optimizer: str = "cmaes"
    dataset: str = "default"
    target: str = "data"
    init: str = "default"
    budget: int | None = None
    target_loss: float = 1e-6
    seed: int = 0
    sigma0: float | None = None
    lasso: float = 0.0
    t_min: float | None = None
    t_max: float | None = None
    solver_n: int = 16
    dynamics: str = DEFAULT_DYNAMICS
    polish: str = "lbfgs"
    normalisation: str = "unit"
    mct_reference: bool = False
    out: str | None = None
    resume: bool = False
    plot: bool = True

    def __post_init__(self) -> None:
        for name in ("closure", "optimizer"):
            value = getattr(self, name)
            if isinstance(value, Spec):
                object.__setattr__(self, name, str(value))

    def closure_spec(self) -> Spec:
        return Spec.parse("closures", self.closure)

    def optimizer_spec(self) -> Spec:
        return Spec.parse("optimizers", self.optimizer)

    def stem(self) -> str:
        """File name stem of this job's outputs: state, closure, optimizer (and target if not data)."""
        parts = [self.state, self.closure, self.optimizer]
        if self.target != "data":
            parts.append(self.target)
        return "__".join(re.sub(r"[^A-Za-z0-9.=+-]+", "_", p) for p in parts)

    def inputs(self) -> dict[str, Any]:
        """The inputs recorded in results and checkpoints (where outputs go is not an input)."""
        d = dataclasses.asdict(self)
        for k in ("out", "resume", "plot"):
            d.pop(k)
        return d

    def checkpoint_key(self) -> dict[str, Any]:
        """Inputs a checkpoint must match to be resumed (budget and target loss may change)."""
        d = self.inputs()
        d.pop("budget")
        d.pop("target_loss")
        return d

    def settings(self, init_note: str | None = None, dim: int | None = None) -> FitSettings:
        """Stopping rules; σ0 defaults to the paper's 5e-4 when the start is already a fit (M_mct
        or a previous result) and to 0.3 when it is the closure's generic default, far from the
        data; the budget defaults to ``BUDGET_PER_PARAMETER`` × ``dim``."""
        sigma0 = self.sigma0
        if sigma0 is None:
            near = (init_note or self.init) not in ("default",) and not (
                init_note or ""
            ).startswith("default")
            sigma0 = PAPER_SIGMA0 if near else DEFAULT_START_SIGMA0
        budget = (
            self.budget if self.budget is not None else BUDGET_PER_PARAMETER * max(int(dim or 1), 1)
        )
        return FitSettings(
            budget=budget, target_loss=self.target_loss, seed=self.seed, sigma0=sigma0
        )


# --------------------------------------------------------------------------------------------
# initial conditions
# --------------------------------------------------------------------------------------------


def fit_kernel_to_memory(problem: FitProblem, t: np.ndarray, M_ref: np.ndarray) -> np.ndarray:
    """Unconstrained θ whose explicit kernel M(t; θ) best matches ``M_ref(t)``
    (`memplug.model.fit_memory`, Levenberg-Marquardt): the paper's start "M = M_mct"."""
    from memplug.model import fit_memory

    theta = fit_memory(
        problem.closure, problem.context, np.asarray(t, float), np.asarray(M_ref, float)
    )
    return problem.vector(theta)


def initial_vector(problem: FitProblem, init: str) -> tuple[np.ndarray, str, np.ndarray | None]:
    """(x0, how it was obtained, M_mct on the result grid or None)."""
    x_default = problem.initial_vector()
    if init == "default":
        return x_default, "default", None
    if init in reference_names() or init == DEFAULT_REFERENCE:
        t = memory_grid(problem)
        M_ref = reference_memory(problem.context, t, init)
        if M_ref is None:
            warnings.warn(
                f"--init {init} is pending: no plugin registers the reference memory {init!r}; "
                "starting from the closure's default",
                stacklevel=2,
            )
            return x_default, f"default ({init} pending: no {init} memory available)", None
        return fit_kernel_to_memory(problem, t, M_ref), init, M_ref
    ds = load_result(init)
    labels = [str(v) for v in ds["param"].values]
    if labels != problem.space.labels():
        raise InputError(
            f"--init {init}: the result has parameters {labels[:4]}... of closure {ds.attrs['closure']!r}; "
            f"expected those of {problem.closure.spec()!r}"
        )
    return np.asarray(ds["theta_unconstrained"].values, float), f"result:{init}", None


def memory_grid(problem: FitProblem, n: int = 200) -> np.ndarray:
    """Log-spaced times on which M(t) is reported (the target's span)."""
    t = problem.target.t
    return np.geomspace(float(t[0]), float(t[-1]), n)


# --------------------------------------------------------------------------------------------
# one job
# --------------------------------------------------------------------------------------------


def build_result(problem: FitProblem, outcome, job: FitJob, init_note: str, M_ref) -> FitResult:
    """Solve once more at the best θ and collect what the result file holds."""
    x = jnp.asarray(outcome.x)
    t_all = problem.target.t
    t_M = memory_grid(problem)
    F_fit, M_fit, _ = problem.outputs(outcome.x, t_all, t_M)
    if M_ref is None and (job.mct_reference or job.target == "mct"):
        M_ref = reference_memory(problem.context, t_M, DEFAULT_REFERENCE)
    w = problem.window
    theta = np.asarray(problem.space.from_unconstrained(x), float)
    try:  # error bars, pinned bounds, bands, flags (uncertainty.py); never costs the fit
        from memplug.plugins.fitting.uncertainty import result_fields

        trust = result_fields(problem, outcome.x, t_M)
    except Exception as exc:
        trust = {"flags": [f"uncertainty failed: {type(exc).__name__}: {exc}".splitlines()[0]]}
    return FitResult(
        state=job.state,
        closure=problem.closure.spec(),
        optimizer=job.optimizer,
        target=problem.target.source,
        dataset=str(job.dataset),
        init=init_note,
        seed=job.seed,
        labels=problem.space.labels(),
        theta=theta,
        x=np.asarray(outcome.x, float),
        t=t_all,
        F_target=problem.target.F,
        F_fit=F_fit,
        in_window=w,
        t_M=t_M,
        M_fit=M_fit,
        M_reference=M_ref,
        loss=outcome.loss,
        r2=r2_score(F_fit[w], problem.target.F[w]),
        evaluations=outcome.evaluations,
        generations=outcome.generations,
        history=outcome.history,
        stop_reason=outcome.stop_reason,
        elapsed=outcome.elapsed,
        species=tuple(problem.context.species),
        inputs=job.inputs(),
        info=problem.target.info
        | {
            "solver": {
                "N": problem.solver.N,
                "dt0": problem.solver.dt0,
                "t_max": problem.solver.t_max,
                "blocks": problem.solver.n_blocks,
            }
        },
        **trust,
    )


def prepare(job: FitJob, ds=None):
    """Load the dataset (unless given), build the target, closure, optimizer and problem."""
    from memplug.data import context_for, load_dataset

    ds = load_dataset(job.dataset) if ds is None else ds
    if job.state not in set(map(str, ds["state"].values)):
        raise InputError(f"--state: {job.state!r} is not in dataset {job.dataset!r}")
    ctx = context_for(ds, job.state)
    if job.dynamics not in ("overdamped", "newtonian"):
        raise InputError(
            f"--dynamics: expected overdamped (paper Eq. 5) or newtonian, got {job.dynamics!r}"
        )
    ctx = dataclasses.replace(ctx, dynamics=job.dynamics)
    target = make_target(job.target, ds, job.state, ctx)
    closure = job.closure_spec().create()
    optimizer = job.optimizer_spec().create()
    if job.polish not in POLISH_METHODS:
        raise InputError(f"--polish: expected {' or '.join(POLISH_METHODS)}, got {job.polish!r}")
    problem = FitProblem(
        closure, target, lasso=job.lasso, t_min=job.t_min, t_max=job.t_max, N=job.solver_n,
        normalisation=job.normalisation,
    )  # fmt: skip
    return problem, optimizer


def polish(problem: FitProblem, outcome, job: FitJob, out: Path | None, callback=None):
    """The polish stage: L-BFGS (optax, gradients through the solver) from the main optimizer's
    best point. Returns the outcome of the whole fit: the better of the two points, the summed
    evaluations and history, and ``stages`` (one dict per stage: name, loss, evaluations, stop reason).
    """
    stages = [{"stage": job.optimizer, "loss": outcome.loss, "evaluations": outcome.evaluations,
               "stop_reason": outcome.stop_reason}]  # fmt: skip
    if job.polish == "none" or not np.isfinite(outcome.loss) or problem.dim == 0:
        return _with_stages(outcome, stages)
    from memplug.registry import get_registry

    lbfgs = get_registry().create("optimizers", "gradient:method=lbfgs")
    budget = POLISH_BUDGET[0] + POLISH_BUDGET[1] * problem.dim
    settings = FitSettings(budget=budget, target_loss=job.target_loss, seed=job.seed, sigma0=1.0)
    checkpoint = out / "checkpoints" / f"{job.stem()}.polish.ckpt" if out is not None else None
    try:
        second = run_fit(
            problem, lbfgs, outcome.x, settings, checkpoint=checkpoint, resume=job.resume,
            key=job.checkpoint_key() | {"stage": "polish", "start": np.asarray(outcome.x).tolist()},
            callback=callback,
        )  # fmt: skip
    except InputError as exc:  # e.g. the start's gradient is not finite: keep the first stage
        stages.append(
            {"stage": "lbfgs polish", "loss": math.inf, "evaluations": 0, "stop_reason": str(exc)}
        )
        return _with_stages(outcome, stages)
    stages.append({"stage": "lbfgs polish", "loss": second.loss, "evaluations": second.evaluations,
                   "stop_reason": second.stop_reason})  # fmt: skip
    better = second if second.loss < outcome.loss else outcome
    hist2 = np.asarray(second.history, float).copy()
    if hist2.size:
        hist2[:, 0] += outcome.generations
        hist2[:, 1] += outcome.evaluations
        hist2[:, 2] = np.minimum(hist2[:, 2], outcome.loss)
        hist2[:, 4] += outcome.elapsed
    merged = dataclasses.replace(
        outcome, x=np.asarray(better.x, float), loss=float(min(second.loss, outcome.loss)),
        evaluations=outcome.evaluations + second.evaluations,
        generations=outcome.generations + second.generations,
        history=np.concatenate([np.asarray(outcome.history, float).reshape(-1, hist2.shape[1]), hist2])
        if hist2.size else outcome.history,
        stop_reason=f"{outcome.stop_reason}; polish: {second.stop_reason}",
        elapsed=outcome.elapsed + second.elapsed,
    )  # fmt: skip
    return _with_stages(merged, stages)


def _with_stages(outcome, stages: list[dict[str, Any]]):
    return dataclasses.replace(outcome, stages=stages)


def run_job(
    job: FitJob, callback: Callable[[Progress], None] | None = None, ds=None
) -> dict[str, Any]:
    """Run one fit; write ``<out>/<stem>.nc/.json/.png`` and checkpoints in ``<out>/checkpoints``.

    With ``job.resume``: a finished result with the same inputs is returned as is; otherwise the
    checkpoint (if any) is continued. Returns the summary dict (+ ``"files"``).
    """
    out = Path(job.out) if job.out is not None else None
    result_path = out / f"{job.stem()}.nc" if out is not None else None
    if job.resume and result_path is not None and result_path.exists():
        done = load_result(result_path)
        if json.loads(done.attrs.get("inputs", "{}")) == json.loads(json.dumps(job.inputs())):
            return result_summary(done) | {"files": {"netcdf": str(result_path)}, "reused": True}
    problem, optimizer = prepare(job, ds)
    x0, init_note, M_ref = initial_vector(problem, job.init)
    settings = job.settings(init_note, problem.dim)
    if init_note != "default" and callable(getattr(optimizer, "add_start", None)):
        # a second, independent start from the closure's default: a poor start (M_mct in its
        # glass phase) cannot decide the result alone; the stop reason reports both runs
        optimizer.add_start(problem.initial_vector(), DEFAULT_START_SIGMA0)
    checkpoint = out / "checkpoints" / f"{job.stem()}.ckpt" if out is not None else None
    if problem.dim == 0:  # nothing to optimise (e.g. `tabulated`, `exponential:free=none`)
        outcome = FitOutcome(
            x=np.zeros(0), loss=float(problem.evaluate(np.zeros((1, 0)))[0]), evaluations=1,
            generations=0, history=np.zeros((0, 5)), stop_reason="no free parameters: evaluated once",
            elapsed=0.0,
        )  # fmt: skip
    else:
        outcome = run_fit(
            problem, optimizer, x0, settings,
            checkpoint=checkpoint, resume=job.resume, key=job.checkpoint_key(), callback=callback,
        )  # fmt: skip
    outcome = polish(problem, outcome, job, out, callback)
    result = build_result(problem, outcome, job, init_note, M_ref)
    result.info = dict(result.info) | {
        "stages": outcome.stages, "normalisation": problem.normalisation,
        "F0": problem.scale.tolist(), "budget": settings.budget,
    }  # fmt: skip
    if len(outcome.stages) > 1:
        result.optimizer = f"{job.optimizer} + lbfgs polish"
    files = save_result(result, result_path, plot=job.plot) if result_path is not None else {}
    return result.summary() | {"files": {k: str(v) for k, v in files.items()}, "reused": False}


def run_jobs(
    jobs: Sequence[FitJob],
    *,
    workers: int = 0,
    scheduler: str | None = None,
    on_progress: Callable[[int, Progress], None] | None = None,
    on_done: Callable[[int, dict[str, Any]], None] | None = None,
    on_error: Callable[[int, BaseException], None] | None = None,
) -> list[dict[str, Any]]:
    """Run ``jobs`` serially (``workers == 0`` and no scheduler) or through Dask; results in job order.

    With ``on_error``, a job that raises is reported there (its result stays None) and the others
    go on; without it the first failure propagates.

    ``workers > 0`` starts a LocalCluster of that many single-threaded worker processes;
    ``scheduler`` connects to an existing Dask scheduler (``tcp://host:8786``). Per-generation
    progress (``on_progress``) is only reported for serial runs; ``on_done`` for every finished job.
    """
    # each dataset is read once (only the jobs' states where its files allow) and, on Dask, sent
    # once to every worker: a directory of a few hundred state files costs ~0.15 s per file
    from memplug.data import load_dataset

    datasets: dict[str, Any] = {}
    for job in jobs:
        if job.dataset not in datasets:
            wanted = list(dict.fromkeys(j.state for j in jobs if j.dataset == job.dataset))
            datasets[job.dataset] = load_dataset(job.dataset, states=wanted)
    if workers <= 0 and scheduler is None:

        def one(i: int, job: FitJob) -> dict[str, Any]:
            cb = (lambda p: _from_callback(on_progress, i, p)) if on_progress else None
            return run_job(job, callback=cb, ds=datasets[job.dataset])

        try:
            return fan_out(one, list(enumerate(jobs)), on_done=on_done, on_error=on_error)
        except _CallbackRaised as stop:  # the caller's own interruption: not a failed fit
            raise stop.exc from None

    return fan_out(
        _run_job_in, [(j,) for j in jobs], workers=workers, scheduler=scheduler, on_done=on_done,
        shared={"datasets": datasets}, on_error=on_error,
    )  # fmt: skip


class _CallbackRaised(BaseException):
    """An exception of the caller's progress callback, carried through `run_job` unchanged (a
    BaseException, so that `fan_out`'s ``on_error`` does not take it for a failed fit)."""

    def __init__(self, exc: Exception):
        super().__init__(str(exc))
        self.exc = exc


def _from_callback(on_progress, i: int, progress) -> None:
    try:
        on_progress(i, progress)
    except Exception as exc:
        raise _CallbackRaised(exc) from exc


def _run_job_in(job: FitJob, datasets: dict[str, Any]) -> dict[str, Any]:
    """`run_job` with the job's dataset taken from ``datasets`` (name → loaded dataset)."""
    return run_job(job, ds=datasets.get(job.dataset))


def fan_out(
    fn: Callable[..., Any],
    args: Sequence[tuple],
    *,
    workers: int = 0,
    scheduler: str | None = None,
    on_done: Callable[[int, Any], None] | None = None,
    shared: dict[str, Any] | None = None,
    on_error: Callable[[int, BaseException], None] | None = None,
) -> list[Any]:
    """``[fn(*a, **shared) for a in args]`` on Dask, results in order: a LocalCluster of ``workers``
    single-threaded processes, or the existing scheduler at ``scheduler`` (``tcp://host:8786``);
    serially in this process when neither is given. ``shared`` keyword arguments (e.g. a loaded
    dataset) are sent to each worker once, not once per unit. ``on_done(i, result)`` as each
    finishes. Every unit of work should checkpoint itself, so a killed worker or scheduler costs
    only its unit. With ``on_error(i, exception)``, a unit that raises is reported there (its
    result stays None) and the others go on; without it the first failure propagates."""
    results: list[Any] = [None] * len(args)
    shared = dict(shared or {})
    if workers <= 0 and scheduler is None:
        for i, a in enumerate(args):
            try:
                results[i] = fn(*a, **shared)
            except Exception as exc:
                if on_error is None:
                    raise
                on_error(i, exc)
                continue
            if on_done:
                on_done(i, results[i])
        return results
    if not args:
        return results
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if scheduler is not None:
            try:
                client = Client(scheduler, timeout="10s")
            except OSError as exc:
                raise InputError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        else:
            cluster = LocalCluster(
                n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=None
            )
            client = Client(cluster)
        with client:
            sent = {k: client.scatter([v], broadcast=True)[0] for k, v in shared.items()}
            futures = [client.submit(fn, *a, **sent, pure=False) for a in args]
            index = {f.key: i for i, f in enumerate(futures)}
            for fut in as_completed(futures):
                i = index[fut.key]
                if on_error is not None and fut.status == "error":
                    on_error(i, fut.exception())
                    continue
                results[i] = fut.result()
                if on_done:
                    on_done(i, results[i])
    finally:
        if cluster is not None:
            cluster.close()
    return results  # type: ignore[return-value]
