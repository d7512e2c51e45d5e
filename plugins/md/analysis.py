"""The observables of the MD plugin, registered like any plugin's, and the analysis stage that runs
every registered observable on a production run.

Each observable is a `memplug.interfaces.Observable` computing named variables from a
`memplug.interfaces.Trajectory`. The built-in ones write the dataset schema's variables:

- ``structure-factor``: ``S(pair, k)`` on the 100-point grid, ``k_below_box(k)``, ``k_peak``;
- ``self-intermediate-scattering``: ``Fs(species, t)`` at k_peak and ``Fs_k(species, kq, t)``;
- ``msd``: ``msd(species, t)``;
- ``tau-alpha``: ``tau_alpha``, where F_s^{AA}(k_peak, t) = 1/e;

and two optional ones (present in states simulated since they exist):

- ``collective-intermediate-scattering``: ``F(pair, t)`` = F^{αβ}(k_peak, t) (paper Eq. 10);
- ``non-gaussian``: ``alpha2(species, t)``, α₂(t) = 3⟨Δr⁴⟩ / (5⟨Δr²⟩²) − 1.

Intermediate results (S(k) on the grid, F_s and the MSD from one pass over the frames) are kept in
``trajectory.cache``, so each is computed once whichever observables use it.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from memplug.constants import K_EDGES
from memplug.interfaces import Observable, Trajectory, Variable
from memplug.plugins.md import observables as obs

#: Settings of the analysis (part of the protocol's settings, `protocol.PROTOCOL_DEFAULTS`).
ANALYSIS_DEFAULTS: dict[str, Any] = {
    "n_sk_frames": 16,  # frames used for S(k)
    "max_per_bin": 400,  # wave vectors per k shell for S(k)
}


def _setting(trajectory: Trajectory, name: str) -> Any:
    return trajectory.settings.get(name, ANALYSIS_DEFAULTS[name])


def structure(trajectory: Trajectory) -> tuple[obs.GridStructureFactor, float]:
    """S^{αβ}(k) on the grid from ``n_sk_frames`` frames spread over the run, and k_peak of S^{AA}
    (computed once per trajectory)."""
    if "structure" not in trajectory.cache:
        steps = trajectory.steps
        L = trajectory.L
        pick = np.unique(
            np.searchsorted(
                steps, np.linspace(0, steps[-1], int(_setting(trajectory, "n_sk_frames")))
            )
        )
        pick = pick[pick < steps.size]
        grid = obs.structure_factor_on_grid(
            trajectory.positions[pick],
            trajectory.species,
            L,
            max_per_bin=int(_setting(trajectory, "max_per_bin")),
            seed=trajectory.seed,
        )
        kp = obs.k_peak(grid.k, grid.S[0], k_min=max(2.0, 2 * math.pi / L))
        trajectory.cache["structure"] = (grid, kp)
    return trajectory.cache["structure"]


def self_dynamics(trajectory: Trajectory) -> tuple[np.ndarray, np.ndarray]:
    """(F_s of shape (species, 1 + n_kq, t) at k_peak and kq, MSD (species, t)), computed once."""
    if "self_dynamics" not in trajectory.cache:
        k = np.array([trajectory.k_peak, *trajectory.kq])
        Fs, msd, _ = obs.self_dynamics(
            trajectory.positions,
            trajectory.species,
            trajectory.steps,
            trajectory.origins,
            trajectory.lags,
            k,
        )
        trajectory.cache["self_dynamics"] = (Fs, msd)
    return trajectory.cache["self_dynamics"]


def tau_alpha(trajectory: Trajectory) -> float:
    """τ_α of F_s^{AA}(k_peak, t) on the trajectory's lag times."""
    Fs, _ = self_dynamics(trajectory)
    return obs.tau_alpha(trajectory.time, Fs[0, 0])


class StructureFactor(Observable):
    name: ClassVar[str] = "structure-factor"
    description: ClassVar[str] = "partial S^{αβ}(k) on the 100-point grid and k_peak of S^{AA}"
    variables: ClassVar[dict[str, tuple[str, ...]]] = {
        "S": ("pair", "k"),
        "k_below_box": ("k",),
        "k_peak": (),
    }

    def compute(self, trajectory: Trajectory) -> dict[str, Variable]:
        grid, kp = structure(trajectory)
        return {
            "S": (("pair", "k"), grid.S),
            "k_below_box": (("k",), grid.below_box),
            "k_peak": ((), np.asarray(kp)),
        }


