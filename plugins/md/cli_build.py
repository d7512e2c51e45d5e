"""``memplug dataset build`` and ``memplug dataset info``: campaigns of MD runs.

Added to the ``memplug dataset`` group of the datasets plugin (`memplug.plugins.datasets.cli_dataset.dataset_app`) by the ``md``
plugin's ``register_commands`` hook.
"""

from __future__ import annotations

import contextlib
import math
import os
import traceback
from pathlib import Path

import typer
from rich.table import Table

from memplug.cli.tables import table_option
from memplug.errors import InputError
from memplug.plugins.datasets.cli_dataset import dataset_app


def _default_spec() -> Path:
    from memplug.data import dataset_path

    return dataset_path("default").parent / "campaign.toml"


def _default_workdir(name: str) -> Path:
    from memplug.io import user_cache_dir

    return user_cache_dir("campaign", name)


# --------------------------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------------------------


def _worker(
    spec: str, sid: str, workdir: str, threads: int, output: str, queue, budget: float | bool | None
) -> dict:
    """Run one state in a worker process; progress goes through ``queue`` (None: not reported)."""
    from memplug.plugins.md.campaign import load_campaign, run_planned_state

    campaign = load_campaign(spec)
    campaign.output = Path(output)
    s = campaign.get(sid)
    why = _deferred_now(campaign, s, budget)
    if why:
        return {"deferred": why}

    def progress(state: str, done: float, total: float) -> None:
        queue.put((state, done, total))

    try:
        return run_planned_state(campaign, s, workdir, threads=threads, output=Path(output),
                                 progress=progress if queue is not None else None)  # fmt: skip
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}


def _dask_task(
    spec: str, sid: str, workdir: str, threads: int, output: str, budget: float | bool | None
) -> dict:
    """One state as a Dask task (``--workers``/``--scheduler``): as `_worker`, progress only
    on completion. A worker that dies mid-state has its task re-run elsewhere, which resumes the
    state from its checkpoint in ``workdir`` (shared by all workers)."""
    return _worker(spec, sid, workdir, threads, output, None, budget)


def _deferred_now(campaign, s, budget: float | bool | None) -> str:
    """Re-check the budget just before a state starts: states finished since the build began (colder
    ones in particular) sharpen the τ_α extrapolation. ``budget`` False: no check (``--only``); None:
    the spec's ``max_state_cpu_hours``."""
    if budget is False:
        return ""
    return campaign.over_budget(s, campaign.measured(), budget)


