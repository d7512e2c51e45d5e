"""``memplug run``, ``memplug compare`` and ``memplug experiment ...``: fit closures to dynamics.

memplug run --closure double-stretched --optimizer cmaes          # default dataset, a few states
memplug compare --closures exponential,double-stretched,stretched:n_exp=2
memplug experiment nexp-scan | mct-recovery | memory-vs-T
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import os
import tempfile
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import typer

from memplug.cli.tables import check_table, show, table_option, table_text, write_table
from memplug.errors import InputError
from memplug.interfaces import DEFAULT_DYNAMICS
from memplug.registry import Spec

experiment_app = typer.Typer(
    help="The paper's fitting experiments (N_exp scan, MCT recovery, memory vs T).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("compare")(compare_command)
    app.add_typer(experiment_app, name="experiment")


# --------------------------------------------------------------------------------------------
# shared option handling
# --------------------------------------------------------------------------------------------


def parse_range(text: str | None, option: str):
    """``"1.2"`` -> 1.2, ``"0.8:1.5"`` -> slice(0.8, 1.5) (inclusive), ``"0.8,0.9"`` -> [0.8, 0.9]."""
    if text is None:
        return None
    try:
        if ":" in text:
            lo, hi = text.split(":", 1)
            return slice(float(lo) if lo.strip() else None, float(hi) if hi.strip() else None)
        if "," in text:
            return [float(v) for v in text.split(",") if v.strip()]
        return float(text)
    except ValueError:
        raise InputError(f"{option} {text!r}: expected a number, LO:HI or a comma list") from None


#: The main job's states (liquid, supercooled, near T_mct of LJ at ρ = 1.2), used when the dataset
#: has them all: the README's result must not change as the default dataset grows.
MAIN_STATES = ("LJ-rho1.20-T15.000", "LJ-rho1.20-T1.350", "LJ-rho1.20-T0.810")


def default_states(ds, n: int = 3) -> list[str]:
    """A small default selection: `MAIN_STATES` where the dataset has them, else ``n``
    equilibrated states spread in T at one (potential, ρ) (LJ at ρ = 1.2 where present), from
    the warmest to near T_mct."""
    have = set(map(str, ds["state"].values))
    if n == len(MAIN_STATES) and have.issuperset(MAIN_STATES):
        return list(MAIN_STATES)
    pot = ds["potential"].values.astype(str)
    rho = ds["rho"].values.astype(float)
    status = ds["status"].values.astype(str)
    ok = status == "equilibrated"
    if not ok.any():
        ok = np.ones_like(ok)
    prefer = ok & (pot == "LJ") & (np.abs(rho - 1.2) < 1e-6)
    if prefer.sum() < n:  # else the (potential, ρ) with the most equilibrated states
        groups = sorted({(p, round(r, 6)) for p, r, o in zip(pot, rho, ok, strict=True) if o})
        counts = [int(np.sum(ok & (pot == p) & (np.abs(rho - r) < 1e-6))) for p, r in groups]
        if counts and max(counts) > prefer.sum():
            p, r = groups[int(np.argmax(counts))]
            prefer = ok & (pot == p) & (np.abs(rho - r) < 1e-6)
    idx = np.nonzero(prefer)[0]
    idx = idx[np.argsort(ds["T"].values[idx])[::-1]]  # warmest first
    if len(idx) > n:
        idx = idx[np.unique(np.round(np.linspace(0, (len(idx) - 1) * 0.6, n)).astype(int))]
    return [str(s) for s in ds["state"].values[idx]]


def select(
    dataset: str, state: list[str] | None, potential: str | None, rho: str | None, T: str | None
):
    from memplug.data import load_dataset, per_state_files, select_states

    state = list(dict.fromkeys(state)) if state else state
    if not (potential or rho or T):  # named states (or the main job's): read only their files
        wanted = state or list(MAIN_STATES)
        if per_state_files(dataset, wanted) is not None:
            return load_dataset(dataset, states=wanted), wanted
    ds = load_dataset(dataset)
    if state:
        have = set(map(str, ds["state"].values))
        missing = [s for s in state if s not in have]
        if missing:
            sample = ", ".join(sorted(have)[:6])
            raise InputError(
                f"--state: {', '.join(missing)} not in dataset {dataset!r} ({len(have)} states, e.g. {sample})"
            )
    if not (state or potential or rho or T):
        return ds, default_states(ds)
    sel = select_states(
        ds,
        state=state or None,
        potential=potential.split(",") if potential else None,
        rho=parse_range(rho, "--rho"),
        T=parse_range(T, "--T"),
    )
    return ds, [str(s) for s in sel["state"].values]


def check_out_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".write-test.", dir=out)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None


def parse_specs(kind: str, texts: list[str], option: str) -> list[Spec]:
    """Each ``NAME[:key=value,...]`` parsed and checked once, before any fit (`Spec.parse`: the
    name and option names; one instance: the plugin checks the option values). Two texts of the
    same spec (which would write the same result files twice) are an `InputError` naming ``option``."""
    specs = [Spec.parse(kind, t) for t in texts]
    for spec in specs:
        spec.create()
    canonical = [str(s) for s in specs]
    twice = sorted({c for c in canonical if canonical.count(c) > 1})
    if twice:
        raise InputError(f"{option}: {', '.join(twice)} given more than once")
    return specs


def write_json(path: Path, obj: Any) -> None:
    from memplug.io import atomic_write_json

    atomic_write_json(path, obj, default=str)


def execute(jobs, opts: FitOptions, title: str, *, table: bool = True) -> list[dict[str, Any]]:
    """Run jobs with a rich progress display, print the final table and (``table``) write its rows
    to ``--table``."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from memplug.cli.app import console
    from memplug.plugins.fitting.jobs import run_jobs

    t0 = time.perf_counter()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("gen {task.fields[gen]:>5}"),
        TextColumn("loss {task.fields[loss]}"),
        TimeElapsedColumn(),
    )
    dims = {c: _closure_dim(c) for c in dict.fromkeys(j.closure for j in jobs)}
    with Progress(*columns, console=console, transient=False) as progress:
        tasks = [
            progress.add_task(f"{j.state} {j.closure} {j.optimizer}", total=_bar_total(j, dims[j.closure]), gen=0,
                              loss="-", start=True)
            for j in jobs
        ]  # fmt: skip

        def on_progress(i, p):
            progress.update(
                tasks[i], completed=p.evaluations, gen=p.generation, loss=f"{p.best_loss:.3e}"
            )

        def on_done(i, r):
            progress.update(tasks[i], completed=r["evaluations"], total=r["evaluations"], gen=r["generations"],
                            loss=f"{r['loss']:.3e}")  # fmt: skip

        results = run_jobs(
            jobs,
            workers=opts.workers,
            scheduler=opts.scheduler,
            on_progress=on_progress,
            on_done=on_done,
        )
    show(results_table(results, title=f"{title} ({time.perf_counter() - t0:.1f} s)"))
    if table:
        write_table(opts.table, results_rows(results), RESULTS_COLUMNS)
    return results