class SelfIntermediateScattering(Observable):
    name: ClassVar[str] = "self-intermediate-scattering"
    description: ClassVar[str] = (
        "F_s^{αα}(k, t) at k_peak (Fs) and at kq (Fs_k), averaged over origins"
    )
    variables: ClassVar[dict[str, tuple[str, ...]]] = {
        "Fs": ("species", "t"),
        "Fs_k": ("species", "kq", "t"),
    }

    def compute(self, trajectory: Trajectory) -> dict[str, Variable]:
        Fs, _ = self_dynamics(trajectory)
        return {"Fs": (("species", "t"), Fs[:, 0]), "Fs_k": (("species", "kq", "t"), Fs[:, 1:])}


class MeanSquaredDisplacement(Observable):
    name: ClassVar[str] = "msd"
    description: ClassVar[str] = "mean-squared displacement per species, averaged over origins"
    variables: ClassVar[dict[str, tuple[str, ...]]] = {"msd": ("species", "t")}

    def compute(self, trajectory: Trajectory) -> dict[str, Variable]:
        _, msd = self_dynamics(trajectory)
        return {"msd": (("species", "t"), msd)}


class TauAlpha(Observable):
    name: ClassVar[str] = "tau-alpha"
    description: ClassVar[str] = "τ_α: F_s^{AA}(k_peak, τ_α) = 1/e (NaN if not reached)"
    variables: ClassVar[dict[str, tuple[str, ...]]] = {"tau_alpha": ()}

    def compute(self, trajectory: Trajectory) -> dict[str, Variable]:
        return {"tau_alpha": ((), np.asarray(tau_alpha(trajectory)))}


class CollectiveIntermediateScattering(Observable):
    name: ClassVar[str] = "collective-intermediate-scattering"
    description: ClassVar[str] = (
        "F^{αβ}(k_peak, t) = N⁻¹⟨ρ_α(k, t₀+t) ρ_β(−k, t₀)⟩ on the lattice vectors of the k_peak shell"
    )
    variables: ClassVar[dict[str, tuple[str, ...]]] = {"F": ("pair", "t")}

    def compute(self, trajectory: Trajectory) -> dict[str, Variable]:
        b = int(np.searchsorted(K_EDGES, trajectory.k_peak, side="right")) - 1
        vectors = obs.lattice_wave_vectors(
            trajectory.L,
            K_EDGES[b : b + 2],
            max_per_bin=int(_setting(trajectory, "max_per_bin")),
            seed=trajectory.seed,
        )
        F = obs.collective_dynamics(
            trajectory.positions,
            trajectory.species,
            trajectory.L,
            trajectory.steps,
            trajectory.origins,
            trajectory.lags,
            vectors,
        )
        return {"F": (("pair", "t"), F[:, 0])}


class NonGaussian(Observable):
    name: ClassVar[str] = "non-gaussian"
    description: ClassVar[str] = "non-Gaussian parameter α₂(t) = 3⟨Δr⁴⟩/(5⟨Δr²⟩²) − 1 per species"
    variables: ClassVar[dict[str, tuple[str, ...]]] = {"alpha2": ("species", "t")}

    def compute(self, trajectory: Trajectory) -> dict[str, Variable]:
        a2 = obs.non_gaussian(
            trajectory.positions,
            trajectory.species,
            trajectory.steps,
            trajectory.origins,
            trajectory.lags,
        )
        return {"alpha2": (("species", "t"), a2)}


BUILTIN = (
    StructureFactor,
    SelfIntermediateScattering,
    MeanSquaredDisplacement,
    TauAlpha,
    CollectiveIntermediateScattering,
    NonGaussian,
)


def measure(trajectory: Trajectory, names: list[str] | None = None) -> dict[str, Variable]:
    """Every registered observable (or those ``names``) on ``trajectory``: ``{variable: (dims,
    values)}``. Two observables writing the same variable are an error naming both."""
    from memplug.errors import InputError
    from memplug.registry import get_registry

    reg = get_registry()
    out: dict[str, Variable] = {}
    source: dict[str, str] = {}
    for name in reg.names("observables") if names is None else names:
        observable = reg.create("observables", name)
        for var, value in observable(trajectory).items():
            if var in out:
                raise InputError(
                    f"observables {source[var]!r} and {name!r} both write the variable {var!r}"
                )
            out[var] = value
            source[var] = name
    return out
