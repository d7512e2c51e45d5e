"""The kernels scan: M_mct per state, then every (state, experiment) fit through
`memplug.plugins.fitting.jobs.run_jobs` (serial, or Dask with ``workers``/``scheduler``), then the
kernels dataset.

Layout of the output directory ``DIR``::

    DIR/mct/<state>.nc                         M_mct(t), F_mct(t) per state (mct_cache)
    DIR/fits/<experiment>/<stem>.nc, .json     one fit result per state (memplug-fit/1)
    DIR/fits/<experiment>/checkpoints/         per-fit checkpoints (main optimizer and polish)
    DIR/fits/timing.json                       wall and CPU seconds per fit (serial runs)
    DIR/kernels.nc                             the kernels dataset (assemble)

Resuming (running the same command again) skips finished fits — a result whose recorded inputs
equal the job's (inputs added to `FitJob` since, at their defaults,
count as equal) — continues checkpointed ones from their last generation, and reuses the cached
M_mct of unchanged states. A fit's result depends only on its job (seed included), so an
interrupted and resumed scan writes the same kernels dataset as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memplug.errors import InputError
from memplug.plugins.kernels.plan import (
    DEFAULT_LASSO,
    MCT_RECOVERY_WINDOW,
    OVERDAMPED_T_MIN_VIBRATIONS,
    PAPER_CLOSURES,
    PART_CLOSURE,
    Experiment,
    closure_dim,
    fit_t_min,
    mct_recovery_experiment,
    parse_experiments,
    result_path,
    select_states,
    tmct,
)

POLISH = ("lbfgs", "none")
INITS = ("default", "mct")


@dataclass(frozen=True)
class ScanConfig:
    """Everything that defines a kernels scan (the options of ``memplug kernels scan``).

    ``budget_scale`` multiplies the default budget of every fit (``BUDGET_PER_PARAMETER`` × the
    closure's number of parameters; 1 keeps the default); the L-BFGS polish keeps its own budget
    (``polish="none"`` skips it). ``lasso`` > 0 adds the Lasso part (``stretched:n_exp=2`` with
    λ₁ = ``lasso``); ``mct_recovery`` adds the fits to F_mct on states with 1.02 ≤ T/T_mct ≤ 1.3
    (memplug's T_mct) where F_mct decays. ``mct`` False skips the MCT solves (M_mct left NaN).
    """

    out: Path
    dataset: str = "default"
    states: str = "equilibrated"
    closures: str = PAPER_CLOSURES
    mct_recovery: bool = False
    lasso: float = 0.0
    budget_scale: float = 1.0
    seed: int = 0
    solver_n: int = 16
    polish: str = "lbfgs"
    init: str = "default"
    overdamped_vibrations: float = OVERDAMPED_T_MIN_VIBRATIONS
    mct: bool = True
    workers: int = 0
    scheduler: str | None = None
    command: str = ""
    extra_attrs: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        """Options that would otherwise fail deep inside a fit: one-line `InputError`."""
        if not (math.isfinite(self.budget_scale) and self.budget_scale > 0):
            raise InputError(
                f"--budget-scale: expected a finite number > 0, got {self.budget_scale}"
            )
        if not (math.isfinite(self.lasso) and self.lasso >= 0):
            raise InputError(
                f"--lasso: expected a finite λ₁ >= 0 (0: no Lasso part), got {self.lasso}"
            )
        if self.polish not in POLISH:
            raise InputError(f"--polish: expected {' or '.join(POLISH)}, got {self.polish!r}")
        if self.init not in INITS:
            raise InputError(f"--init: expected {' or '.join(INITS)}, got {self.init!r}")
        if not 1 <= self.solver_n <= 1024:
            raise InputError(f"--solver-n: expected an integer in [1, 1024], got {self.solver_n}")
        if self.workers < 0:
            raise InputError(f"--workers: expected >= 0, got {self.workers}")
        if not 0 <= self.seed < 2**32:
            raise InputError(f"--seed: expected an integer in [0, 2^32), got {self.seed}")
        if not (math.isfinite(self.overdamped_vibrations) and self.overdamped_vibrations >= 0):
            raise InputError(
                f"--overdamped-t-min: expected a number of vibrational times >= 0, got {self.overdamped_vibrations}"
            )

    def experiments(self) -> list[Experiment]:
        """The main experiments (``closures``) plus the Lasso part (if ``lasso`` > 0); the
        MCT-recovery experiment is added per state by `plan_jobs`."""
        out = parse_experiments(self.closures)
        if self.lasso > 0:
            out.append(Experiment(PART_CLOSURE, "newtonian", "data", float(self.lasso)))
        return out


# --------------------------------------------------------------------------------------------
# jobs
# --------------------------------------------------------------------------------------------


def plan_jobs(cfg: ScanConfig, ds, states: Sequence[str], mct: dict[str, dict[str, Any]]):
    """``[(state, experiment, FitJob)]`` of the scan: every state × experiment, and the
    MCT-recovery fit where the state qualifies (`mct_recovery_eligible`)."""
    from memplug.data import context_for
    from memplug.plugins.fitting.jobs import BUDGET_PER_PARAMETER, FitJob

    experiments = cfg.experiments()
    ctx = context_for(ds, states[0], dynamics="overdamped")
    dims = {
        e.closure: closure_dim(e.closure, ctx) for e in [*experiments, mct_recovery_experiment()]
    }
    out = []
    for state in states:
        todo = list(experiments)
        if cfg.mct_recovery and mct_recovery_eligible(ds, state, mct.get(state)):
            todo.append(mct_recovery_experiment())
        for exp in todo:
            dataset = str(mct_targets_path(cfg.out)) if exp.target == "mct" else cfg.dataset
            budget = None
            if cfg.budget_scale != 1.0:
                budget = max(
                    1, int(round(cfg.budget_scale * BUDGET_PER_PARAMETER * dims[exp.closure]))
                )
            job = FitJob(
                state=state, closure=exp.closure, optimizer="cmaes", dataset=dataset,
                target=exp.target, init=cfg.init, budget=budget, seed=int(cfg.seed),
                lasso=float(exp.lasso), t_min=fit_t_min(ds, state, exp, cfg.overdamped_vibrations),
                solver_n=int(cfg.solver_n), dynamics=exp.dynamics, polish=cfg.polish,
                out=str(Path(cfg.out) / "fits" / exp.slug()), resume=True, plot=False,
            )  # fmt: skip
            out.append((state, exp, job))
    return out


def scan_order(ds, states: Sequence[str]) -> list[str]:
    """``states`` sorted by T/T_mct (memplug's), then visited in van der Corput order (1/2, 1/4,
    3/4, 1/8, ...): every prefix of the result samples the whole T/T_mct range about evenly."""

    def x(s: str) -> float:
        T, T_c, _ = state_tmct(ds, s, "memplug")
        return T / T_c if math.isfinite(T_c) else math.inf

    ranked = sorted(states, key=lambda s: (x(s), s))
    n = len(ranked)
    bits = max(1, (n - 1).bit_length())
    keys = [int(f"{i:0{bits}b}"[::-1], 2) for i in range(n)]
    return [ranked[i] for i in sorted(range(n), key=lambda i: (keys[i], i))]


def state_tmct(ds, state: str, source: str = "memplug") -> tuple[float, float, str]:
    """(T, T_mct, source name) of a state."""
    one = ds.sel(state=state)
    value, name = tmct(str(one["potential"].values), float(one["rho"]), source)
    return float(one["T"]), value, name


def mct_recovery_eligible(ds, state: str, mct_summary: dict[str, Any] | None) -> bool:
    """1.02 ≤ T/T_mct (memplug's) ≤ 1.3 and MCT is ergodic there (F_mct decays before the
    cache's horizon; the fit gets a time grid reaching past that decay)."""
    T, T_c, _ = state_tmct(ds, state, "memplug")
    lo, hi = MCT_RECOVERY_WINDOW
    in_window = math.isfinite(T_c) and lo <= T / T_c <= hi
    return bool(in_window and mct_summary is not None and mct_summary.get("ergodic"))


def mct_targets_path(out: Path) -> Path:
    """The derived dataset of the MCT-recovery fits (`mct_cache.mct_target_dataset`)."""
    return Path(out) / "mct" / "targets.nc"


def finished(job) -> dict[str, Any] | None:
    """The summary of ``job``'s finished result, or None if it must (still) run.

    Reused when the recorded inputs equal the job's; inputs the job has and the file lacks (a
    FitJob field added since) must be at their defaults, inputs the file has and the job lacks
    make it stale."""
    from memplug.fit_results import load_result, result_summary
    from memplug.plugins.fitting.jobs import FitJob

    path = result_path(job)
    if not path.exists():
        return None
    try:
        done = load_result(path)
    except InputError:
        return None
    stored = json.loads(done.attrs.get("inputs", "{}"))
    now = json.loads(json.dumps(job.inputs()))
    defaults = json.loads(json.dumps(FitJob(state=job.state).inputs()))
    if set(stored) - set(now):
        return None
    for key, value in now.items():
        if (stored[key] if key in stored else defaults.get(key)) != value:
            return None
    return result_summary(done) | {"files": {"netcdf": str(path)}, "reused": True}


def _load_timing(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# --------------------------------------------------------------------------------------------
# the scan
# --------------------------------------------------------------------------------------------


def run_scan(
    cfg: ScanConfig,
    *,
    log: Callable[[str], None] = print,
    on_progress: Callable[[int, Any], None] | None = None,
    kernels_path: Path | None = None,
    fit: bool = True,
) -> Path:
    """Run (or resume) the scan of ``cfg`` and write the kernels dataset; returns its path
    (``cfg.out / "kernels.nc"`` unless ``kernels_path``). ``on_progress(i, progress)`` gets the
    serial runs' per-generation progress (an exception raised there interrupts the scan, which a
    later call resumes). ``fit=False`` runs no fit and no MCT solve: the file holds what is
    finished (``done`` marks it), e.g. while a scan is still running."""
    from memplug.data import load_dataset
    from memplug.io import atomic_write_json
    from memplug.plugins.fitting.jobs import fan_out, run_jobs
    from memplug.plugins.kernels.mct_cache import compute_mct

    cfg.check()
    cfg.experiments()  # closure specs are checked before any work
    out = Path(cfg.out)
    _writable(out)
    ds = load_dataset(cfg.dataset)
    states = select_states(ds, cfg.states)

    # 1. M_mct per state (cached)
    mct: dict[str, dict[str, Any]] = {}
    if cfg.mct:
        # without ``fit`` (assemble what is finished) only cached M_mct are read
        from memplug.plugins.kernels.mct_cache import cache_path

        args = [
            (cfg.dataset, s, str(out / "mct"))
            for s in states
            if fit or cache_path(out / "mct", s).exists()
        ]

        def mct_done(i, r):
            mct[r["state"]] = r
            if not r["reused"]:
                log(
                    f"M_mct {r['state']}: {r['status']}, F_mct decays by t = {r['t_decay']:.3g} "
                    f"({'within' if r['decays'] else 'after'} the MD window; {r['cpu_s']:.1f} s CPU)"
                )

        fan_out(compute_mct, args, workers=cfg.workers, scheduler=cfg.scheduler, on_done=mct_done,
                shared={"ds": ds.sel(state=states)})  # fmt: skip
        if cfg.mct_recovery:
            from memplug.plugins.kernels.mct_cache import mct_target_dataset

            eligible = [s for s in states if mct_recovery_eligible(ds, s, mct.get(s))]
            log(
                f"MCT recovery: {len(eligible)} states at {MCT_RECOVERY_WINDOW[0]}-"
                f"{MCT_RECOVERY_WINDOW[1]} T_mct with F_mct decaying: {', '.join(eligible) or '-'}"
            )
            if fit:  # (an assembly must not rewrite the targets a running scan reads)
                mct_target_dataset(ds, eligible, mct, mct_targets_path(out))

    # 2. the fits, states in an order whose every prefix spans the T/T_mct range (an interrupted
    # scan is already a thin version of the whole one)
    planned = plan_jobs(cfg, ds, scan_order(ds, states), mct)
    results: list[dict[str, Any] | None] = [finished(job) for _, _, job in planned]
    todo = [i for i, r in enumerate(results) if r is None]
    log(
        f"{len(planned)} fits on {len(states)} states: {len(planned) - len(todo)} finished, {len(todo)} to run"
    )
    timing_path = out / "fits" / "timing.json"
    timing = _load_timing(timing_path)
    mark = [time.perf_counter(), time.process_time()]
    serial = cfg.workers <= 0 and cfg.scheduler is None

    def done(k: int, r: dict[str, Any]) -> None:
        i = todo[k]
        results[i] = r
        state, exp, job = planned[i]
        wall, cpu = time.perf_counter() - mark[0], time.process_time() - mark[1]
        mark[:] = [time.perf_counter(), time.process_time()]
        entry = {"elapsed_s": float(r["elapsed_s"]), "mode": "serial" if serial else "dask",
                 "load_1min": os.getloadavg()[0]}  # fmt: skip
        if serial:
            entry |= {"wall_s": wall, "cpu_s": cpu}
        timing[str(result_path(job).relative_to(out))] = entry
        atomic_write_json(timing_path, timing)
        log(
            f"[{k + 1}/{len(todo)}] {state} {exp.label()}: R² {r['r2']:.5f}, loss {r['loss']:.3e}, "
            + (
                f"wall {wall:.0f} s, CPU {cpu:.0f} s"
                if serial
                else f"optimizer {r['elapsed_s']:.0f} s"
            )
        )

    if todo and not fit:
        log(
            f"--assemble-only: the kernels dataset holds the {len(planned) - len(todo)} finished fits "
            f"(`done` is false for the other {len(todo)})"
        )
    elif todo:
        (out / "fits").mkdir(parents=True, exist_ok=True)
        failed: list[str] = []

        def fail(k: int, exc: BaseException) -> None:
            # one fit that raises (a bug, a state the closure cannot take) never stops the scan:
            # it is reported, has no result file, and the next run of the command retries it
            state, exp, _ = planned[todo[k]]
            failed.append(f"{state} {exp.label()}")
            first = str(exc).splitlines()[0] if str(exc) else ""
            log(
                f"[{k + 1}/{len(todo)}] {state} {exp.label()}: FAILED ({type(exc).__name__}: {first}); retried on the next run"
            )

        run_jobs([planned[i][2] for i in todo], workers=cfg.workers, scheduler=cfg.scheduler,
                 on_progress=(lambda k, p: on_progress(todo[k], p)) if on_progress else None,
                 on_done=done, on_error=fail)  # fmt: skip
        if failed:
            log(
                f"{len(failed)} fits failed and are not in the kernels dataset: {', '.join(failed)}"
            )

    # 3. the kernels dataset
    from memplug.plugins.kernels.assemble import assemble

    path = Path(kernels_path) if kernels_path is not None else out / "kernels.nc"
    assemble(cfg, ds, states, planned, mct, timing, path)
    log(f"wrote {path}")
    return path


def _writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None


__all__ = [
    "DEFAULT_LASSO",
    "ScanConfig",
    "finished",
    "plan_jobs",
    "run_scan",
    "scan_order",
    "state_tmct",
]