#: Columns of ``--table`` of ``memplug run`` and ``memplug experiment ...`` (`results_rows`).
RESULTS_COLUMNS = (
    "state", "closure", "optimizer", "T_over_Tmct", "loss", "r2", "evaluations", "generations",
    "elapsed_s", "pinned", "flags", "stop_reason", "reused", "netcdf",
)  # fmt: skip


def results_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fits of `results_table` as plain rows (full precision; ``pinned``, ``flags``: lists)."""
    return [
        {c: r.get(c) for c in RESULTS_COLUMNS} | {"netcdf": r.get("files", {}).get("netcdf"), "reused": bool(r.get("reused"))}
        for r in results
    ]  # fmt: skip


def results_table(results: list[dict[str, Any]], title: str):
    """The fits as a table that fits 80 columns, then one line per fit with its stop reason, the
    parameters pinned at a bound and the trust flags (the full texts are in the .json)."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    varying = [c for c in ("closure", "optimizer") if len({r[c] for r in results}) > 1]
    first = " / ".join(["state", *varying])  # closures or optimizers that differ: under the state
    for col in (first, "T/T_mct", "loss", "R²", "evals", "s", "pinned", "flags"):
        table.add_column(col, justify="left" if col == first else "right", no_wrap=True, min_width=len(col),
                         overflow="fold")  # fmt: skip
    notes = []
    for r in results:
        tt = r.get("T_over_Tmct")
        pinned, flags = r.get("pinned"), r.get("flags")
        table.add_row(
            "\n".join([r["state"], *(str(r[c]) for c in varying)]),
            f"{tt:.2f}" if tt is not None else "-",
            f"{r['loss']:.2e}", f"{r['r2']:.5f}", str(r["evaluations"]), f"{r['elapsed_s']:.0f}",
            "-" if pinned is None else str(len(pinned)), "-" if flags is None else str(len(flags)),
        )  # fmt: skip
        line = f"{r['state']}{' ' + ' '.join(str(r[c]) for c in varying) if varying else ''}: "
        line += r["stop_reason"].split(";")[0] + (" (reused)" if r.get("reused") else "")
        if pinned:
            line += f"; pinned at a bound: {', '.join(pinned)}"
        if flags:
            line += "; " + "; ".join(text.split(":")[0] for text in flags)
        notes.append(line)
    return Group(table, Text("\n".join(notes)))


