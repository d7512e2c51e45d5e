"""Molecular-dynamics protocol for one state point, engine-independent: `run_state`.

Protocol (paper sec. IV A, with the time step and equilibration length chosen per state):

1. **Random start** of N_A + N_B particles in the cubic box (the engine checks the count), then
   **energy minimisation**.
2. **Time step**: starting from ``dt_max`` the step is halved until a short NVE test run keeps the
   total energy within ``drift_bound / 4`` (in units of N k_B T) of its initial value; the
   production run's own drift, max_t |E(t) − E(0)| / (N k_B T), is recorded as ``energy_drift``.
3. **NVT equilibration** (Nosé-Hoover, damping ``tdamp_steps`` steps) in segments. After each
   segment F_s^{AA}(k_peak, t) measured from the segment's start gives τ_α; equilibration ends
   when the total NVT time is ≥ ``equil_factor`` τ_α (and ≥ ``t_equil_min``). A segment in which
   F_s does not reach 1/e is followed by one twice as long. When ``max_equil_steps`` is reached
   first, the state is marked ``glass``.
4. **NVE production** with frames at ``n_origins`` time origins spaced by ``origin_spacing`` ×
   the longest lag, each followed by ``n_t`` quasi-log-spaced lags from ``t_min`` to
   max(``lag_factor`` τ_α, ``t_lag_min``) — so F_s and the MSD are averaged over origins at every
   lag. Frames go to a GSD file (HOOMD schema; wrapped float32 positions + images, energies in
   ``log/md/*``).
5. **Observables** from the GSD frames: every registered `memplug.interfaces.Observable`
   (`memplug.plugins.md.analysis`): S^{αβ}(k) on the 100-point grid, k_peak,
   F_s^{αα}(k_peak, t), F_s^{αα}(kq, t), MSD, τ_α, F^{αβ}(k_peak, t), α₂(t), and those of other
   plugins; variables beyond the dataset schema's are written as optional variables.

Everything lives in ``workdir``: ``progress.json`` (the stage and counters), engine restart files,
``trajectory.gsd.part`` while producing. A killed run started again with the same arguments
continues from its last checkpoint. Finished files appear only complete (``trajectory.gsd``,
``state.nc``: temp file + `os.replace`).
"""

from __future__ import annotations

import abc
import dataclasses
import fcntl
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from memplug.constants import K_EDGES, K_GRID, KQ
from memplug.errors import InputError, MemplugError
from memplug.interfaces import Engine, Trajectory
from memplug.io import atomic_write_text, atomic_write_with
from memplug.plugins.md import observables as obs
from memplug.plugins.md.analysis import ANALYSIS_DEFAULTS

#: Tunable protocol settings (keyword arguments of `run_state`) and their defaults.
PROTOCOL_DEFAULTS: dict[str, Any] = {
    "L": 10.0,  # box edge (σ_AA); N = ρ L³
    "dt_max": 0.005,  # largest time step tried
    "dt_min": 1.0e-4,  # below this the state is rejected
    "drift_bound": 0.01,  # max |E(t) − E(0)| / (N k_B T) allowed in production (test: bound / 4)
    "drift_test_time": 5.0,  # length of the NVE time-step test (time units)
    "warmup_time": 1.0,  # NVT time after minimisation before the time-step test
    "tdamp_steps": 100,  # Nosé-Hoover damping time in steps
    "t_min": 0.005,  # shortest lag time
    "t_lag_min": 2.0,  # the longest lag is at least this long
    "lag_factor": 10.0,  # the longest lag is ≥ lag_factor τ_α
    "t_equil_min": 10.0,  # minimum NVT equilibration time
    "equil_factor": 10.0,  # NVT equilibration ≥ equil_factor τ_α
    "first_segment_time": 2.0,  # length of the first equilibration segment
    "max_equil_steps": 2_000_000,  # cap of NVT equilibration steps; beyond it: status "glass"
    "glass_lag_steps": 400_000,  # longest lag (steps) for a glass state
    "n_origins": 8,  # time origins of the production run
    "origin_spacing": 0.25,  # spacing of origins as a fraction of the longest lag
    **ANALYSIS_DEFAULTS,  # n_sk_frames, max_per_bin: frames and wave vectors per shell for S(k)
    "checkpoint_seconds": 60.0,  # wall time between checkpoints
    "min_lag_over_tau": 5.0,  # production lags must reach this many τ_α (the dataset's rule)
    "max_productions": 3,  # productions tried before a state that keeps slowing down is "glass"
}

