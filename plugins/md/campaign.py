"""Simulation campaigns: which states a dataset should contain, and building them state by state.

A campaign is a TOML spec (the default dataset's is ``memplug/plugins/datasets/data/campaign.toml``)::

    [campaign]
    name = "default"
    output = "states"        # per-state netCDF files, relative to the spec file
    engine = "lammps"
    threads = 2              # OpenMP threads per state
    n_t = 150                # lag times per state
    seed = 20230601          # base seed; a state's seed = seed + crc32(state id) % 1_000_000

    [protocol]               # keyword arguments passed on to the simulation (run_state)

    [t_mct]                  # T_mct per potential and density (paper Table I)
    rho = [1.2, 1.4, 1.6, 1.8]
    LJ = [0.90, 1.87, 3.53, 5.10]
    WCA = [0.74, 1.77, 3.49, 5.10]

    [[grid]]                 # the product potential × rho × temperatures; any number of blocks
    potential = ["LJ", "WCA"]
    rho = [1.2, 1.4]
    T_over_Tmct = [0.55, 1.0, 2.0]   # and/or absolute temperatures: T = [10.0, 15.0]
    above_Tmct = 4.2         # optional: keep only T > above_Tmct · T_mct
    status = "equilibrated"  # or "glass": planned below the lowest equilibrated state
    protocol = { }           # optional per-block protocol overrides

    [[exclude]]              # planned states deliberately left out, with the reason
    state = "LJ-rho1.20-T0.495"
    reason = "crystallised"

The campaign grows by adding temperatures, densities or blocks: finished states are never re-run
(their file exists and validates), so the same ``memplug dataset build`` command resumes or extends.
"""

from __future__ import annotations

import json
import math
import os
import time
import tomllib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from memplug.data import load_dataset, save_dataset, state_files, validate
from memplug.errors import InputError
from memplug.io import atomic_write_text
from memplug.plugins.datasets.schema import STATUSES, parse_state_id, state_id
from memplug.plugins.md.protocol import PROTOCOL_DEFAULTS

#: The systems that simulate each potential.
SYSTEMS = {"LJ": "ka-lj", "WCA": "ka-wca"}


@dataclass(frozen=True)
class PlannedState:
    """One state of a campaign."""

    potential: str
    rho: float
    T: float
    status: str
    seed: int
    T_mct: float | None
    protocol: dict[str, Any] = field(default_factory=dict)
    block: str = ""

    @property
    def id(self) -> str:
        return state_id(self.potential, self.rho, self.T)

    @property
    def T_over_Tmct(self) -> float:
        return self.T / self.T_mct if self.T_mct else float("nan")

    def estimated_seconds(self, measured: list[Measured] | None = None) -> float:
        """CPU seconds this state is expected to cost (see `estimate`)."""
        return estimate(self, measured or []).seconds


@dataclass(frozen=True)
class Measured:
    """A finished state of a campaign, as recorded in its build log."""

    potential: str
    rho: float
    T: float
    tau_alpha: float
    cpu_seconds: float
    status: str


@dataclass(frozen=True)
class Estimate:
    seconds: float
    tau_alpha: float  # predicted τ_α (nan for glass states and the prior)
    basis: str


#: CPU seconds per particle per MD step measured with the lammps engine (LJ ρ = 1.8, N = 1800:
#: 2.6 ms per step; WCA ρ = 1.8, T = 3.06: 0.37 ms per step), used to cost capped glass runs.
SECONDS_PER_PARTICLE_STEP = {"LJ": 1.45e-6, "WCA": 0.21e-6}


