"""Benchmark of the MD plugins: engine-driver overhead and analysis time against freud.

1. *Driver overhead*: the production loop of :func:`memplug.plugins.md.protocol.run_state` (run to each
   log-spaced frame of several time origins, read positions and energies, append a GSD frame)
   against one bare engine ``run`` of the same number of steps. Both are timed in wall and process
   CPU time (CPU counts all OpenMP threads).
2. *Analysis*: our S^{αβ}(k) on the 100-point grid vs ``freud.diffraction.StaticStructureFactorDirect``
   (3 partials, same frames, about the same number of k vectors), and our F_s + MSD over the
   origin/lag schedule vs ``freud.msd.MSD`` (window mode, FFT) on the same number of frames.

Usage::

    python benchmarks/bench_simulation.py --system ka-lj --rho 1.2 --T 1.0 --threads 2 --lmax 1500
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from _timing import Timer

from memplug.plugins.md import observables as obs
from memplug.registry import get_registry


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--system", default="ka-lj")
    ap.add_argument("--rho", type=float, default=1.2)
    ap.add_argument("--T", type=float, default=1.0)
    ap.add_argument("--engine", default="lammps")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lmax", type=int, default=1500, help="longest lag in steps")
    ap.add_argument("--origins", type=int, default=8)
    ap.add_argument("--n-t", type=int, default=150)
    ap.add_argument("--no-analysis", action="store_true", help="time the driver only")
    args = ap.parse_args()

    import gsd.hoomd

    from memplug.plugins.md.protocol import _Runner, read_trajectory

    reg = get_registry()
    system = reg.get("systems", args.system)()
    engine = reg.get("engines", args.engine)()
    s = engine.session(system, args.rho, args.T, threads=args.threads, seed=1)
    s.create_random()
    s.minimize()
    s.set_velocities(args.T, 2)
    s.set_timestep(0.005)
    s.set_integrator("nvt", args.T, 0.5)
    s.run(1000)
    s.set_integrator("nve")
    s.reset_step()

    lags = obs.quasi_log_lags(1, args.lmax, args.n_t)
    origins = (args.lmax // 4) * np.arange(args.origins)
    frames = np.unique(np.concatenate([origins] + [o + lags for o in origins]))
    total = int(frames[-1])

    with Timer() as bare:
        s.run(total)
    s.reset_step()

    runner = _Runner.__new__(_Runner)  # reuse the production frame writer only
    runner.system, runner.rho = system, args.rho
    types = np.asarray(system.species_array(args.rho), np.uint32)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.gsd"
        with Timer() as driven, gsd.hoomd.open(path, mode="w") as traj:
            for f in frames:
                s.run(int(f) - s.step)
                traj.append(runner._frame(s, types))
        s.close()
        tr = read_trajectory(path)

    x, species, L = tr["unwrapped"], tr["typeid"], tr["L"]
    result = {
        "system": args.system,
        "rho": args.rho,
        "T": args.T,
        "N": int(species.size),
        "engine": args.engine,
        "threads": args.threads,
        "steps": total,
        "frames": int(frames.size),
        "bare_wall_s": bare.wall,
        "bare_cpu_s": bare.cpu,
        "driven_wall_s": driven.wall,
        "driven_cpu_s": driven.cpu,
        "overhead_wall_pct": 100 * (driven.wall / bare.wall - 1),
        "overhead_cpu_pct": 100 * (driven.cpu / bare.cpu - 1),
        "steps_per_s_bare_wall": total / bare.wall,
        "steps_per_s_bare_cpu": total / bare.cpu,
    }
    if args.no_analysis:
        print(json.dumps(result, indent=1))
        return
    pick = np.unique(np.searchsorted(tr["step"], np.linspace(0, total, 16)))
    with Timer() as sk_ours:
        grid = obs.structure_factor_on_grid(x[pick], species, L, max_per_bin=400)
    n_vectors = int(grid.count.sum())
    with Timer() as fs_ours:
        obs.self_dynamics(
            x, species, tr["step"], origins, lags, np.array([7.2, 3.0, 5.0, 10.0, 15.0])
        )

    result.update(
        {
            "sk_ours_s": sk_ours.wall,
            "sk_vectors_ours": n_vectors,
            "sk_frames": int(pick.size),
            "fs_msd_ours_s": fs_ours.wall,
        }
    )
    try:
        import freud

        box = freud.box.Box.cube(L)
        wrapped = tr["position"].astype(np.float64)
        with Timer() as sk_freud:
            for a, b in ((0, 0), (0, 1), (1, 1)):
                sf = freud.diffraction.StaticStructureFactorDirect(
                    bins=100, k_max=40.0, k_min=0.0, num_sampled_k_points=n_vectors
                )
                for i in pick:
                    sf.compute(
                        (box, wrapped[i][species == a]),
                        query_points=wrapped[i][species == b],
                        N_total=species.size,
                        reset=False,
                    )
                _ = sf.S_k
        with Timer() as msd_freud:
            freud.msd.MSD(box, mode="window").compute(x[: frames.size]).msd  # noqa: B018
        result.update(sk_freud_s=sk_freud.wall, msd_freud_window_s=msd_freud.wall)
    except ImportError:
        pass
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