def check_stages(polish: str, normalisation: str) -> None:
    """--polish and --normalisation before any fit starts (a Dask fan-out would fail late)."""
    from memplug.fit import NORMALISATIONS
    from memplug.plugins.fitting.jobs import POLISH_METHODS

    if polish not in POLISH_METHODS:
        raise InputError(f"--polish: expected {' or '.join(POLISH_METHODS)}, got {polish!r}")
    if normalisation not in NORMALISATIONS:
        raise InputError(
            f"--normalisation: expected {' or '.join(NORMALISATIONS)}, got {normalisation!r}"
        )


def _closure_dim(closure: str) -> int:
    """The closure's number of parameters in a binary mixture at default statics."""
    from memplug.model import default_context

    return Spec.parse("closures", closure).create().space(default_context()).dim


def _bar_total(job, dim: int) -> int:
    """The progress bar's length: the job's budget, or the default budget for the closure's number
    of parameters ``dim`` in a binary mixture (the fit itself uses its statics' count), plus the polish."""
    from memplug.plugins.fitting.jobs import BUDGET_PER_PARAMETER, POLISH_BUDGET

    main = job.budget if job.budget is not None else BUDGET_PER_PARAMETER * max(dim, 1)
    return int(main + (POLISH_BUDGET[0] + POLISH_BUDGET[1] * dim if job.polish != "none" else 0))


def make_jobs(states, closures, optimizers, opts: FitOptions, out: Path, **fields) -> list:
    """The fit jobs of every (state, closure, optimizer), after the target's name and options are
    checked (before any progress bar); ``fields`` replace those of ``opts``."""
    from memplug.plugins.fitting.jobs import FitJob
    from memplug.targets import target_for

    common = opts.job_fields() | {"out": str(out)} | fields
    target_for(common["target"])
    return [
        FitJob(state=s, closure=c, optimizer=o, **common)
        for s in states
        for c in closures
        for o in optimizers
    ]


def _split(text: str, option: str = "--closures") -> list[str]:
    """Split a comma list of specs, keeping ``name:key=v,key=v`` options together.

    An empty list or a spec given twice (which would write the same result files twice) is an
    `InputError` naming ``option``.
    """
    out: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if out and "=" in part and ":" not in part.split("=")[0]:
            out[-1] += "," + part  # an option of the previous spec
        else:
            out.append(part)
    if not out:
        raise InputError(
            f"{option} {text!r}: expected a comma list of one or more names (NAME[:key=value,...])"
        )
    twice = sorted({x for x in out if out.count(x) > 1})
    if twice:
        raise InputError(f"{option} {text!r}: {', '.join(twice)} given more than once")
    return out


