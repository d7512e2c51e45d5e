"""Benchmark of the closure catalogue: one solve per closure, and a vmapped population.

    python benchmarks/bench_closures.py [--n 32] [--t-max 1e4] [--population 16] [--repeat 5]

For every installed closure (at its defaults, binary mixture, T = 1, k_peak = 7.25) it measures the
first solve by name with the time-doubling solver (compile + run, process CPU and wall) and the
warm solve (best and median of ``--repeat``), plus, for the closures whose kernel is a sum of
exponentials, the same with the diffrax solver. Then, for ``stretched`` (paper Eq. 6, 27
parameters), the warm time of one jit-compiled, vmapped evaluation of a population of candidates —
what an evolutionary optimizer does per generation. A failing solve is reported, not hidden.
"""

from __future__ import annotations

import argparse

from _timing import repeat, timed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=32, help="time-doubling block parameter N")
    p.add_argument("--t-max", type=float, default=1e4)
    p.add_argument("--population", type=int, default=16)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()

    import jax
    import jax.numpy as jnp

    import memplug
    from memplug.kernels import ExplicitKernel
    from memplug.model import closure_solver, default_context, get_closure
    from memplug.registry import get_registry

    ctx = default_context()
    td = memplug.TimeDoublingSolver(N=args.n, t_max=args.t_max)
    dx = memplug.DiffraxSolver(t_max=args.t_max, n_out=200)
    print(
        f"time-doubling N = {args.n}, t_max = {args.t_max:g}; diffrax n_out = 200 (default tolerances)"
    )
    print("| closure | params | solver | first solve wall / CPU | warm best / median | status |")
    print("|---|---|---|---|---|---|")
    for name in get_registry().names("closures"):
        try:
            closure = get_closure(name)
            theta = closure.initial(ctx)
            dim = closure.space(ctx).dim
            kernel = closure.kernel(theta, ctx)
        except Exception as exc:  # e.g. a closure needing statics the default context lacks
            print(f"| {name} | - | - | - | - | not run: {type(exc).__name__}: {exc} |")
            continue
        solvers = [("time-doubling", td)]
        if isinstance(kernel, ExplicitKernel) and kernel.exponential_sum() is not None:
            solvers.append(("diffrax", dx))
        for sname, solver in solvers:
            solve = closure_solver(closure, ctx, solver)
            try:
                sol, wall, cpu = timed(lambda s=solve, th=theta: jax.block_until_ready(s(th)))
                r = repeat(lambda s=solve, th=theta: jax.block_until_ready(s(th).F), args.repeat)
                best, med = r.best_wall, r.median_wall
                print(
                    f"| {name} | {dim} | {sname} | {wall:.2f} s / {cpu:.2f} s | "
                    f"{best * 1e3:.1f} / {med * 1e3:.1f} ms | {sol.describe()} |"
                )
            except Exception as exc:
                msg = str(exc).splitlines()[0][:80]
                print(f"| {name} | {dim} | {sname} | - | - | failed: {type(exc).__name__}: {msg} |")

    closure = get_closure("stretched")
    space = closure.space(ctx)
    solve = closure_solver(closure, ctx, td)
    u0 = space.to_unconstrained(space.pack(closure.initial(ctx)))
    U = u0[None] + 5e-2 * jax.random.normal(jax.random.PRNGKey(0), (args.population, space.dim))
    tq = jnp.geomspace(1e-2, args.t_max / 10, 150)

    @jax.jit
    def population(U):
        return jax.vmap(lambda u: solve(space.unpack(space.from_unconstrained(u))).interpolate(tq))(
            U
        )

    try:
        _, wall, cpu = timed(lambda: jax.block_until_ready(population(U)))
        r = repeat(lambda: jax.block_until_ready(population(U)), args.repeat)
        best, med = r.best_wall, r.median_wall
        print(
            f"\nstretched, population of {args.population} (vmapped, jit): first {wall:.2f} s wall / "
            f"{cpu:.2f} s CPU; warm best {best * 1e3:.1f} ms, median {med * 1e3:.1f} ms "
            f"({best / args.population * 1e3:.2f} ms per candidate)"
        )
    except Exception as exc:
        print(
            f"\nstretched population: failed: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}"
        )


if __name__ == "__main__":
    main()