def estimate(s: PlannedState, measured: list[Measured]) -> Estimate:
    """The CPU cost of a planned state, from the finished states of its potential and density.

    Equilibrated states: τ_α is interpolated in ln τ_α vs 1/T between finished equilibrated states of
    the same potential and density, or extrapolated below the coldest with the slope of the two
    coldest (the local, fragile slope: this under-predicts rather than over-predicts only if the
    liquid becomes *less* fragile on cooling). The run costs ≥ 20 τ_α of MD (equilibration and
    production), so the cost is the coldest finished state's CPU per τ_α times the predicted τ_α,
    and never less than the cheapest finished state of that density. Without two finished states
    the prior below is used: a Vogel-Fulcher fit of τ_α(T/T_mct) through LJ ρ = 1.2 measurements
    (T = 1.0, 0.6, 0.5: τ_α ≈ 1, 11, 95), ~2 s of MD per τ_α for N = 1200, WCA 2.5× cheaper, plus
    ~100 s of fixed cost. Glass states cost their capped number of steps.
    """
    if s.status == "glass":
        P = {**PROTOCOL_DEFAULTS, **s.protocol}
        steps = P["max_equil_steps"] + P["glass_lag_steps"] * (
            1 + P["origin_spacing"] * (P["n_origins"] - 1)
        )
        n = round(s.rho * float(P["L"]) ** 3)
        return Estimate(
            steps * n * SECONDS_PER_PARTICLE_STEP[s.potential],
            float("nan"),
            f"glass: {steps / 1e6:.2g} M capped MD steps",
        )
    same = sorted(
        (
            m
            for m in measured
            if m.potential == s.potential
            and abs(m.rho - s.rho) < 1e-9
            and m.status == "equilibrated"
            and math.isfinite(m.tau_alpha)
            and m.tau_alpha > 0
            and math.isfinite(m.cpu_seconds)
            and m.cpu_seconds > 0
        ),
        key=lambda m: m.T,
    )
    if len(same) >= 2:
        inv = np.array([1.0 / m.T for m in same])
        lnt = np.log([m.tau_alpha for m in same])
        x = 1.0 / s.T
        if x <= inv[0]:
            ln_tau = float(np.interp(-x, -inv, lnt))
            how = "interpolated"
        else:
            slope = (lnt[0] - lnt[1]) / (inv[0] - inv[1])
            ln_tau = float(lnt[0] + max(slope, 0.0) * (x - inv[0]))
            how = f"extrapolated from T = {same[1].T:g}, {same[0].T:g}"
        tau = math.exp(ln_tau)
        cold = same[0]
        cost = max(min(m.cpu_seconds for m in same), cold.cpu_seconds * tau / cold.tau_alpha)
        return Estimate(cost, tau, f"τ_α ≈ {tau:.3g} {how}")
    r = s.T_over_Tmct if math.isfinite(s.T_over_Tmct) else 1.0
    tau = math.exp(-1.754 + 1.350 / max(r - 0.3416, 0.02))
    md = 2.0 * tau * s.rho / 1.2
    if s.potential == "WCA":
        md /= 2.5
    return Estimate(100.0 + md, tau, "prior (fewer than 2 finished states at this density)")


@dataclass
class Campaign:
    """A parsed campaign spec."""

    path: Path
    name: str
    output: Path
    engine: str
    threads: int
    n_t: int
    seed: int
    protocol: dict[str, Any]
    states: list[PlannedState]
    excluded: dict[str, str]
    max_state_cpu_hours: float | None = None

    def measured(self) -> list[Measured]:
        """The finished states recorded in the build log (failed ones left out)."""
        out = []
        for sid, e in read_log(self).items():
            if e.get("error") or "tau_alpha" not in e:
                continue
            try:
                pot, rho, T = parse_state_id(sid)
            except InputError:
                continue
            out.append(
                Measured(
                    pot,
                    rho,
                    T,
                    float(e["tau_alpha"]),
                    float(e.get("cpu_seconds", "nan")),
                    str(e.get("status", "")),
                )
            )
        return out

    def ordered(self, measured: list[Measured] | None = None) -> list[PlannedState]:
        """The planned states: equilibrated ones cheapest first, then the (capped) glass states."""
        measured = self.measured() if measured is None else measured
        return sorted(
            self.states, key=lambda s: (s.status == "glass", s.estimated_seconds(measured), s.id)
        )

    def over_budget(
        self, s: PlannedState, measured: list[Measured], budget_hours: float | None = None
    ) -> str:
        """Why ``s`` is deferred (its estimate exceeds the per-state CPU budget), or ``""``."""
        budget = self.max_state_cpu_hours if budget_hours is None else budget_hours
        if not budget or budget <= 0:
            return ""
        e = estimate(s, measured)
        if e.seconds <= budget * 3600:
            return ""
        return (
            f"beyond the per-state budget: {e.basis}, ~{_human(e.seconds)} of CPU > "
            f"max_state_cpu_hours = {budget:g} (raise max_state_cpu_hours in the spec or pass --budget-hours)"
        )

    def get(self, sid: str) -> PlannedState:
        for s in self.states:
            if s.id == sid:
                return s
        raise InputError(
            f"{self.path}: state {sid!r} is not in the campaign "
            f"({len(self.states)} planned states; `memplug dataset info` lists them)"
        )

    @property
    def log_path(self) -> Path:
        return self.output.parent / f"{self.output.name}-log.json"


