"""Kob-Andersen 80:20 binary mixtures: the Lennard-Jones (``ka-lj``) and WCA (``ka-wca``) systems.

Paper Eq. 9: V_αβ(r) = 4 ε_αβ [(σ_αβ/r)¹² − (σ_αβ/r)⁶ + C_αβ] for r ≤ r^c_αβ, zero beyond, with C_αβ
chosen so that V_αβ(r^c_αβ) = 0 (shifted potential). ε_AB = 1.5, ε_BB = 0.5, σ_AB = 0.8, σ_BB = 0.88,
all masses 1; r^c_αβ = 2.5 σ_αβ (LJ) or 2^{1/6} σ_αβ (WCA). Units: σ_AA = ε_AA = m = k_B = 1.

The box is cubic, L = 10 σ_AA by default, and the density is set through the number of particles,
N = ρ L³ (1200 … 1800 for ρ = 1.2 … 1.8), 80 % A and 20 % B. A state whose ρ L³ is not an integer
(or whose 80:20 split is not) is rejected with an `InputError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from memplug.errors import InputError
from memplug.interfaces import Context, System

#: Pair parameters (ε, σ) of the Kob-Andersen mixture, keyed by species pair.
KA_EPSILON = {("A", "A"): 1.0, ("A", "B"): 1.5, ("B", "B"): 0.5}
KA_SIGMA = {("A", "A"): 1.0, ("A", "B"): 0.8, ("B", "B"): 0.88}


@dataclass(frozen=True)
class PairCoefficients:
    """One pair's Lennard-Jones parameters, its cut-off and the shift C_αβ of Eq. 9 (in units of 4ε)."""

    epsilon: float
    sigma: float
    r_cut: float

    @property
    def shift(self) -> float:
        """C_αβ such that V(r_cut) = 0."""
        sr6 = (self.sigma / self.r_cut) ** 6
        return -(sr6 * sr6 - sr6)

    def energy(self, r: np.ndarray) -> np.ndarray:
        """V_αβ(r) of Eq. 9 (shifted, zero beyond the cut-off)."""
        r = np.asarray(r, float)
        sr6 = (self.sigma / r) ** 6
        v = 4.0 * self.epsilon * (sr6 * sr6 - sr6 + self.shift)
        return np.where(r <= self.r_cut, v, 0.0)


