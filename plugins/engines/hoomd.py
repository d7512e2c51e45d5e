"""HOOMD-blue engine (the engine the paper used), through HOOMD's v4/v5 Python API.

Used wherever ``import hoomd`` works and HOOMD was built with its MD component; otherwise
`HoomdEngine.available` reports why not (HOOMD-blue is not on PyPI: it is built from source
or installed from conda-forge).

Mapping of the protocol onto HOOMD:

- random start: particles are placed by random sequential addition in NumPy (minimum distance well
  below the packing limit; the count is checked) and loaded with ``Simulation.create_state_from_snapshot``;
- pair potential: ``hoomd.md.pair.LJ`` with ``mode="shift"`` and per-pair ``r_cut`` (paper Eq. 9)
  on a cell neighbour list (buffer 0.3);
- minimisation: ``hoomd.md.minimize.FIRE`` with a ``ConstantVolume`` method until converged;
- NVT: ``ConstantVolume`` with the ``Bussi`` thermostat (stochastic velocity rescaling, damping
  time ``tau``, seeded by the run's seed); NVE: ``ConstantVolume`` without thermostat; velocities
  from ``State.thermalize_particle_momenta``. Not ``MTTK`` (Nosé-Hoover, LAMMPS's ``fix nvt``):
  measured from the minimised start of the protocol at T = 2, ρ = 1.2 (N = 1200, τ = 100 dt), HOOMD's
  MTTK held ⟨T⟩ at 1.982 → 1.991 over three successive 20-τ_LJ windows after 20 τ_LJ (still
  relaxing), so the NVE production that follows ran at ⟨T⟩ = 1.948 instead of 2; Bussi gives
  1.996-1.998 and LAMMPS's Nosé-Hoover 1.999 on the same protocol;
- energies: ``hoomd.md.compute.ThermodynamicQuantities``;
- restart files: ``hoomd.write.GSD.write`` of the state plus a small JSON file with the time step
  and integrator (the Bussi thermostat has no state of its own to carry).

HOOMD cannot reset the step counter of an existing state, so `HoomdSession.reset_step`
re-creates the simulation from a snapshot at step 0 (the protocol calls it only where the thermostat
state is not needed: before NVT equilibration and before NVE production).
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from memplug.errors import InputError
from memplug.plugins.md.protocol import EngineError, EngineSession, MDEngine


def load_hoomd() -> Any:
    """Import ``hoomd`` with its MD component; EngineError naming the reason otherwise."""
    try:
        import hoomd
    except Exception as exc:
        raise EngineError(
            f"HOOMD-blue is not installed ({type(exc).__name__}: {exc}); it is not on PyPI: "
            "build it from source (CPU, MD component) or install it from conda-forge"
        ) from None
    try:
        import hoomd.md  # noqa: F401
    except Exception as exc:
        raise EngineError(f"HOOMD-blue was built without its MD component ({exc})") from None
    return hoomd


#: Neighbour-list buffer (σ_AA). HOOMD searches one periodic image only: L/2 ≥ r_cut + buffer.
NLIST_BUFFER = 0.3

_THREAD_NOTE_GIVEN = False


def _thread_note(threads: int) -> None:
    """One note per process when a thread count cannot be honoured (HOOMD built without TBB)."""
    global _THREAD_NOTE_GIVEN
    if not _THREAD_NOTE_GIVEN:
        _THREAD_NOTE_GIVEN = True
        print(
            f"note: this HOOMD-blue was built without thread support (TBB): "
            f"--threads {threads} is ignored, HOOMD runs on one thread",
            file=sys.stderr,
        )


def cpu_device(hoomd: Any, threads: int) -> Any:
    """A CPU device with ``threads`` threads where HOOMD has TBB, one thread (and one note) otherwise."""
    if getattr(hoomd.version, "tbb_enabled", False):
        return hoomd.device.CPU(num_cpu_threads=int(threads))
    if int(threads) > 1:
        _thread_note(int(threads))
    return hoomd.device.CPU()


def check_box(system: Any, buffer: float = NLIST_BUFFER) -> None:
    """InputError when the box is too small for HOOMD's single-image neighbour search."""
    need = 2.0 * (system.max_cutoff + buffer)
    if system.box_length < need:
        raise InputError(
            f"--engine hoomd: box L = {system.box_length:g} is too small for {system.name}: HOOMD "
            f"needs L ≥ 2 (r_cut + buffer) = 2 ({system.max_cutoff:g} + {buffer:g}) = {need:g} "
            "(use a larger L, or the lammps engine)"
        )