def _list(value: Any, where: str, kind: type) -> list:
    values = value if isinstance(value, list) else [value]
    for v in values:
        if kind is float and isinstance(v, int | float) and not isinstance(v, bool):
            continue
        if not isinstance(v, kind):
            raise InputError(f"{where}: expected {kind.__name__} values, found {v!r}")
    return [kind(v) for v in values]


def state_seed(base: int, sid: str) -> int:
    """The seed of a state: deterministic in the campaign's base seed and the state id."""
    return int(base) + zlib.crc32(sid.encode()) % 1_000_000


def load_campaign(path: str | os.PathLike) -> Campaign:
    """Parse and check a campaign spec (see the module docstring)."""
    path = Path(path)
    try:
        spec = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: campaign spec not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    head = spec.get("campaign", {})
    where = f"{path}: [campaign]"
    name = str(head.get("name", path.stem))
    output = path.parent / str(head.get("output", "states"))
    engine = str(head.get("engine", "lammps"))
    threads = int(head.get("threads", 2))
    n_t = int(head.get("n_t", 150))
    seed = int(head.get("seed", 0))
    if threads < 1 or n_t < 2:
        raise InputError(f"{where}: threads must be ≥ 1 and n_t ≥ 2")
    budget = head.get("max_state_cpu_hours")
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, int | float) or budget <= 0
    ):
        raise InputError(
            f"{where}: max_state_cpu_hours: expected a positive number of hours, found {budget!r}"
        )
    protocol = dict(spec.get("protocol", {}))

    tm = spec.get("t_mct", {})
    t_mct: dict[tuple[str, float], float] = {}
    if tm:
        rhos = _list(tm.get("rho", []), f"{path}: [t_mct] rho", float)
        for pot, values in tm.items():
            if pot == "rho":
                continue
            vals = _list(values, f"{path}: [t_mct] {pot}", float)
            if len(vals) != len(rhos):
                raise InputError(
                    f"{path}: [t_mct] {pot}: {len(vals)} values for {len(rhos)} densities"
                )
            for r, v in zip(rhos, vals, strict=True):
                t_mct[(pot, round(r, 6))] = v

    grids = spec.get("grid", [])
    if not grids:
        raise InputError(f"{path}: no [[grid]] block: the campaign plans no state")
    states: dict[str, PlannedState] = {}
    for i, g in enumerate(grids):
        gw = f"{path}: grid[{i}]"
        unknown = sorted(
            set(g)
            - {
                "label",
                "potential",
                "rho",
                "T",
                "T_over_Tmct",
                "above_Tmct",
                "below_Tmct",
                "status",
                "protocol",
            }
        )
        if unknown:
            raise InputError(f"{gw}: unknown key(s) {unknown}")
        pots = _list(g.get("potential", ["LJ", "WCA"]), f"{gw}: potential", str)
        for p in pots:
            if p not in SYSTEMS:
                raise InputError(f"{gw}: potential: {p!r} is not one of {sorted(SYSTEMS)}")
        rhos = _list(g.get("rho", []), f"{gw}: rho", float)
        status = str(g.get("status", "equilibrated"))
        if status not in STATUSES:
            raise InputError(f"{gw}: status: {status!r} is not one of {list(STATUSES)}")
        ratios = _list(g.get("T_over_Tmct", []), f"{gw}: T_over_Tmct", float)
        absolute = _list(g.get("T", []), f"{gw}: T", float)
        if not ratios and not absolute:
            raise InputError(f"{gw}: give T_over_Tmct and/or T")
        above = g.get("above_Tmct")
        below = g.get("below_Tmct")
        block_protocol = dict(g.get("protocol", {}))
        for pot in pots:
            for rho in rhos:
                tc = t_mct.get((pot, round(rho, 6)))
                if ratios and tc is None:
                    raise InputError(f"{gw}: T_over_Tmct needs [t_mct] {pot} at rho = {rho}")
                temps = [round(r * tc, 3) for r in ratios] + [round(t, 3) for t in absolute]
                for T in temps:
                    if tc is not None and above is not None and not T > float(above) * tc:
                        continue
                    if tc is not None and below is not None and not T < float(below) * tc:
                        continue
                    sid = state_id(pot, rho, T)
                    if sid in states:
                        continue
                    states[sid] = PlannedState(
                        pot,
                        rho,
                        T,
                        status,
                        state_seed(seed, sid),
                        tc,
                        {**protocol, **block_protocol},
                        str(g.get("label", f"grid[{i}]")),
                    )
    excluded = {}
    for j, e in enumerate(spec.get("exclude", [])):
        if "state" not in e or "reason" not in e:
            raise InputError(f"{path}: exclude[{j}]: needs `state` and `reason`")
        parse_state_id(str(e["state"]))
        excluded[str(e["state"])] = str(e["reason"])
    planned = [s for s in states.values() if s.id not in excluded]
    return Campaign(
        path,
        name,
        output,
        engine,
        threads,
        n_t,
        seed,
        protocol,
        planned,
        excluded,
        None if budget is None else float(budget),
    )