Progress = Callable[[str, int, int], None]

#: The variables of the dataset schema that the analysis stage's observables must provide; any
#: other variable an observable computes is written as an optional variable of the state.
SCHEMA_OBSERVABLES = ("S", "k_below_box", "k_peak", "Fs", "Fs_k", "msd", "tau_alpha")


class EngineError(MemplugError):
    """The MD engine cannot run or failed (lost atoms, wrong particle count, missing library)."""


class EngineSession(abc.ABC):
    """One running simulation of one configuration inside an engine.

    Positions are returned wrapped into [0, L)³ together with integer image counts, ordered by
    particle id with the ``N_A`` A particles first. Energies are totals (not per particle).
    """

    N_A: int
    N_B: int
    L: float
    version: str
    dt: float

    @abc.abstractmethod
    def create_random(self) -> None:
        """Place N_A + N_B particles at random (raising EngineError if any is missing)."""

    @abc.abstractmethod
    def type_counts(self) -> tuple[int, int]:
        """(N_A, N_B) as held by the engine."""

    @abc.abstractmethod
    def minimize(self) -> None: ...

    @abc.abstractmethod
    def set_velocities(self, T: float, seed: int) -> None:
        """Maxwell-Boltzmann velocities at temperature T, zero total momentum."""

    @abc.abstractmethod
    def set_timestep(self, dt: float) -> None: ...

    @abc.abstractmethod
    def rescale_velocities(self, T: float) -> None:
        """Scale all velocities so that the kinetic temperature is exactly T."""

    @abc.abstractmethod
    def set_integrator(self, kind: str, T: float | None = None, tau: float | None = None) -> None:
        """``"nvt"`` (Nosé-Hoover at T, damping time tau) or ``"nve"`` (velocity Verlet)."""

    @abc.abstractmethod
    def run(self, steps: int) -> None: ...

    @property
    @abc.abstractmethod
    def step(self) -> int: ...

    @abc.abstractmethod
    def reset_step(self) -> None:
        """Set the step counter to 0."""

    @abc.abstractmethod
    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """(positions in [0, L)³, float64 (N, 3); images, int (N, 3)), in particle-id order."""

    @abc.abstractmethod
    def energies(self) -> tuple[float, float]:
        """(potential, kinetic) energy, totals."""

    @abc.abstractmethod
    def save(self, path: Path) -> None:
        """Write a restart file atomically (with thermostat state)."""

    @abc.abstractmethod
    def load(self, path: Path) -> None:
        """Replace the configuration by a restart file written by `save`."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release the engine."""


