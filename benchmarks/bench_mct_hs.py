"""Benchmark: one-component hard spheres, full MCT, the configuration of ModeCouplingTheory.jl's docs.

    taskset -c 0 python benchmarks/bench_mct_hs.py [--repeat 5] [--json out.json]

Percus-Yevick hard spheres at η = 0.51591, N_k = 100 on (0, 40], Newtonian dynamics (unit mass,
k_BT = 1), time doubling with blocks of 4N = 32 points, first step 1e-5, t_max = 1e15 (1024 points),
fixed-point tolerance 1e-8. Solvers compared in the same run (the first is the baseline of every
ratio):

- ``previous``: the kernel as it was before the convolution sums, bipolar triangle sums of the
  full (q, p) arrays (`memplug.plugins.mct.grid.triangle_sums_last`), with the plain iteration
  F ← g(F) at each time point (on the current row summation);
- ``plain``: convolution sums (`bipolar_sums`), plain iteration;
- ``anderson-3`` (the default) and ``anderson-5``.

For each: first call (compile + solve) and the best warm wall and CPU time of ``--repeat`` solves,
the largest fixed-point iteration count per point, τ at k = 7.0 (F(k, τ)/S(k) = 1/e), Σ_k F(k,
t_max)/S(k) (0 for a liquid), and the largest |ΔF|/S of the solution against a reference solved at
tolerance 1e-13 (Anderson, depth 5), so that speed never trades accuracy. The reference figure of
ModeCouplingTheory.jl (its documentation, this configuration): 3.19 s, 106 MiB.

XLA runs on one thread (``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`` unless
XLA_FLAGS is set); pin the process to one core with ``taskset -c 0``.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import numpy as np  # noqa: E402
from _timing import repeat, report, timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-previous", action="store_true", help="skip the slow baseline (~8 s)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import jax
    import jax.numpy as jnp

    import memplug  # noqa: F401  (float64)
    from memplug import MemoryEquation
    from memplug.plugins.mct import dynamics as dyn
    from memplug.plugins.mct import grid, kernels, steady
    from memplug.plugins.systems import hard_spheres as hs
    from memplug.solvers import TimeDoublingSolver

    eta = 0.51591
    k = grid.midpoint_grid(100, 40.0)
    S = hs.percus_yevick_S(k, eta)
    st = kernels.make_statics(k, S, 6.0 * eta / np.pi)
    D = kernels.mobility(1.0, "newtonian", n_species=1)
    eq = dyn.collective_equation(st, D, "newtonian")

    class DirectSums(kernels.MCTKernel):
        """The kernel before the convolution sums: triangle sums of the weighted (q, p) arrays."""

        w: jax.Array

        def __init__(self, statics, D):
            super().__init__(statics, D)
            self.w = jnp.asarray(kernels.bipolar_weights(statics.k))

        def __call__(self, F):
            n = self.k.shape[0]
            _, g, h = kernels._vertex_factors(
                kernels._species_first(F[:n]), kernels._species_first(self.c)
            )
            A = (
                jnp.einsum("cr,rabj,rabl->cabjl", kernels._COLLECTIVE_COEF, g, h)
                * self.w[:, None, None]
            )
            I = kernels._combine(grid.triangle_sums_last(A), self.k)
            return jnp.transpose(self.pref[:, :, None] * I, (2, 0, 1))

    eq_prev = MemoryEquation(eq.alpha, eq.beta, eq.gamma, eq.F0, DirectSums(st, D))

    def solver(anderson: int, tol: float = 1e-8) -> TimeDoublingSolver:
        return TimeDoublingSolver(
            N=8, dt0=1e-5, t_max=1e15, tol=tol, max_iter=100_000, anderson=anderson
        )

    i7 = int(np.argmin(np.abs(k - 7.0)))

    def summary(sol):
        f = np.asarray(sol.F)[:, :, 0, 0] / S
        t = np.asarray(sol.t)
        j = int(np.argmax(f[:, i7] < np.exp(-1.0)))
        # τ by log-linear interpolation between the bracketing points
        a, b = f[j - 1, i7], f[j, i7]
        x = (np.log(a) + 1.0) / (np.log(a) - np.log(b))
        tau = float(np.exp(np.log(t[j - 1]) + x * (np.log(t[j]) - np.log(t[j - 1]))))
        return f, tau, float(f[-1].sum())

    ref, ref_tau, _ = summary(solver(5, 1e-13).solve(eq))
    out: dict = {
        "eta": eta,
        "n_k": 100,
        "time_points": 1024,
        "XLA_FLAGS": os.environ["XLA_FLAGS"],
        "device": str(jax.devices()[0]),  # JAX_PLATFORMS=cuda runs the same code on a GPU
        "cpus": os.cpu_count(),
        "load_average_start": os.getloadavg()[0],
        "sum_f_nonergodicity": float(np.sum(steady.nonergodicity(st).f[:, 0, 0] / S)),
        "reference_tau_k7": ref_tau,
    }
    solutions = {}
    variants = [("plain", eq, 0), ("anderson-3", eq, 3), ("anderson-5", eq, 5)]
    if not args.skip_previous:
        variants.insert(0, ("previous", eq_prev, 0))
    for name, e, m in variants:
        s = solver(m)
        sol, first, _ = timed(lambda s=s, e=e: jax.block_until_ready(s.solve(e)))
        r = repeat(lambda s=s, e=e: jax.block_until_ready(s.solve(e)), args.repeat)
        f, tau, tail = summary(sol)
        solutions[name] = f
        out[f"{name}_first_s"] = first
        out[f"{name}_warm_wall_s"] = r.best_wall
        out[f"{name}_warm_cpu_s"] = r.best_cpu
        out[f"{name}_max_iterations_per_point"] = int(sol.iterations)
        out[f"{name}_status"] = int(sol.status)
        out[f"{name}_tau_k7"] = tau
        out[f"{name}_sum_F_end_over_S"] = tail
        out[f"{name}_max_dF_vs_reference"] = float(np.max(np.abs(f - ref)))
    if "previous" in solutions:  # the kernel change alone: same iteration, other sums
        out["plain_vs_previous_max_dF"] = float(
            np.max(np.abs(solutions["plain"] - solutions["previous"]))
        )
    base = "previous" if not args.skip_previous else "plain"
    for name, _, _ in variants:
        out[f"{name}_speedup_vs_{base}"] = out[f"{base}_warm_wall_s"] / out[f"{name}_warm_wall_s"]
    out["load_average_end"] = os.getloadavg()[0]

    report(out, args.json)


if __name__ == "__main__":
    main()