def random_positions(
    n: int, L: float, d_min: float, rng: np.random.Generator, max_tries: int = 2000
) -> np.ndarray:
    """Random sequential addition of ``n`` points in [0, L)³ at mutual (periodic) distance ≥ d_min.

    Raises EngineError when a point cannot be placed in ``max_tries`` attempts.
    """
    out = np.empty((n, 3))
    for i in range(n):
        for _ in range(max_tries):
            p = rng.uniform(0.0, L, 3)
            if i == 0:
                break
            d = out[:i] - p
            d -= L * np.round(d / L)
            if np.min(np.einsum("ij,ij->i", d, d)) >= d_min * d_min:
                break
        else:
            raise EngineError(
                f"random start: placed only {i} of {n} particles at distance ≥ {d_min:.3g}"
            )
        out[i] = p
    return out


class HoomdSession(EngineSession):
    """One HOOMD-blue simulation holding one Kob-Andersen configuration."""

    def __init__(self, system: Any, rho: float, T: float, *, threads: int = 2, seed: int = 0):
        self.hoomd = load_hoomd()
        self.system = system
        self.rho = float(rho)
        self.T = float(T)
        self.seed = int(seed)
        self.N_A, self.N_B = system.composition(rho)
        self.N = self.N_A + self.N_B
        self.L = system.box_length
        check_box(system)
        self.device = cpu_device(self.hoomd, threads)
        self.version = f"HOOMD-blue {self.hoomd.version.version}"
        self.dt = 0.005
        self.sim = None
        self._integrator: tuple | None = None
        self._method = None
        self._ran = False

    # -- helpers ----------------------------------------------------------------------------
    def _simulation(self, timestep: int = 0):
        sim = self.hoomd.Simulation(device=self.device, seed=self.seed % 65536)
        sim.timestep = int(timestep)
        return sim

    def _attach(self) -> None:
        self.thermo = self.hoomd.md.compute.ThermodynamicQuantities(filter=self.hoomd.filter.All())
        self.sim.operations.computes.append(self.thermo)
        self._ran = False

    def _pair(self):
        md = self.hoomd.md
        lj = md.pair.LJ(nlist=md.nlist.Cell(buffer=NLIST_BUFFER), mode="shift")
        for (a, b), c in self.system.pair_coefficients().items():
            lj.params[(a, b)] = dict(epsilon=c.epsilon, sigma=c.sigma)
            lj.r_cut[(a, b)] = c.r_cut
        return lj

    def _snapshot_from(
        self,
        positions: np.ndarray,
        image: np.ndarray | None = None,
        velocities: np.ndarray | None = None,
    ):
        snap = self.hoomd.Snapshot()
        if snap.communicator.rank == 0:
            L = self.L
            snap.configuration.box = [L, L, L, 0, 0, 0]
            snap.particles.N = self.N
            snap.particles.types = ["A", "B"]
            snap.particles.typeid[:] = self.system.species_array(self.rho)
            snap.particles.mass[:] = 1.0
            snap.particles.position[:] = positions - 0.5 * L
            if image is not None:
                snap.particles.image[:] = image
            if velocities is not None:
                snap.particles.velocity[:] = velocities
        return snap

    # -- EngineSession ----------------------------------------------------------------------
    def create_random(self) -> None:
        d = min(0.8, 0.7 * (6 * 0.38 / (math.pi * self.rho)) ** (1.0 / 3.0))
        x = random_positions(self.N, self.L, d, np.random.default_rng(self.seed))
        self.sim = self._simulation(0)
        self.sim.create_state_from_snapshot(self._snapshot_from(x))
        self._attach()
        counts = self.type_counts()
        if counts != (self.N_A, self.N_B):
            raise EngineError(
                f"HOOMD holds {counts} particles of types (A, B), expected {(self.N_A, self.N_B)}"
            )

    def type_counts(self) -> tuple[int, int]:
        snap = self.sim.state.get_snapshot()
        t = np.asarray(snap.particles.typeid)
        return int(np.sum(t == 0)), int(np.sum(t == 1))

    def minimize(self) -> None:
        md = self.hoomd.md
        fire = md.minimize.FIRE(
            dt=0.002,
            force_tol=1e-3,
            angmom_tol=1e-3,
            energy_tol=1e-7,
            forces=[self._pair()],
            methods=[md.methods.ConstantVolume(filter=self.hoomd.filter.All())],
        )
        self.sim.operations.integrator = fire
        steps = 0
        while not fire.converged and steps < 20000:
            self.sim.run(100)
            steps += 100
        self.sim.operations.integrator = None
        self._integrator = None
        self.reset_step()

    def set_velocities(self, T: float, seed: int) -> None:
        if not self._ran:
            self.sim.run(0)
            self._ran = True
        self.sim.state.thermalize_particle_momenta(filter=self.hoomd.filter.All(), kT=float(T))

    def rescale_velocities(self, T: float) -> None:
        snap = self.sim.state.get_snapshot()
        if snap.communicator.rank == 0:
            v = np.asarray(snap.particles.velocity)
            ke = 0.5 * np.sum(v * v)  # unit masses
            T_now = 2.0 * ke / (3 * self.N - 3)
            snap.particles.velocity[:] = v * math.sqrt(float(T) / T_now)
        self.sim.state.set_snapshot(snap)

    def set_timestep(self, dt: float) -> None:
        self.dt = float(dt)
        integ = self.sim.operations.integrator
        if integ is not None:
            integ.dt = self.dt

    def set_integrator(self, kind: str, T: float | None = None, tau: float | None = None) -> None:
        md = self.hoomd.md
        if kind == "nvt":
            thermostat = md.methods.thermostats.Bussi(kT=float(T), tau=float(tau))
        elif kind == "nve":
            thermostat = None
        else:
            raise ValueError(f"integrator: expected 'nvt' or 'nve', got {kind!r}")
        method = md.methods.ConstantVolume(filter=self.hoomd.filter.All(), thermostat=thermostat)
        self.sim.operations.integrator = None
        self.sim.operations.integrator = md.Integrator(
            dt=self.dt, methods=[method], forces=[self._pair()]
        )
        self._integrator = (kind, T, tau)
        self._method = method

    def run(self, steps: int) -> None:
        if int(steps) > 0:
            self.sim.run(int(steps))
            self._ran = True

    @property
    def step(self) -> int:
        return int(self.sim.timestep)

    def reset_step(self) -> None:
        snap = self.sim.state.get_snapshot()
        integrator = self._integrator
        self.sim.operations.integrator = None
        self.sim = self._simulation(0)
        self.sim.create_state_from_snapshot(snap)
        self._attach()
        if integrator is not None:
            self.set_integrator(*integrator)

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        snap = self.sim.state.get_snapshot()
        x = np.asarray(snap.particles.position, np.float64) + 0.5 * self.L
        image = np.asarray(snap.particles.image, np.int64)
        return x, image

    def energies(self) -> tuple[float, float]:
        if not self._ran:
            self.sim.run(0)
            self._ran = True
        return float(self.thermo.potential_energy), float(self.thermo.kinetic_energy)

    def save(self, path: Path) -> None:
        path = Path(path)
        meta = {"dt": self.dt, "integrator": self._integrator}
        side = path.with_name(path.name + ".json")
        tmp_side = side.with_name(side.name + ".tmp")
        tmp_side.write_text(json.dumps(meta))
        os.replace(tmp_side, side)
        tmp = path.with_name(path.name + ".tmp")
        self.hoomd.write.GSD.write(state=self.sim.state, filename=str(tmp), mode="wb")
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        path = Path(path)
        meta = json.loads(path.with_name(path.name + ".json").read_text())
        if self.sim is not None:
            self.sim.operations.integrator = None
        self.sim = self.hoomd.Simulation(device=self.device, seed=self.seed % 65536)
        self.sim.create_state_from_gsd(filename=str(path))
        self._attach()
        self.dt = float(meta["dt"])
        self._integrator = None
        counts = self.type_counts()
        if counts != (self.N_A, self.N_B):
            raise EngineError(
                f"restart file {path} holds {counts} particles, expected {(self.N_A, self.N_B)}"
            )

    def close(self) -> None:
        self.sim = None


class HoomdEngine(MDEngine):
    """HOOMD-blue (v4/v5 Python API), CPU."""

    name: ClassVar[str] = "hoomd"
    description: ClassVar[str] = (
        "HOOMD-blue through its Python API (used when `hoomd` is importable)"
    )

    @classmethod
    def available(cls) -> tuple[bool, str]:
        try:
            load_hoomd()
        except EngineError as exc:
            return False, str(exc)
        return True, ""

    def session(
        self, system: Any, rho: float, T: float, *, threads: int = 2, seed: int = 0
    ) -> HoomdSession:
        ok, why = self.available()
        if not ok:
            raise InputError(f"--engine hoomd: not usable here: {why}")
        return HoomdSession(system, rho, T, threads=threads, seed=seed)