# --------------------------------------------------------------------------------------------
# build log (CPU times, failures)
# --------------------------------------------------------------------------------------------


def read_log(campaign: Campaign) -> dict[str, dict[str, Any]]:
    try:
        return json.loads(campaign.log_path.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as exc:
        raise InputError(f"{campaign.log_path}: not valid JSON: {exc}") from None


def write_log(campaign: Campaign, log: dict[str, dict[str, Any]]) -> None:
    atomic_write_text(campaign.log_path, json.dumps(dict(sorted(log.items())), indent=1) + "\n")


# --------------------------------------------------------------------------------------------
# status of every planned state
# --------------------------------------------------------------------------------------------


@dataclass
class StateStatus:
    planned: PlannedState | None
    sid: str
    done: bool
    status: str  # equilibrated / glass / planned / deferred / failed / excluded / invalid
    tau_alpha: float = float("nan")
    cpu_seconds: float = float("nan")
    reason: str = ""


def survey(campaign: Campaign) -> list[StateStatus]:
    """Every planned, finished, failed and excluded state of a campaign, cheapest first."""
    log = read_log(campaign)
    measured = campaign.measured()
    files = {p.stem: p for p in state_files(campaign.output)} if campaign.output.is_dir() else {}
    out: list[StateStatus] = []
    seen = set()
    for s in campaign.ordered(measured):
        seen.add(s.id)
        out.append(_status_of(s, s.id, files.get(s.id), log.get(s.id), campaign, measured))
    for sid, f in sorted(files.items()):
        if sid not in seen:
            st = _status_of(None, sid, f, log.get(sid), campaign, measured)
            st.reason = (st.reason + "; " if st.reason else "") + "not in the campaign spec"
            out.append(st)
    for sid, reason in campaign.excluded.items():
        if sid not in files:
            out.append(StateStatus(None, sid, False, "excluded", reason=reason))
    return out


def _status_of(
    s: PlannedState | None,
    sid: str,
    f: Path | None,
    entry: dict | None,
    campaign: Campaign,
    measured: list[Measured],
) -> StateStatus:
    if f is not None:
        try:
            ds = load_dataset(f)
        except InputError as exc:
            return StateStatus(s, sid, False, "invalid", reason=str(exc))
        return StateStatus(
            s,
            sid,
            True,
            str(ds["status"].values[0]),
            float(ds["tau_alpha"].values[0]),
            float(ds["cpu_seconds"].values[0]),
        )
    if entry and entry.get("error"):
        return StateStatus(s, sid, False, "failed", reason=entry["error"])
    if s is None:
        return StateStatus(s, sid, False, "planned", reason="not run yet")
    deferred = campaign.over_budget(s, measured)
    if deferred:
        return StateStatus(s, sid, False, "deferred", reason=deferred)
    e = estimate(s, measured)
    reason = f"not run yet (~{_human(e.seconds)} of CPU; {e.basis}"
    reason += ", last in the queue)" if s.status == "glass" else ")"
    return StateStatus(s, sid, False, "planned", reason=reason)


def _human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# --------------------------------------------------------------------------------------------
# running states
# --------------------------------------------------------------------------------------------

#: ``progress(label, done, total)``; label = "<state id> <stage>".
ProgressCallback = Callable[[str, float, float], None]


def run_planned_state(
    campaign: Campaign,
    s: PlannedState,
    workdir: str | os.PathLike,
    *,
    threads: int | None = None,
    output: Path | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Simulate one planned state, write its per-state file atomically; return its log entry.

    The simulation resumes from ``workdir/<state id>`` if an earlier run was interrupted.
    """
    from memplug.plugins.md.protocol import run_state

    output = Path(output or campaign.output)
    wd = Path(workdir) / s.id
    wd.mkdir(parents=True, exist_ok=True)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ch0 = os.times()

    def report(*args: Any, **kwargs: Any) -> None:
        if progress is None:
            return
        done, total = _progress_numbers(args, kwargs)
        stage = args[0] if args and isinstance(args[0], str) else ""
        progress(f"{s.id} {stage}".strip(), done, total)

    ds = run_state(
        SYSTEMS[s.potential],
        s.rho,
        s.T,
        engine=campaign.engine,
        seed=s.seed,
        workdir=wd,
        threads=threads or campaign.threads,
        n_t=campaign.n_t,
        progress=report if progress is not None else None,
        **s.protocol,
    )
    ch1 = os.times()
    cpu = (
        (time.process_time() - cpu0)
        + (ch1.children_user - ch0.children_user)
        + (ch1.children_system - ch0.children_system)
    )
    wall = time.perf_counter() - wall0
    ds = ds.copy()
    if s.status == "glass":
        ds = ds.assign_coords(status=("state", np.array(["glass"], dtype=object)))
    recorded = float(ds["cpu_seconds"].values[0]) if "cpu_seconds" in ds.coords else float("nan")
    if not math.isfinite(recorded) or recorded <= 0:
        ds = ds.assign_coords(cpu_seconds=("state", np.array([cpu])))
    ds.attrs.update(
        {
            "campaign": campaign.name,
            "campaign_block": s.block,
            "campaign_protocol": json.dumps(s.protocol, sort_keys=True),
            "regenerate": f"memplug dataset build --only {s.id}",
        }
    )
    if str(ds["state"].values[0]) != s.id:
        raise InputError(f"simulation returned state {ds['state'].values[0]!r}, expected {s.id!r}")
    validate(ds, f"<simulation of {s.id}>")
    save_dataset(ds, output / f"{s.id}.nc")
    return {
        "cpu_seconds": float(ds["cpu_seconds"].values[0]),
        "process_cpu_seconds": cpu,
        "wall_seconds": wall,
        "threads": threads or campaign.threads,
        "tau_alpha": float(ds["tau_alpha"].values[0]),
        "status": str(ds["status"].values[0]),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host_cpus": os.cpu_count(),
    }


def _progress_numbers(args: tuple, kwargs: dict) -> tuple[float, float]:
    """Accept ``progress(done, total)``, ``progress(fraction)`` or keyword forms."""
    if "done" in kwargs or "total" in kwargs:
        return float(kwargs.get("done", 0)), float(kwargs.get("total", 1) or 1)
    nums = [a for a in args if isinstance(a, int | float) and not isinstance(a, bool)]
    if len(nums) >= 2:
        return float(nums[-2]), float(nums[-1] or 1)
    if len(nums) == 1:
        return float(nums[0]), 1.0
    return 0.0, 1.0
