"""Benchmark of the MCT plugin: kernel evaluation (JAX vs plain NumPy) and full solves.

    python benchmarks/bench_mct.py [--n-k 100] [--t-max 1e5] [--repeat 20] [--json out.json]

Measures, for a binary PY hard-sphere mixture (diameters 1 and 0.8, x = 1/2, φ = 0.55, N_k points on
(0, 40]): the warm time of one collective kernel evaluation and of one collective + tagged
evaluation (jit-compiled JAX), the same collective kernel in plain NumPy (vertex contraction over
s⁴ species indices + the sequential Bengtzelius recurrence), one steady-state solve, and full
time-doubling solves (collective only; collective + tagged + probe at k_peak) to t_max, overdamped
and Newtonian: first call (compile + run) and warm call, each as wall time and as CPU time of the
process (all threads), with the 1-minute load average before and after. A last, untimed solve per
dynamics counts the kernel evaluations (a host callback in the kernel) to split the warm time into
kernel evaluations and the solver's own work.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from _timing import repeat, report, timed


def timed_with_load(fn):
    """(result, wall s, CPU s of this process, load average before, after)."""
    load0 = os.getloadavg()[0]
    res, wall, cpu = timed(fn)
    return res, wall, cpu, load0, os.getloadavg()[0]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n-k", type=int, default=100)
    ap.add_argument("--t-max", type=float, default=1e5)
    ap.add_argument("--phi", type=float, default=0.55)
    ap.add_argument("--N", type=int, default=16, help="time-doubling block size 4N")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import memplug  # noqa: F401  (float64)
    from memplug.plugins.mct import dynamics as dyn
    from memplug.plugins.mct import kernels, reference, steady
    from memplug.plugins.mct.grid import midpoint_grid
    from memplug.plugins.systems import hard_spheres as hs

    d, x = [1.0, 0.8], [0.5, 0.5]
    k = midpoint_grid(args.n_k, 40.0)
    st = kernels.make_statics(
        k, hs.percus_yevick_mixture_S(k, args.phi, d, x), hs.mixture_density(args.phi, d, x), x
    )
    D = np.ones(2)
    out: dict = {
        "n_k": args.n_k,
        "species": 2,
        "phi": args.phi,
        "t_max": args.t_max,
        "N": args.N,
        "cpus": os.cpu_count(),
        "device": str(jax.devices()[0]),
        "load_average": os.getloadavg()[0],
    }

    coll = kernels.MCTKernel(st, D)
    joint = kernels.MCTKernel(st, D, tagged=True, k_probe=[k[np.argmax(st.S[:, 0, 0])]])
    call = eqx.filter_jit(lambda kern, F: kern(F))
    F = jnp.asarray(st.S)
    Fj = jnp.concatenate([F, jnp.broadcast_to(jnp.eye(2), (args.n_k + 1, 2, 2))])
    call(coll, F).block_until_ready()
    call(joint, Fj).block_until_ready()
    out["kernel_collective_s"] = repeat(
        lambda: call(coll, F).block_until_ready(), args.repeat
    ).best_wall
    out["kernel_joint_s"] = repeat(
        lambda: call(joint, Fj).block_until_ready(), args.repeat
    ).best_wall
    c0 = time.process_time()
    for _ in range(args.repeat):
        call(joint, Fj).block_until_ready()
    out["kernel_joint_cpu_s"] = (time.process_time() - c0) / args.repeat  # incl. Python dispatch
    Fn = np.asarray(st.S)
    out["kernel_numpy_s"] = repeat(
        lambda: reference.collective_kernel_bengtzelius(Fn, k, st.c, st.rho, st.x, D),
        max(3, args.repeat // 5),
    ).best_wall
    out["kernel_ratio_numpy_over_jax"] = out["kernel_numpy_s"] / out["kernel_collective_s"]
    K_np = reference.collective_kernel_bengtzelius(Fn, k, st.c, st.rho, st.x, D)
    out["kernel_max_rel_diff"] = float(
        np.max(np.abs(np.asarray(call(coll, F)) - K_np)) / np.max(np.abs(K_np))
    )

    t0 = time.perf_counter()
    ne = steady.nonergodicity(st)
    out["steady_first_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ne = steady.nonergodicity(st)
    out["steady_warm_s"] = time.perf_counter() - t0
    out["steady_iterations"] = ne.iterations
    out["glass"] = ne.glass

    solver = dyn.default_solver(t_max=args.t_max, N=args.N)
    probe = [float(k[np.argmax(st.S[:, 0, 0])])]
    for dynamics in ("overdamped", "newtonian"):
        for name, kw in (("collective", {"tagged": False}), ("joint", {"k_probe": probe})):
            tag = f"{dynamics}_{name}"
            for when in ("first", "warm"):
                sol, wall, cpu, l0, l1 = timed_with_load(
                    lambda kw=kw, dyn_=dynamics: dyn.solve_mct(st, D, dyn_, **kw, solver=solver)
                )
                out[f"solve_{tag}_{when}_wall_s"] = wall
                out[f"solve_{tag}_{when}_cpu_s"] = cpu
                out[f"solve_{tag}_{when}_load"] = f"{l0:.1f} -> {l1:.1f}"
            out[f"solve_{tag}_status"] = sol.describe
            out["time_points"] = len(sol.t)
        # kernel evaluations of the joint solve, counted by a host callback (untimed run)
        calls = [0]

        def count(_, calls=calls):
            calls[0] += 1

        class Counted(kernels.MCTKernel):
            def __call__(self, F):
                jax.debug.callback(count, F[0, 0, 0])
                return super().__call__(F)

        eq = dyn.joint_equation(st, D, dynamics, probe)
        eq = eqx.tree_at(lambda e: e.kernel, eq, Counted(st, D, tagged=True, k_probe=probe))
        res = solver.solve(eq)
        res.F.block_until_ready()
        out[f"{dynamics}_joint_kernel_evaluations"] = calls[0]
        out[f"{dynamics}_joint_max_iterations_per_point"] = int(res.iterations)
        share = (
            calls[0] * out["kernel_joint_cpu_s"]
        )  # an upper bound: includes the dispatch of a lone call
        out[f"{dynamics}_joint_kernel_share_of_warm_cpu"] = (
            share / out[f"solve_{dynamics}_joint_warm_cpu_s"]
        )
    jax.clear_caches()

    report(out, args.json)


if __name__ == "__main__":
    main()