def _option(
    default: Any, *names: str, help: str, running: bool = False, cli_type: Any = None
) -> Any:
    """A `FitOptions` field: its default and its ``typer.Option`` (the one place of both);
    ``running`` options go at the end of ``--help``; ``cli_type`` if typer needs another type."""
    option = typer.Option(default, *names, help=help)
    return dataclasses.field(
        default=default, metadata={"option": option, "running": running, "cli_type": cli_type}
    )


@dataclass(frozen=True)
class FitOptions:
    """The options the fitting commands share, each with its ``typer.Option`` (`fit_options` adds
    them to a command's signature; their order here is the order of ``--help``: the selection and
    fit options, then the running options). A command without an option gets its default."""

    dataset: str = _option(
        "default", "--dataset", help="Registered dataset name or netCDF file/directory."
    )
    state: tuple[str, ...] | None = _option(
        None, "--state", help="State id(s), e.g. LJ-rho1.20-T0.800 (repeatable).", cli_type=list[str]
    )  # fmt: skip
    potential: str | None = _option(None, "--potential", help="LJ, WCA or LJ,WCA.")
    rho: str | None = _option(None, "--rho", help="Density: value, LO:HI or a comma list.")
    T: str | None = _option(None, "--T", help="Temperature: value, LO:HI or a comma list.")
    target: str = _option(
        "data", "--target",
        help="data, synthetic:closure=NAME,noise=SIGMA, mct, mlp:model=DIR (a `memplug mlp train` "
        "model) or another plugin's target.",
    )  # fmt: skip
    init: str = _option(
        "default",
        "--init",
        help="default, mct (fit the closure to M_mct first) or a previous result .nc.",
    )
    budget: int | None = _option(
        None, "--budget",
        help="Loss evaluations of the main optimizer per fit (a gradient evaluation counts as one). "
        "Default: 400 × the closure's number of parameters.",
    )  # fmt: skip
    target_loss: float = _option(
        1e-6, "--target-loss", help="Stop when the loss (Eq. 7) is at most this."
    )
    seed: int = _option(0, "--seed", help="Seed of every stochastic step.")
    sigma0: float | None = _option(
        None, "--sigma0",
        help="Initial step in the unconstrained parameter space (default: 5e-4 from --init mct or a result, 0.3 from the closure default).",
    )  # fmt: skip
    lasso: float = _option(
        0.0, "--lasso", help="λ₁ of the L1 term of Eq. 7 (on physical parameters)."
    )
    t_min: float | None = _option(None, "--t-min", help="Fit only target times >= this.")
    t_max: float | None = _option(None, "--t-max", help="Fit only target times <= this.")
    solver_n: int = _option(16, "--solver-n", help="Solver blocks of 4N points (1 to 1024).")
    dynamics: str = _option(
        DEFAULT_DYNAMICS, "--dynamics",
        help="newtonian (F'' + Ω²F + M*F' = 0, ballistic like MD data) or overdamped (paper Eq. 5).",
    )  # fmt: skip
    polish: str = _option(
        "lbfgs", "--polish",
        help="lbfgs: polish the optimizer's best point with L-BFGS through the solver (a separate stage); none.",
    )  # fmt: skip
    normalisation: str = _option(
        "unit", "--normalisation",
        help="unit: F_s(0) = 1 (the dataset's); paper: F_s^aa(0) = S^aa(k_p) (paper Eq. 1), weighting Eq. 7 and R² by S².",
    )  # fmt: skip
    resume: bool = _option(
        False, "--resume", help="Continue from checkpoints; reuse finished results.", running=True
    )
    workers: int = _option(
        0, "--workers", help="Fan out over N local Dask worker processes (0: serial).", running=True
    )
    scheduler: str | None = _option(
        None, "--scheduler", help="Address of an existing Dask scheduler.", running=True
    )
    compile_cache: Path | None = _option(
        None, "--compile-cache", running=True,
        help="Directory for compiled losses kept across runs (default: $MEMPLUG_COMPILATION_CACHE; unset: off).",
    )  # fmt: skip
    table: Path | None = dataclasses.field(
        default=None, metadata={"option": table_option(), "running": True, "cli_type": None}
    )

    #: The fields a `memplug.plugins.fitting.jobs.FitJob` takes from these options.
    JOB_FIELDS = (
        "dataset", "target", "init", "budget", "target_loss", "seed", "sigma0", "lasso", "t_min",
        "t_max", "solver_n", "dynamics", "polish", "normalisation", "resume",
    )  # fmt: skip

    def job_fields(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.JOB_FIELDS}