def _stop_pool(pool) -> None:
    pool.shutdown(wait=False, cancel_futures=True)
    # no public API for running workers; _processes is None once the pool has shut down
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.terminate()
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.join(timeout=10)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Within the block SIGTERM behaves like Ctrl-C, so ``kill`` of a build also stops its workers."""
    import signal

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataset_app.command("build")
def build_command(
    spec: Path = typer.Argument(None, help="Campaign spec (TOML). Default: the default dataset's."),
    workdir: Path = typer.Option(
        None,
        "--workdir",
        help="Trajectories and restart files (keep outside version control). Default: ~/.cache/memplug/campaign/<name>.",
    ),
    output: Path = typer.Option(
        None, "--output", "-o", help="Directory of per-state files. Default: the spec's `output`."
    ),
    only: list[str] = typer.Option(
        None,
        "--only",
        help="Build only this state (repeatable); re-runs it even if its file exists.",
    ),
    jobs: int = typer.Option(
        0, "--jobs", "-j", help="States run in parallel. Default: cores // threads."
    ),
    threads: int = typer.Option(
        0, "--threads", help="OpenMP threads per state. Default: the spec's."
    ),
    limit: int = typer.Option(0, "--limit", help="Stop after this many states (0: all)."),
    skip_failed: bool = typer.Option(
        False, "--skip-failed", help="Do not retry states that failed before."
    ),
    budget_hours: float = typer.Option(
        None,
        "--budget-hours",
        help="Per-state CPU budget (hours): states predicted to cost more are deferred. Default: the spec's max_state_cpu_hours (none: no limit).",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print what would run, in order, and stop."
    ),
    fresh: bool = typer.Option(
        False,
        "--fresh",
        help="Delete each state's work directory first (regenerate from scratch instead of resuming).",
    ),
    workers: int = typer.Option(
        0,
        "--workers",
        help="Run the states on a local Dask cluster of N single-state worker processes (each with --threads OpenMP threads).",
    ),
    scheduler: str = typer.Option(
        None,
        "--scheduler",
        help="Run the states on an existing Dask cluster (tcp://host:8786; the work directory must be shared).",
    ),
) -> None:
    """Simulate the campaign's missing states, cheapest first; each finished state is written atomically.

    Interrupt at any time: the same command resumes (finished states are skipped, a state in progress
    resumes from its work directory).
    """
    import concurrent.futures as cf
    import multiprocessing as mp

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from memplug.cli.app import console
    from memplug.plugins.md.campaign import (
        load_campaign,
        read_log,
        run_planned_state,
        survey,
        write_log,
    )

    campaign = load_campaign(spec or _default_spec())
    out_dir = Path(output) if output else campaign.output
    if output:
        campaign.output = out_dir
    threads = threads or campaign.threads
    if threads < 1:
        raise InputError("--threads: expected ≥ 1")
    if workers < 0:
        raise InputError(f"--workers: expected a number of worker processes ≥ 0, got {workers}")
    if scheduler is not None:
        from memplug.plugins.fitting.cli import check_scheduler

        check_scheduler(scheduler)
    jobs = jobs or max(1, (os.cpu_count() or 1) // threads)
    wd = Path(workdir) if workdir else _default_workdir(campaign.name)
    log = read_log(campaign)

    if budget_hours is not None and budget_hours <= 0:
        raise InputError(
            f"--budget-hours: expected a positive number of hours, got {budget_hours:g}"
        )
    measured = campaign.measured()
    deferred: list[tuple[str, str]] = []
    if only:
        todo = [campaign.get(sid) for sid in only]
    else:
        status = {st.sid: st for st in survey(campaign)}
        todo = []
        for s in campaign.ordered(measured):
            if status[s.id].done or (skip_failed and status[s.id].status == "failed"):
                continue
            why = campaign.over_budget(s, measured, budget_hours)
            if why:
                deferred.append((s.id, why))
            else:
                todo.append(s)
    if limit:
        todo = todo[:limit]
    jobs = max(1, min(jobs, len(todo)))
    console.print(
        f"campaign [bold]{campaign.name}[/]: {len(campaign.states)} planned, {len(todo)} to run; "
        f"{jobs} job(s) × {threads} thread(s); output {out_dir}; work {wd}"
    )
    for sid, why in deferred:
        console.print(f"  [yellow]deferred[/] {sid}: {why}")
    check = False if only else budget_hours  # --only runs what it is told
    if dry_run:
        for s in todo:
            console.print(
                f"  {s.id:22s} {s.status:12s} est. {s.estimated_seconds(measured):10.0f} s  seed {s.seed}"
            )
        return
    if not todo:
        return
    wd.mkdir(parents=True, exist_ok=True)
    if fresh:
        import shutil

        for s in todo:
            shutil.rmtree(wd / s.id, ignore_errors=True)

    def record(sid: str, entry: dict) -> None:
        if "deferred" in entry:
            console.print(f"  [yellow]deferred[/] {sid}: {entry['deferred']}")
            return
        log.update(read_log(campaign))  # other builds may have written since
        log[sid] = {k: v for k, v in entry.items() if k != "traceback"}
        write_log(campaign, log)
        if "error" in entry:
            console.print(f"[red]failed[/] {sid}: {entry['error']}")
            if entry.get("traceback"):
                (wd / sid).mkdir(parents=True, exist_ok=True)
                (wd / sid / "error.txt").write_text(entry["traceback"])
        else:
            console.print(
                f"[green]done[/] {sid}: τ_α = {entry['tau_alpha']:.4g}, status {entry['status']}, "
                f"CPU {entry['cpu_seconds']:.0f} s, wall {entry['wall_seconds']:.0f} s"
            )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        overall = bar.add_task("states", total=len(todo))
        tasks: dict[str, int] = {}

        def on_progress(label: str, done: float, total: float) -> None:
            sid = label.split(" ")[0]
            if sid not in tasks:
                tasks[sid] = bar.add_task(f"  {label}", total=total)
            bar.update(tasks[sid], completed=done, total=total, description=f"  {label}")

        def finish(sid: str) -> None:
            if sid in tasks:
                bar.remove_task(tasks.pop(sid))
            bar.advance(overall)

        if workers or scheduler:
            from memplug.plugins.fitting.jobs import fan_out

            args = [(str(campaign.path), s.id, str(wd), threads, str(out_dir), check) for s in todo]

            def done(i: int, entry: dict) -> None:
                finish(todo[i].id)
                record(todo[i].id, entry)

            console.print(f"  on Dask: {f'{workers} local worker(s)' if workers else scheduler}")
            fan_out(_dask_task, args, workers=workers, scheduler=scheduler, on_done=done)
            return

        if jobs == 1:
            for s in todo:
                why = _deferred_now(campaign, s, check)
                try:
                    entry = (
                        {"deferred": why}
                        if why
                        else run_planned_state(
                            campaign, s, wd, threads=threads, output=out_dir, progress=on_progress
                        )
                    )
                except InputError:
                    raise
                except Exception as exc:
                    entry = {
                        "error": f"{type(exc).__name__}: {exc}",
                        "traceback": traceback.format_exc(),
                    }
                finish(s.id)
                record(s.id, entry)
            return

        ctx = mp.get_context("spawn")
        with _sigterm_as_interrupt(), ctx.Manager() as manager:
            queue = manager.Queue()
            pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx)
            futures = {
                pool.submit(
                    _worker, str(campaign.path), s.id, str(wd), threads, str(out_dir), queue, check
                ): s.id
                for s in todo
            }
            pending = set(futures)
            try:
                while pending:
                    done, pending = cf.wait(pending, timeout=0.5)
                    while not queue.empty():
                        on_progress(*queue.get())
                    for fut in done:
                        sid = futures[fut]
                        try:
                            entry = fut.result()
                        except Exception as exc:  # a crashed worker
                            entry = {"error": f"{type(exc).__name__}: {exc}"}
                        finish(sid)
                        record(sid, entry)
            except BaseException:
                # Interrupted (Ctrl-C, SIGTERM): stop the workers now instead of waiting for their
                # states to finish; each resumes from its last checkpoint on the next build.
                _stop_pool(pool)
                raise
            pool.shutdown(wait=True)


# --------------------------------------------------------------------------------------------
# info
# --------------------------------------------------------------------------------------------


def _fmt(x: float, spec: str = ".4g") -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


@dataset_app.command("info")
def info_command(
    spec: Path = typer.Argument(None, help="Campaign spec. Default: the default dataset's."),
    output: Path = typer.Option(
        None, "--output", "-o", help="Directory of per-state files. Default: the spec's."
    ),
    missing: bool = typer.Option(False, "--missing", help="Only states not done yet."),
    table_file: Path | None = table_option(),
) -> None:
    """Table of a campaign's states: done (τ_α, status, CPU time) and planned-but-missing (why)."""
    from memplug.cli.app import console
    from memplug.cli.tables import check_table, show, write_table
    from memplug.plugins.md.campaign import load_campaign, survey

    check_table(table_file)
    campaign = load_campaign(spec or _default_spec())
    if output:
        campaign.output = Path(output)
    rows = survey(campaign)
    rows.sort(key=lambda r: (r.sid.split("-")[0], *(_num(r.sid))))
    table = Table(title=f"campaign {campaign.name}: {campaign.output}")
    for col in ("state", "T/T_mct", "status", "τ_α", "CPU s", "note"):
        table.add_column(col, justify="right" if col in ("T/T_mct", "τ_α", "CPU s") else "left")
    cpu = sum(r.cpu_seconds for r in rows if r.done and math.isfinite(r.cpu_seconds))
    records = []
    for r in rows:
        if missing and r.done:
            continue
        ratio = r.planned.T_over_Tmct if r.planned else float("nan")
        records.append(
            {
                "state": r.sid,
                "T_over_Tmct": ratio,
                "status": r.status,
                "tau_alpha": r.tau_alpha,
                "cpu_seconds": r.cpu_seconds,
                "note": r.reason,
            }
        )
        style = {
            "equilibrated": "green",
            "glass": "cyan",
            "failed": "red",
            "invalid": "red",
            "excluded": "yellow",
            "deferred": "yellow",
        }.get(r.status, "dim")
        cpu_fmt = ".0f" if r.cpu_seconds >= 10 else ".2g"
        table.add_row(
            r.sid,
            _fmt(ratio, ".2f"),
            f"[{style}]{r.status}[/]",
            _fmt(r.tau_alpha),
            _fmt(r.cpu_seconds, cpu_fmt),
            r.reason,
        )
    write_table(table_file, records)
    show(table)
    done = sum(r.done for r in rows)
    n_deferred = sum(1 for r in rows if r.status == "deferred")
    n_missing = sum(1 for r in rows if not r.done and r.status not in ("excluded", "deferred"))
    console.print(
        f"{done} done, {n_missing} planned but missing, {n_deferred} deferred (over the per-state budget), "
        f"{len(campaign.excluded)} excluded; CPU time of the finished states {cpu / 3600:.2f} h"
    )


def _num(sid: str) -> tuple[float, float]:
    try:
        from memplug.plugins.datasets.schema import parse_state_id

        _, rho, T = parse_state_id(sid)
        return rho, T
    except InputError:
        return (math.inf, math.inf)