class KobAndersen(System):
    """Base class of the two Kob-Andersen systems; subclasses set ``potential`` and ``cut_factor``.

    Options: ``L`` (cubic box edge in σ_AA, default 10; tests use smaller boxes), ``x_A`` (number
    fraction of A, default 0.8), and for `context` the simulation settings (``engine``,
    ``seed``, ``workdir``) passed on to `memplug.plugins.md.protocol.run_state`.
    """

    potential: ClassVar[str] = ""
    cut_factor: ClassVar[float] = 2.5
    species: ClassVar[tuple[str, str]] = ("A", "B")
    options: ClassVar[dict[str, Any]] = {
        "L": 10.0,
        "x_A": 0.8,
        "engine": "lammps",
        "seed": 0,
        "workdir": None,
    }

    def __init__(self, **options: Any):
        super().__init__(**options)
        L = self.config["L"]
        if not isinstance(L, int | float) or not math.isfinite(L) or L <= 0:
            raise InputError(f"system {self.name}: option L: expected a box edge > 0, got {L!r}")
        x_A = self.config["x_A"]
        if not isinstance(x_A, int | float) or not 0 < x_A < 1:
            raise InputError(f"system {self.name}: option x_A: expected 0 < x_A < 1, got {x_A!r}")

    # -- geometry and composition ------------------------------------------------------------
    @property
    def box_length(self) -> float:
        return float(self.config["L"])

    @property
    def masses(self) -> np.ndarray:
        return np.ones(2)

    def pair_coefficients(self) -> dict[tuple[str, str], PairCoefficients]:
        """(ε, σ, r_cut) for AA, AB, BB."""
        return {
            pair: PairCoefficients(
                KA_EPSILON[pair], KA_SIGMA[pair], self.cut_factor * KA_SIGMA[pair]
            )
            for pair in KA_EPSILON
        }

    @property
    def max_cutoff(self) -> float:
        return max(c.r_cut for c in self.pair_coefficients().values())

    def composition(self, rho: float) -> tuple[int, int]:
        """(N_A, N_B) for density ``rho`` in this box; InputError unless both are integers."""
        check_state(rho=rho, T=1.0)
        L = self.box_length
        n_float = rho * L**3
        N = round(n_float)
        if N < 2 or abs(n_float - N) > 1e-6 * max(1.0, n_float):
            raise InputError(
                f"--rho: ρ L³ = {rho} × {L:g}³ = {n_float:.6g} is not an integer number of "
                f"particles for the box L = {L:g}"
            )
        x_A = float(self.config["x_A"])
        na_float = x_A * N
        N_A = round(na_float)
        if abs(na_float - N_A) > 1e-6 * max(1.0, na_float) or N_A in (0, N):
            raise InputError(
                f"--rho: N = {N} particles cannot be split {x_A:g}:{1 - x_A:g} into integers "
                f"(N_A would be {na_float:.6g})"
            )
        return N_A, N - N_A

    def n_particles(self, rho: float) -> int:
        return sum(self.composition(rho))

    def species_array(self, rho: float) -> np.ndarray:
        """Species index per particle (0 = A, 1 = B), A first, in particle-id order."""
        N_A, N_B = self.composition(rho)
        return np.concatenate([np.zeros(N_A, np.int32), np.ones(N_B, np.int32)])

    # -- statics -----------------------------------------------------------------------------
    def context(self, **state: Any) -> Context:
        """Statics at ``rho=…, T=…`` measured by running the simulation protocol (expensive).

        Runs `memplug.plugins.md.protocol.run_state` in ``workdir`` (option; a temporary directory
        when not given) and converts its one-state dataset into a `Context`.
        """
        import tempfile
        from pathlib import Path

        from memplug import data
        from memplug.plugins.md.protocol import run_state

        unknown = sorted(set(state) - {"rho", "T"})
        if unknown or "rho" not in state or "T" not in state:
            raise InputError(
                f"system {self.name}: state: expected rho=… and T=…, got {sorted(state)}"
            )
        workdir = self.config["workdir"]
        with tempfile.TemporaryDirectory() as tmp:
            ds = run_state(
                self.name,
                float(state["rho"]),
                float(state["T"]),
                engine=self.config["engine"],
                seed=int(self.config["seed"]),
                workdir=Path(workdir) if workdir else Path(tmp),
                L=self.box_length,
            )
            return data.context_for(ds, 0, dynamics="overdamped")


def check_state(*, rho: float, T: float) -> None:
    """InputError unless ρ > 0 and T > 0 are finite numbers."""
    for name, value in (("rho", rho), ("T", T)):
        if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise InputError(f"--{name}: expected a finite number > 0, got {value!r}")


class KobAndersenLJ(KobAndersen):
    """Kob-Andersen 80:20 Lennard-Jones mixture, cut at 2.5 σ_αβ and shifted (paper Eq. 9)."""

    name: ClassVar[str] = "ka-lj"
    description: ClassVar[str] = "Kob-Andersen 80:20 LJ mixture, r_c = 2.5 σ_αβ, shifted (Eq. 9)"
    potential: ClassVar[str] = "LJ"
    cut_factor: ClassVar[float] = 2.5


class KobAndersenWCA(KobAndersen):
    """WCA truncation of the Kob-Andersen mixture: cut at 2^{1/6} σ_αβ and shifted (purely repulsive)."""

    name: ClassVar[str] = "ka-wca"
    description: ClassVar[str] = "Kob-Andersen 80:20 WCA mixture, r_c = 2^(1/6) σ_αβ, shifted"
    potential: ClassVar[str] = "WCA"
    cut_factor: ClassVar[float] = 2.0 ** (1.0 / 6.0)