def fit_options(*names: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the shared options ``names`` to a command: its ``--help`` lists them (selection and fit
    options where the command has its ``opts`` parameter, running options at the end) and it is
    called with them as one `FitOptions` ``opts``. ``options``: another ``typer.Option`` for a name
    (e.g. another default)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn)
        own = list(sig.parameters.values())
        at = [p.name for p in own].index("opts")

        hints = typing.get_type_hints(FitOptions)

        def param(f: dataclasses.Field) -> inspect.Parameter:
            kind, default = (
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                options.get(f.name, f.metadata["option"]),
            )
            return inspect.Parameter(
                f.name, kind, default=default, annotation=f.metadata["cli_type"] or hints[f.name]
            )

        fields = [f for f in dataclasses.fields(FitOptions) if f.name in names]
        shared = [param(f) for f in fields if not f.metadata["running"]]
        running = [param(f) for f in fields if f.metadata["running"]]

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            given = {n: kwargs.pop(n) for n in names}
            if given.get("state") is not None:
                given["state"] = tuple(given["state"])
            return fn(**kwargs, opts=FitOptions(**given))

        command.__signature__ = sig.replace(
            parameters=[*own[:at], *shared, *own[at + 1 :], *running]
        )  # type: ignore[attr-defined]
        return command

    return decorate


#: Every shared option (``memplug run`` and ``compare`` take them all).
ALL_OPTIONS = tuple(f.name for f in dataclasses.fields(FitOptions))
#: What ``memplug experiment ...`` take: no Lasso, fit window, dynamics, polish or normalisation.
_EXPERIMENT = tuple(
    n
    for n in ALL_OPTIONS
    if n not in ("lasso", "t_min", "t_max", "dynamics", "polish", "normalisation")
)


#: Largest ``--solver-n``: the solver's block matrices grow as (4N)², ~130 MB of indices at 1024.
MAX_SOLVER_N = 1024


def check_scheduler(scheduler: str | None) -> None:
    """A Dask scheduler address must parse: ``tcp://HOST:PORT``, ``HOST:PORT``, ``inproc://...``."""
    if scheduler is None:
        return
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        protocol, location = parse_address(scheduler)
        if protocol != "inproc":
            parse_host_port(location)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"--scheduler {scheduler!r}: expected an address like tcp://HOST:8786 ({exc})"
        ) from None


def check_numbers(solver_n: int, sigma0: float | None, target_loss: float) -> None:
    """Options whose bad values would otherwise fail deep inside the solver or the optimizer."""
    if not 1 <= solver_n <= MAX_SOLVER_N:
        raise InputError(
            f"--solver-n: expected an integer in [1, {MAX_SOLVER_N}] (blocks of 4N points), "
            f"got {solver_n}"
        )
    if sigma0 is not None and not (math.isfinite(sigma0) and sigma0 > 0):
        raise InputError(f"--sigma0: expected a finite positive step, got {sigma0}")
    if not (math.isfinite(target_loss) and target_loss >= 0):
        raise InputError(f"--target-loss: expected a finite value >= 0, got {target_loss}")