class MDEngine(Engine):
    """An engine plugin: `session` opens an `EngineSession` for a system."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    @abc.abstractmethod
    def session(
        self, system: Any, rho: float, T: float, *, threads: int = 2, seed: int = 0
    ) -> EngineSession: ...


# --------------------------------------------------------------------------------------------
# small utilities
# --------------------------------------------------------------------------------------------


def _atomic_save_npz(path: Path, **arrays: Any) -> None:
    atomic_write_with(path, lambda tmp: np.savez(tmp, **arrays), suffix=".npz")


def _remove_restart(path: Path) -> None:
    """Delete a restart file and its engine side files (``<name>.*``)."""
    for p in [path, *path.parent.glob(path.name + ".*")]:
        if p.exists():
            p.unlink()


def check_inputs(system: str, rho: float, T: float, engine: str) -> tuple[Any, Any]:
    """Resolve system and engine names; InputError for anything unusable."""
    from memplug.registry import get_registry

    reg = get_registry()
    for name, value in (("rho", rho), ("T", T)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise InputError(f"--{name}: expected a finite number > 0, got {value!r}")
    if system not in reg.names("systems"):
        raise InputError(
            f"--system: unknown system {system!r}; available: {', '.join(reg.names('systems')) or '(none)'}"
        )
    if engine not in reg.names("engines"):
        raise InputError(
            f"--engine: unknown engine {engine!r}; available: {', '.join(reg.names('engines')) or '(none)'}"
        )
    eng_cls = reg.get("engines", engine)
    ok, why = eng_cls.available()
    if not ok:
        raise InputError(f"--engine {engine}: not available here: {why}")
    return reg.get("systems", system), eng_cls


class _Clock:
    """Process CPU seconds, accumulated across resumed runs."""

    def __init__(self, previous: float):
        self.previous = float(previous)
        self.start = time.process_time()

    @property
    def total(self) -> float:
        return self.previous + time.process_time() - self.start


# --------------------------------------------------------------------------------------------
# the protocol
# --------------------------------------------------------------------------------------------


def run_state(
    system: str,
    rho: float,
    T: float,
    *,
    engine: str = "lammps",
    seed: int,
    workdir: Path,
    threads: int = 2,
    n_t: int = 150,
    progress: Progress | None = None,
    **protocol: Any,
):
    """Simulate one state point and return a one-state dataset in the ``memplug-dataset/1`` schema.

    Args:
        system: ``"ka-lj"`` or ``"ka-wca"`` (any registered system with the Kob-Andersen API).
        rho, T: number density and temperature (reduced units).
        engine: a registered MD engine (``"lammps"``, ``"hoomd"``).
        seed: random seed of the initial configuration and velocities.
        workdir: directory of this run (created); holds checkpoints, ``trajectory.gsd`` and
            ``state.nc``; re-running with the same arguments resumes or returns the finished result.
        threads: OpenMP threads of the engine (1 for bit-reproducible runs).
        n_t: number of lag times.
        progress: optional callback ``progress(stage, steps_done, steps_total)``.
        protocol: overrides of `PROTOCOL_DEFAULTS`.

    Returns:
        An `xarray.Dataset` with a ``state`` dimension of length 1 in the schema
        ``memplug-dataset/1`` (`memplug.plugins.datasets.schema`).
    """
    unknown = sorted(set(protocol) - set(PROTOCOL_DEFAULTS))
    if unknown:
        raise InputError(
            f"protocol: unknown setting(s) {', '.join(unknown)}; valid: {', '.join(PROTOCOL_DEFAULTS)}"
        )
    P = {**PROTOCOL_DEFAULTS, **protocol}
    sys_cls, eng_cls = check_inputs(system, rho, T, engine)
    sysobj = sys_cls(L=float(P["L"]))
    sysobj.composition(rho)  # InputError when ρ L³ is not an integer
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"--seed: expected an integer ≥ 0, got {seed!r}")
    if int(n_t) < 10:
        raise InputError(f"n_t: expected at least 10 lag times, got {n_t!r}")

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    params = {
        "system": system,
        "rho": float(rho),
        "T": float(T),
        "engine": engine,
        "seed": int(seed),
        "n_t": int(n_t),
        "protocol": {k: P[k] for k in sorted(P)},
    }
    runner = _Runner(sysobj, eng_cls(), params, workdir, threads, progress)
    with _exclusive(workdir):
        return runner.execute()


class _exclusive:
    """Hold an exclusive lock on a run directory: a second process (a second ``simulate``, build or
    ``compare-engines`` on the same directory) gets a clear error instead of writing the same
    checkpoints and trajectory at the same time."""

    def __init__(self, workdir: Path):
        self.path = Path(workdir) / ".lock"

    def __enter__(self):
        self.fh = open(self.path, "a+")  # noqa: SIM115 - held until __exit__
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.close()
            raise InputError(
                f"run directory {self.path.parent} is in use by another process "
                "(a second run on the same directory); wait for it or use another --workdir"
            ) from None
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()
        return False


class _Runner:
    def __init__(self, system, engine, params, workdir: Path, threads: int, progress):
        self.system = system
        self.engine = engine
        self.params = params
        self.P = params["protocol"]
        self.rho = params["rho"]
        self.T = params["T"]
        self.seed = params["seed"]
        self.workdir = workdir
        self.threads = int(threads)
        self.progress = progress or (lambda stage, done, total: None)
        self.path_progress = workdir / "progress.json"
        self.path_gsd = workdir / "trajectory.gsd"
        self.path_part = workdir / "trajectory.gsd.part"
        self.path_state = workdir / "state.nc"
        self.session: EngineSession | None = None
        self.N_A, self.N_B = system.composition(self.rho)
        self.N = self.N_A + self.N_B

    # -- progress file ------------------------------------------------------------------------
    def _load(self) -> dict:
        if not self.path_progress.exists():
            return {"params": self.params, "stage": "start", "cpu_seconds": 0.0, "steps": 0}
        prog = json.loads(self.path_progress.read_text())
        stored = prog.get("params") or {}
        if isinstance(stored.get("protocol"), dict):
            # settings added to the protocol later take their defaults in older run directories
            stored["protocol"] = {**PROTOCOL_DEFAULTS, **stored["protocol"]}
            prog["params"] = stored = json.loads(json.dumps(stored))
        if stored != json.loads(json.dumps(self.params)):
            raise InputError(
                f"{self.workdir}: holds a run with other settings ({prog.get('params')}); "
                "use another --workdir or delete it"
            )
        return prog

    def _commit(self, prog: dict, restart: bool = True) -> None:
        """Checkpoint: engine restart (new file name), then progress.json pointing at it."""
        prog["cpu_seconds"] = self.clock.total
        old = prog.get("restart")
        if restart:
            name = f"restart-{prog['stage']}-{self.session.step}.bin"
            self.session.save(self.workdir / name)
            prog["restart"] = name
        atomic_write_text(self.path_progress, json.dumps(prog, indent=1))
        if restart and old and old != prog["restart"]:
            _remove_restart(self.workdir / old)

    def _open(self) -> EngineSession:
        if self.session is not None:
            self.session.close()
        self.session = self.engine.session(
            self.system, self.rho, self.T, threads=self.threads, seed=self.seed
        )
        return self.session

    # -- main --------------------------------------------------------------------------------
    def execute(self):
        from memplug import data

        prog = self._load()
        if prog["stage"] == "done" and self.path_state.exists():
            return data.load_dataset(self.path_state)
        self.clock = _Clock(prog.get("cpu_seconds", 0.0))
        try:
            stages = {
                "start": self._start,
                "timestep": self._choose_timestep,
                "equilibrate": self._equilibrate,
                "produce": self._produce,
            }
            while prog["stage"] in stages or prog["stage"] == "analyse":
                if prog["stage"] == "analyse":  # also where a killed run stopped
                    ds = self._analyse(prog)
                    if ds is not None:
                        return ds
                else:
                    stages[prog["stage"]](prog)
        finally:
            if self.session is not None:
                self.session.close()
                self.session = None
        raise MemplugError(f"{self.path_progress}: unknown stage {prog['stage']!r}")

    def _resume_session(self, prog: dict, kind: str) -> EngineSession:
        s = self._open()
        s.load(self.workdir / prog["restart"])
        s.set_timestep(prog["dt"])
        if kind == "nvt":
            s.set_integrator("nvt", self.T, self.P["tdamp_steps"] * prog["dt"])
        else:
            s.set_integrator("nve")
        return s

    # -- stage 1: random start and minimisation -----------------------------------------------
    def _start(self, prog: dict) -> None:
        self.progress("minimise", 0, 1)
        s = self._open()
        s.create_random()
        if s.type_counts() != (self.N_A, self.N_B):
            raise EngineError(
                f"engine placed {s.type_counts()} particles, expected {(self.N_A, self.N_B)}"
            )
        s.minimize()
        prog["stage"] = "timestep"
        prog["minimized"] = "minimized.bin"
        s.save(self.workdir / "minimized.bin")
        self._commit(prog, restart=False)
        self.progress("minimise", 1, 1)

    # -- stage 2: time step --------------------------------------------------------------------
    def _choose_timestep(self, prog: dict) -> None:
        P = self.P
        dt = float(prog.get("dt_trial", P["dt_max"]))
        while True:
            if dt < P["dt_min"]:
                raise EngineError(
                    f"no time step ≥ dt_min = {P['dt_min']} keeps the NVE energy drift below "
                    f"{P['drift_bound'] / 4:g} N k_B T at ρ = {self.rho}, T = {self.T}"
                )
            s = self._open()
            s.load(self.workdir / prog["minimized"])
            s.set_timestep(dt)
            s.set_velocities(self.T, self.seed + 1)
            ok = True
            try:
                s.set_integrator("nvt", self.T, P["tdamp_steps"] * dt)
                s.run(max(1, round(P["warmup_time"] / dt)))
                s.set_integrator("nve")
                e0 = sum(s.energies())
                n_test = max(100, round(P["drift_test_time"] / dt))
                worst = 0.0
                for _ in range(0, n_test, 10):
                    s.run(10)
                    e = sum(s.energies())
                    if not math.isfinite(e):
                        ok = False
                        break
                    worst = max(worst, abs(e - e0) / (self.N * self.T))
                prog["steps"] += s.step
            except Exception as exc:  # the engine blew up at this dt (lost atoms, NaN)
                ok = False
                worst = float("inf")
                prog.setdefault("dt_failures", []).append(f"dt={dt:g}: {type(exc).__name__}: {exc}")
            prog.setdefault("dt_tests", []).append({"dt": dt, "drift": worst})
            if ok and worst <= P["drift_bound"] / 4:
                break
            dt *= 0.5
            prog["dt_trial"] = dt
            self._commit(prog, restart=False)
        # start equilibration from the tested configuration (already thermalised for warmup_time)
        s.reset_step()
        s.set_integrator("nvt", self.T, P["tdamp_steps"] * dt)
        prog.update(
            stage="equilibrate",
            dt=dt,
            equil_steps=0,
            segment=0,
            segment_steps=None,
            tau_segments=[],
            k_peak_equil=None,
        )
        self._commit(prog)

    # -- stage 3: NVT equilibration ------------------------------------------------------------
    def _equilibrate(self, prog: dict) -> None:
        P = self.P
        dt = prog["dt"]
        s = self._resume_session(prog, "nvt")
        cap = int(P["max_equil_steps"])
        min_steps = round(P["t_equil_min"] / dt)
        seg = prog["segment_steps"] or max(200, round(P["first_segment_time"] / dt))
        species = self.system.species_array(self.rho)
        while True:
            seg = int(min(seg, max(cap - prog["equil_steps"], 1)))
            lags = obs.quasi_log_lags(1, seg, min(40, seg))
            start = s.step
            frames = [self._unwrapped(s)]
            steps = [0]
            for lag in lags:
                s.run(int(lag) - (s.step - start))
                frames.append(self._unwrapped(s))
                steps.append(int(lag))
                self.progress("equilibrate", prog["equil_steps"] + s.step - start, cap)
            prog["equil_steps"] += seg
            prog["steps"] += seg
            x = np.stack(frames)
            kp = self._k_peak(x[-2:], species)
            Fs, _, _ = obs.self_dynamics(x, species, np.array(steps), np.array([0]), lags, kp)
            tau = obs.tau_alpha(lags * dt, Fs[0, 0])
            prog["segment"] += 1
            prog["tau_segments"].append({"steps": seg, "k_peak": kp, "tau_alpha": tau})
            prog["k_peak_equil"] = kp
            done_time = prog["equil_steps"] * dt
            if (
                math.isfinite(tau)
                and prog["equil_steps"] >= min_steps
                and done_time >= P["equil_factor"] * tau
            ):
                prog["status"] = "equilibrated"
                prog["tau_equil"] = tau
                break
            if prog["equil_steps"] >= cap:
                prog["status"] = "glass"
                prog["tau_equil"] = tau
                break
            if math.isfinite(tau):
                need = max(P["equil_factor"] * tau - done_time, P["t_equil_min"] - done_time)
                seg = max(round(need / dt), round(3 * tau / dt), 200)
            else:
                seg = 2 * seg
            prog["segment_steps"] = seg
            self._commit(prog)
        # switch to NVE for production, kinetic energy set exactly to the target temperature
        s.rescale_velocities(self.T)
        s.set_integrator("nve")
        s.reset_step()
        prog.update(stage="produce", frames_done=0)
        self._plan_production(prog)
        self._commit(prog)

    def _unwrapped(self, s: EngineSession) -> np.ndarray:
        x, img = s.snapshot()
        return x + img * s.L

    def _k_peak(self, frames: np.ndarray, species: np.ndarray) -> float:
        L = self.system.box_length
        vectors = obs.lattice_wave_vectors(L, K_EDGES[:40], max_per_bin=100, seed=0)
        S = obs.structure_factor(frames, species, L, vectors)
        k = K_GRID[:39]
        return obs.k_peak(k, S[0], k_min=max(2.0, 2 * math.pi / L))

    # -- stage 4: production ------------------------------------------------------------------
    def _plan_production(self, prog: dict) -> None:
        P = self.P
        dt = prog["dt"]
        n_t = self.params["n_t"]
        l_min = max(1, round(P["t_min"] / dt))
        if prog["status"] == "equilibrated":
            t_max = max(P["lag_factor"] * prog["tau_equil"], P["t_lag_min"])
            l_max = math.ceil(t_max / dt)
        else:
            l_max = int(P["glass_lag_steps"])
        l_max = max(l_max, l_min + 2 * n_t)
        lags = obs.quasi_log_lags(l_min, l_max, n_t)
        spacing = max(1, math.ceil(P["origin_spacing"] * l_max))
        origins = spacing * np.arange(int(P["n_origins"]))
        frames = np.unique(np.concatenate([origins] + [o + lags for o in origins]))
        prog["lags"] = lags.tolist()
        prog["origins"] = origins.tolist()
        prog["frame_steps"] = frames.tolist()

    def _produce(self, prog: dict) -> None:
        import gsd.hoomd

        s = self._resume_session(prog, "nve")
        frames = np.array(prog["frame_steps"])
        total = int(frames[-1])
        done = int(prog["frames_done"])
        # keep exactly the checkpointed frames of a partial trajectory
        if done == 0:
            mode = "w"
        else:
            self._truncate_gsd(done)
            mode = "a"
        types = np.array(self.system.species_array(self.rho), np.uint32)
        last_ckpt = time.monotonic()
        with gsd.hoomd.open(self.path_part, mode=mode) as traj:
            for i in range(done, frames.size):
                s.run(int(frames[i]) - s.step)
                traj.append(self._frame(s, types))
                if (
                    time.monotonic() - last_ckpt > self.P["checkpoint_seconds"]
                    and i + 1 < frames.size
                ):
                    traj.flush()
                    prog["frames_done"] = i + 1
                    prog["steps_production"] = s.step
                    self._commit(prog)
                    last_ckpt = time.monotonic()
                self.progress("produce", s.step, total)
        prog["steps"] += total
        prog["frames_done"] = frames.size
        prog["production_steps"] = total
        prog["productions"] = prog.get("productions", 0) + 1
        os.replace(self.path_part, self.path_gsd)
        prog["stage"] = "analyse"
        self._commit(prog)  # restart at the end of production: re-equilibration continues from here

    def _frame(self, s: EngineSession, types: np.ndarray):
        import gsd.hoomd

        L = s.L
        x, img = s.snapshot()
        pos = (x - 0.5 * L).astype(np.float32)
        img = img.astype(np.int32)
        over = pos >= np.float32(0.5 * L)
        pos[over] -= np.float32(L)
        img[over] += 1
        under = pos < np.float32(-0.5 * L)
        pos[under] += np.float32(L)
        img[under] -= 1
        pe, ke = s.energies()
        f = gsd.hoomd.Frame()
        f.configuration.step = int(s.step)
        f.configuration.box = [L, L, L, 0.0, 0.0, 0.0]
        f.particles.N = int(types.size)
        f.particles.types = ["A", "B"]
        f.particles.typeid = types
        f.particles.position = pos
        f.particles.image = img
        f.log["md/potential_energy"] = np.array([pe], np.float64)
        f.log["md/kinetic_energy"] = np.array([ke], np.float64)
        return f

    def _truncate_gsd(self, n: int) -> None:
        import gsd.hoomd

        tmp = self.path_part.with_name(".trajectory.truncate.gsd")
        with gsd.hoomd.open(self.path_part, mode="r") as src, gsd.hoomd.open(tmp, mode="w") as dst:
            if len(src) < n:
                raise MemplugError(
                    f"{self.path_part}: holds {len(src)} frames, checkpoint expects {n}"
                )
            for i in range(n):
                dst.append(src[i])
        os.replace(tmp, self.path_part)

    # -- stage 5: observables -----------------------------------------------------------------
    def _analyse(self, prog: dict):
        from memplug import data
        from memplug.plugins.datasets.schema import state_dataset
        from memplug.plugins.md import analysis

        self.progress("analyse", 0, 1)
        traj = read_trajectory(self.path_gsd)
        dt = prog["dt"]
        steps = traj["step"]
        trajectory = Trajectory(
            positions=traj["unwrapped"],
            species=traj["typeid"],
            L=self.system.box_length,
            steps=steps,
            dt=dt,
            origins=np.array(prog["origins"]),
            lags=np.array(prog["lags"]),
            k_peak=math.nan,
            kq=KQ,
            T=self.T,
            seed=self.seed,
            settings=dict(self.P),
        )
        _, kp = analysis.structure(trajectory)  # k_peak of this run: the k of the dynamics
        trajectory = dataclasses.replace(trajectory, k_peak=kp)  # shares the cache
        time_ = trajectory.time
        tau = analysis.tau_alpha(trajectory)  # decides whether this production is kept
        status = prog["status"]
        window_ok = math.isfinite(tau) and time_[-1] >= self.P["min_lag_over_tau"] * tau
        prog.setdefault("production_steps", int(prog["frame_steps"][-1]))  # older run directories
        prog.setdefault("productions", 1)
        if status == "equilibrated" and not window_ok:
            # F_s decays more slowly than during equilibration: the state was still ageing.
            # Continue NVT equilibration from the end of this production (which counts as
            # equilibration time) and produce again, up to max_productions; then "glass".
            prog.setdefault("rejected_productions", []).append(
                {
                    "tau_alpha": tau,
                    "lag_max": float(time_[-1]),
                    "steps": int(prog["production_steps"]),
                }
            )
            can_extend = prog["equil_steps"] < int(self.P["max_equil_steps"])
            if prog["productions"] < int(self.P["max_productions"]) and can_extend:
                prog["equil_steps"] += int(prog["production_steps"])
                guess = tau if math.isfinite(tau) else 2 * time_[-1]
                prog["tau_segments"].append(
                    {
                        "steps": int(prog["production_steps"]),
                        "production": True,
                        "k_peak": kp,
                        "tau_alpha": tau,
                    }
                )
                prog["segment_steps"] = max(round(3 * guess / dt), 200)
                prog["stage"] = "equilibrate"
                prog["status"] = None
                self.path_gsd.unlink()
                self._commit(prog, restart=False)
                return None
            status = "glass"
        if not math.isfinite(tau):
            status = "glass"
        # every registered observable, on the production that is kept (S, F_s, τ_α: cached above)
        results = analysis.measure(trajectory)
        values = {name: value for name, (_, value) in results.items()}
        missing = [n for n in SCHEMA_OBSERVABLES if n not in values]
        if missing:
            raise MemplugError(
                f"no registered observable computes {', '.join(missing)} (the md plugin's do)"
            )
        etot = traj["pe"] + traj["ke"]
        drift = float(np.max(np.abs(etot - etot[0])) / (self.N * self.T))
        summary = {
            "potential_energy_per_particle": float(np.mean(traj["pe"]) / self.N),
            "potential_energy_per_particle_std": float(np.std(traj["pe"]) / self.N),
            "temperature_mean": float(np.mean(traj["ke"]) * 2 / (3 * self.N - 3)),
            "energy_drift": drift,
            "drift_bound": self.P["drift_bound"],
            "drift_ok": bool(drift <= self.P["drift_bound"]),
            "tau_alpha_equilibration": prog.get("tau_equil"),
            "rejected_productions": prog.get("rejected_productions", []),
            "equilibration_steps": prog["equil_steps"],
            "dt_tests": prog.get("dt_tests", []),
            "n_frames": int(steps.size),
            "k_peak": kp,
        }
        prog["stage"] = "done"
        version = self.engine_version(prog)
        ds = state_dataset(
            potential=self.system.potential,
            rho=self.rho,
            T=self.T,
            S=values["S"],
            time=time_,
            Fs=values["Fs"],
            Fs_k=values["Fs_k"],
            msd=values["msd"],
            k_below_box=values["k_below_box"],
            tau_alpha=float(values["tau_alpha"]),
            N=self.N,
            k_peak=float(values["k_peak"]),
            dt=dt,
            seed=self.seed,
            engine=self.engine.name,
            engine_version=version,
            steps=int(prog["steps"]),
            status=status,
            cpu_seconds=self.clock.total,
            energy_drift=drift,
            attrs={
                "simulation": json.dumps(summary),
                "protocol": json.dumps(self.P),
                "S_below_box": obs.BELOW_BOX_METHOD,
            },
            extra={
                name: value for name, value in results.items() if name not in SCHEMA_OBSERVABLES
            },
        )
        data.save_dataset(ds, self.path_state)
        prog["summary"] = summary
        self._commit(prog, restart=False)
        for name in (prog.get("restart"), prog.get("minimized")):  # checkpoints no longer needed
            if name:
                _remove_restart(self.workdir / name)
        self.progress("analyse", 1, 1)
        return ds

    def engine_version(self, prog: dict) -> str:
        if "engine_version" not in prog:
            s = self.session or self._open()
            prog["engine_version"] = s.version
        return prog["engine_version"]


def read_trajectory(path: Path) -> dict[str, np.ndarray]:
    """Frames of a GSD trajectory written by `run_state`: steps, unwrapped float64 positions
    (``(n_frames, N, 3)``), wrapped float32 positions, images, type ids and energies."""
    import gsd.hoomd

    with gsd.hoomd.open(path, mode="r") as traj:
        n = len(traj)
        f0 = traj[0]
        L = float(f0.configuration.box[0])
        N = int(f0.particles.N)
        pos = np.empty((n, N, 3), np.float32)
        img = np.empty((n, N, 3), np.int32)
        step = np.empty(n, np.int64)
        pe = np.empty(n)
        ke = np.empty(n)
        for i, f in enumerate(traj):
            pos[i] = f.particles.position
            img[i] = f.particles.image
            step[i] = f.configuration.step
            pe[i] = f.log["md/potential_energy"][0]
            ke[i] = f.log["md/kinetic_energy"][0]
        typeid = np.asarray(f0.particles.typeid, np.int64)
    unwrapped = pos.astype(np.float64) + img.astype(np.float64) * L
    return {
        "step": step,
        "unwrapped": unwrapped,
        "position": pos,
        "image": img,
        "typeid": typeid,
        "pe": pe,
        "ke": ke,
        "L": L,
    }
