"""The Einstein frequency of a Kob-Andersen state from a small MD run, by two routes.

``einstein_from_md`` runs a small canonical (Nosé-Hoover) simulation with a registered engine and,
on the same configurations, computes

- the force route Ω_E,α² = ⟨|F_i|²⟩_{i∈α} / (3 m T) (forces from the pair potentials, minimum
  image), and
- the structure route (ρ / 3m) Σ_β x_β ∫ g_αβ ∇²V_αβ d³r with g from the same frames, including the
  surface term of the truncation (`.sum_rule`).

They agree only if the sum-rule formula (with its surface term) is right and the sampling is
canonical, which makes the pair an independent check of `.sum_rule.einstein_frequency2`.
The box L = (N/ρ)^{1/3} must hold the cut-off (r_c < L/2): N = 200 suffices for KA-LJ at ρ ≥ 1.2.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memplug.errors import InputError
from memplug.plugins.inversion.sum_rule import (
    einstein_frequency2,
    kob_andersen_pairs,
    mean_squared_force_frequency2,
    pair_forces,
    radial_distribution,
)


def einstein_from_md(
    system: str = "ka-lj",
    rho: float = 1.2,
    T: float = 0.81,
    *,
    N: int = 200,
    engine: str = "lammps",
    seed: int = 0,
    dt: float = 0.003,
    equilibrate: int = 5000,
    frames: int = 40,
    every: int = 100,
    n_bins: int = 250,
) -> dict[str, Any]:
    """Ω_E² per species by the force and the structure route (module docstring).

    Returns a dict with ``force`` and ``structure`` (shape ``(s,)``, 1/time²), ``force_err`` (the
    standard error of the force route over frames), ``r`` and ``g`` (the measured g(r)), and the
    run's ``N``, ``L``, ``frames``.
    """
    from memplug.plugins.md.protocol import check_inputs

    sys_cls, eng_cls = check_inputs(system, rho, T, engine)
    potential = getattr(sys_cls, "potential", "")
    if potential not in ("LJ", "WCA"):
        raise InputError(f"--system {system}: expected a Kob-Andersen system (ka-lj or ka-wca)")
    if isinstance(N, bool) or not isinstance(N, int) or N < 10 or N % 5:
        raise InputError(f"--N: expected a multiple of 5 (80:20 mixture), at least 10, got {N!r}")
    L = (N / rho) ** (1.0 / 3.0)
    sysobj = sys_cls(L=L)
    pairs = kob_andersen_pairs(potential)
    r_max = max(p.r_cut for p in pairs.values())
    if r_max > L / 2 - L / (2 * n_bins):
        raise InputError(
            f"--N {N}: the box (L = {L:.3g}) must hold the cut-off, L > 2 r_c = {2 * r_max:g}"
        )
    species = sysobj.species_array(rho)
    if min(frames, every, equilibrate) < 1:
        raise InputError("--frames, --every and --equilibrate: expected positive integers")
    s = eng_cls().session(sysobj, rho, T, threads=1, seed=seed)
    try:
        s.create_random()
        s.minimize()
        s.set_timestep(dt)
        s.set_velocities(T, seed + 1)
        s.set_integrator("nvt", T, 100 * dt)
        s.run(equilibrate)
        pos = []
        for _ in range(frames):
            s.run(every)
            pos.append(s.snapshot()[0])
    finally:
        s.close()
    box = sysobj.box_length
    per_frame = np.array(
        [
            mean_squared_force_frequency2(pair_forces(p, species, box, pairs), species, T)
            for p in pos
        ]
    )
    r, g = radial_distribution(np.array(pos), species, box, box / 2, n_bins)
    x = np.array([np.mean(species == a) for a in range(2)])
    structure = einstein_frequency2(r, g, rho, x, pairs)
    return {
        "force": per_frame.mean(axis=0),
        "force_err": per_frame.std(axis=0, ddof=1) / np.sqrt(len(pos)),
        "structure": structure,
        "r": r,
        "g": g,
        "N": int(species.size),
        "L": float(box),
        "frames": len(pos),
    }