def _prepare(opts: FitOptions, out: Path, closures: list[str], optimizers: list[str]):
    """Check the options shared by every fitting command, before any fit: the states selected,
    the closures and optimizers as `Spec` (parsed and checked once)."""
    from memplug.fit import enable_compilation_cache

    enable_compilation_cache(opts.compile_cache)
    if opts.budget is not None and opts.budget <= 0:
        raise InputError(f"--budget: expected a positive number of evaluations, got {opts.budget}")
    if opts.workers < 0:
        raise InputError(f"--workers: expected >= 0, got {opts.workers}")
    check_numbers(opts.solver_n, opts.sigma0, opts.target_loss)
    check_scheduler(opts.scheduler)
    check_table(opts.table)
    cl, op = (
        parse_specs("closures", closures, "--closures"),
        parse_specs("optimizers", optimizers, "--optimizers"),
    )
    _, states = select(
        opts.dataset, list(opts.state) if opts.state else None, opts.potential, opts.rho, opts.T
    )
    check_out_dir(out)
    check_stages(opts.polish, opts.normalisation)
    return states, cl, op


# --------------------------------------------------------------------------------------------
# closure comparison (memplug compare)
# --------------------------------------------------------------------------------------------

#: Columns of ``compare.csv`` and of the comparison table, in order.
COMPARISON_COLUMNS = (
    "state", "closure", "optimizer", "k", "n", "loss", "ssr", "r2", "rmse", "aic", "bic",
    "delta_aic", "delta_bic",
)  # fmt: skip


