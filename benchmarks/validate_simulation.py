"""Physics validation of the MD plugins: Kob-Andersen LJ at ρ = 1.2 over a few temperatures.

Runs :func:`memplug.plugins.md.protocol.run_state` (full protocol, N = 1200, L = 10) for each T and prints
k_peak, the mean potential energy per particle and its spread, τ_α and the cost, as a JSON line per
state and a final table. Usage::

    python benchmarks/validate_simulation.py --workdir runs/validation --T 2.0 1.0 0.8 0.6 0.5

Each state's run directory is resumable; re-running prints the finished results immediately.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from memplug.plugins.md.protocol import run_state


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", type=Path, default=Path("runs/validation"))
    ap.add_argument("--system", default="ka-lj")
    ap.add_argument("--rho", type=float, default=1.2)
    ap.add_argument("--T", type=float, nargs="+", default=[2.0, 1.0, 0.8, 0.6, 0.5])
    ap.add_argument("--engine", default="lammps")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rows = []
    for T in args.T:
        t0 = time.time()
        ds = run_state(
            args.system,
            args.rho,
            T,
            engine=args.engine,
            seed=args.seed,
            threads=args.threads,
            workdir=args.workdir / f"{args.system}-rho{args.rho:.2f}-T{T:.3f}",
        )
        sim = json.loads(ds.attrs["simulation"])
        row = {
            "T": T,
            "N": int(ds.N.values[0]),
            "k_peak": float(ds.k_peak.values[0]),
            "S_AA_peak": float(ds.S.sel(pair="AA").values[0].max()),
            "epot_per_particle": sim["potential_energy_per_particle"],
            "epot_std": sim["potential_energy_per_particle_std"],
            "T_measured": sim["temperature_mean"],
            "tau_alpha": float(ds.tau_alpha.values[0]),
            "status": str(ds.status.values[0]),
            "dt": float(ds.dt.values[0]),
            "energy_drift": float(ds.energy_drift.values[0]),
            "steps": int(ds.steps.values[0]),
            "cpu_seconds": float(ds.cpu_seconds.values[0]),
            "wall_seconds_this_call": time.time() - t0,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(
        f"{'T':>6} {'k_peak':>7} {'E_pot/N':>9} {'±':>7} {'tau_a':>9} {'status':>12} {'dt':>7} {'drift':>9} {'cpu_s':>8}"
    )
    for r in rows:
        print(
            f"{r['T']:6.3f} {r['k_peak']:7.3f} {r['epot_per_particle']:9.4f} {r['epot_std']:7.4f} "
            f"{r['tau_alpha']:9.3f} {r['status']:>12} {r['dt']:7.4f} {r['energy_drift']:9.2e} {r['cpu_seconds']:8.1f}"
        )


if __name__ == "__main__":
    main()