def comparison(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Goodness of fit of each (state, closure, optimizer) result, on the points it was fitted to.

    Per result file (``in_window`` times × species): ``k`` the number of free parameters (the
    optimizer's vector, every closure parameter), ``n`` the number of fitted values, ``ssr`` the sum
    of squared residuals (the loss of Eq. 7 without the Lasso term), ``r2`` (Eqs. 2-4), ``rmse``
    (SI Eq. S1 for one state: sqrt(SSR)), ``aic``/``bic`` (`memplug.fit.information_criteria`:
    Gaussian likelihood with σ̂² = SSR/n) and ``delta_aic``/``delta_bic``: the difference to the
    smallest value among the results of the same state and the same n. The residuals of MD
    correlation functions are correlated in time, so the absolute criteria overstate n; only these
    differences, at equal n, are compared. A fit without a finite solution has NaN criteria.
    """
    from memplug.fit import information_criteria, r2_score, rmse_eq_s1
    from memplug.fit_results import load_result

    rows = []
    for r in results:
        ds = load_result(r["files"]["netcdf"])
        w = ds["in_window"].values.astype(bool)
        fit, data = ds["F_fit"].values[w], ds["F_target"].values[w]
        n, k = int(fit.size), int(ds.sizes["param"])
        ssr = float(np.sum((fit - data) ** 2))
        aic, bic = information_criteria(ssr, n, k) if math.isfinite(ssr) else (math.nan, math.nan)
        rows.append({
            "state": r["state"], "closure": r["closure"], "optimizer": r["optimizer"],
            "k": k, "n": n, "loss": float(r["loss"]), "ssr": ssr, "r2": r2_score(fit, data),
            "rmse": rmse_eq_s1(fit, data) if math.isfinite(ssr) else math.nan,
            "aic": aic, "bic": bic,
        })  # fmt: skip
    for row in rows:
        same = [o for o in rows if o["state"] == row["state"] and o["n"] == row["n"]]
        for c in ("aic", "bic"):
            best = min((o[c] for o in same if math.isfinite(o[c])), default=math.nan)
            ok = math.isfinite(row[c]) and math.isfinite(best)
            row[f"delta_{c}"] = row[c] - best if ok else math.nan
    return rows


def comparison_table(rows: list[dict[str, Any]]):
    """The rich table of `comparison` (the best closure of a state has ΔAIC = 0); the state
    and optimizer columns only when they vary."""
    from rich.table import Table

    keys = [c for c in ("state", "optimizer") if len({r[c] for r in rows}) > 1]
    keys.insert(1 if "state" in keys else 0, "closure")
    title = "memplug compare" + (f": {rows[0]['state']}" if "state" not in keys and rows else "")
    table = Table(title=title, caption="AIC, BIC: compare only Δ within a state (same n)")
    heads = {"k": "k", "n": "n", "loss": "loss", "r2": "R²", "rmse": "RMSE S1", "aic": "AIC",
             "bic": "BIC", "delta_aic": "ΔAIC", "delta_bic": "ΔBIC"}  # fmt: skip
    fmt = {"k": "{:d}", "n": "{:d}", "loss": "{:.3e}", "r2": "{:.5f}", "rmse": "{:.3e}",
           "aic": "{:.1f}", "bic": "{:.1f}", "delta_aic": "{:.1f}",
           "delta_bic": "{:.1f}"}  # fmt: skip
    for col in keys:
        table.add_column(col, justify="left", overflow="fold")
    for col in heads.values():
        table.add_column(col, justify="right", overflow="fold")
    for row in rows:
        nan = [isinstance(row[c], float) and math.isnan(row[c]) for c in heads]
        cells = ["-" if bad else fmt[c].format(row[c]) for c, bad in zip(heads, nan, strict=True)]
        table.add_row(*(row[c] for c in keys), *cells)
    return table


def comparison_csv(rows: list[dict[str, Any]]) -> str:
    """`comparison` rows as CSV text: a header (`COMPARISON_COLUMNS`), then the rows
    at full precision."""
    return table_text("compare.csv", rows, COMPARISON_COLUMNS)


# --------------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------------


@fit_options(*ALL_OPTIONS)
def run_command(
    closure: str = typer.Option("double-stretched", "--closure", "-c", help="Closure name[:options]."),
    optimizer: str = typer.Option("cmaes", "--optimizer", "-o", help="cmaes[:popsize=N], nevergrad:NAME, gradient[:method=adam]."),
    opts: FitOptions = FitOptions(),
    out: Path = typer.Option(Path("results"), "--out", help="Results directory."),
) -> None:  # fmt: skip
    """Fit a closure to the dynamics of each selected state (paper Eq. 7) and write results."""
    states, cl, op = _prepare(opts, out, [closure], [optimizer])
    jobs = make_jobs(states, cl, op, opts, out)
    results = execute(jobs, opts, title=f"memplug run: {closure} with {optimizer}")
    write_json(out / "summary.json", results)


@fit_options(*ALL_OPTIONS)
def compare_command(
    closures: str = typer.Option("exponential,double-stretched,stretched:n_exp=2", "--closures", help="Comma list of closures."),
    optimizers: str = typer.Option("cmaes", "--optimizers", help="Comma list of optimizers."),
    opts: FitOptions = FitOptions(),
    out: Path = typer.Option(Path("results/compare"), "--out", help="Results directory."),
) -> None:  # fmt: skip
    """Fit several closures (and/or optimizers) to the same states: one table and one figure."""
    states, cl, op = _prepare(
        opts, out, _split(closures, "--closures"), _split(optimizers, "--optimizers")
    )
    jobs = make_jobs(states, cl, op, opts, out)
    results = execute(jobs, opts, title="memplug compare", table=False)
    rows = comparison(results)
    from memplug.cli.app import console
    from memplug.io import atomic_write_text
    from memplug.plugins.fitting.figures import compare_figures

    show(comparison_table(rows))
    write_table(opts.table, rows, COMPARISON_COLUMNS)
    write_json(out / "compare.json", [r | row for r, row in zip(results, rows, strict=True)])
    atomic_write_text(out / "compare.csv", comparison_csv(rows))
    figures = compare_figures(results, out, rows)
    written = [out / "compare.csv", out / "compare.json", *figures]
    console.print(f"wrote {', '.join(map(str, written))}", soft_wrap=True)


# --------------------------------------------------------------------------------------------
# experiments
# --------------------------------------------------------------------------------------------


@experiment_app.command("nexp-scan")
@fit_options(*_EXPERIMENT)
def nexp_scan_command(
    n_exp: str = typer.Option("1,2,3,4", "--n-exp", help="Values of N_exp of Eq. 6."),
    optimizer: str = typer.Option("cmaes", "--optimizer", "-o"),
    opts: FitOptions = FitOptions(),
    out: Path = typer.Option(Path("results/nexp-scan"), "--out"),
) -> None:  # fmt: skip
    """R² vs N_exp of Eq. 6 per state (paper Fig. 7: N_exp = 2 is the minimum)."""
    values = _split(n_exp, "--n-exp")
    try:
        ns = [int(v) for v in values]
    except ValueError:
        raise InputError(f"--n-exp {n_exp!r}: expected a comma list of integers") from None
    states, cl, op = _prepare(opts, out, [f"stretched:n_exp={n}" for n in ns], [optimizer])
    jobs = make_jobs(states, cl, op, opts, out)
    results = execute(jobs, opts, title="N_exp scan (Eq. 6)")
    write_json(out / "nexp-scan.json", results)
    from memplug.plugins.fitting.figures import nexp_figure

    nexp_figure(results, ns, out / "nexp-scan.png")


@experiment_app.command("mct-recovery")
@fit_options(*(n for n in _EXPERIMENT if n not in ("target", "init")))
def mct_recovery_command(
    closure: str = typer.Option("stretched:n_exp=2", "--closure", "-c"),
    optimizer: str = typer.Option("cmaes", "--optimizer", "-o"),
    opts: FitOptions = FitOptions(),
    out: Path = typer.Option(Path("results/mct-recovery"), "--out"),
) -> None:  # fmt: skip
    """Fit F produced by M_mct through Eq. 5 and compare the fitted M with M_mct (paper SI Figs. S5-S6)."""
    states, cl, op = _prepare(opts, out, [closure], [optimizer])
    jobs = make_jobs(states, cl, op, opts, out, target="mct", init="default")
    results = execute(jobs, opts, title="ES targeting MCT dynamics", table=False)
    from memplug.plugins.fitting.figures import memory_distance

    for r in results:
        r["memory_relative_error"] = memory_distance(r["files"]["netcdf"])
    rows = [
        row | {"memory_relative_error": r["memory_relative_error"]}
        for r, row in zip(results, results_rows(results), strict=True)
    ]
    write_table(opts.table, rows)
    write_json(out / "mct-recovery.json", results)


@experiment_app.command("memory-vs-T")
@fit_options(
    *(n for n in _EXPERIMENT if n not in ("state", "target")),
    potential=typer.Option("LJ", "--potential"), rho=typer.Option("1.2", "--rho"),
)  # fmt: skip
def memory_vs_T_command(
    closure: str = typer.Option("stretched:n_exp=2", "--closure", "-c"),
    optimizer: str = typer.Option("cmaes", "--optimizer", "-o"),
    opts: FitOptions = FitOptions(),
    mct_reference: bool = typer.Option(True, "--mct-reference/--no-mct-reference", help="Compare with M_mct (one MCT solve per state)."),
    out: Path = typer.Option(Path("results/memory-vs-T"), "--out"),
) -> None:  # fmt: skip
    """Fitted M(t) against M_mct across the temperatures of one (potential, ρ) (paper Fig. 6)."""
    states, cl, op = _prepare(opts, out, [closure], [optimizer])
    jobs = make_jobs(states, cl, op, opts, out, target="data", mct_reference=mct_reference)
    results = execute(jobs, opts, title=f"memory vs T ({opts.potential}, ρ = {opts.rho})")
    write_json(out / "memory-vs-T.json", results)
    from memplug.plugins.fitting.figures import memory_vs_T_figure

    memory_vs_T_figure(results, out / "memory-vs-T.png")
