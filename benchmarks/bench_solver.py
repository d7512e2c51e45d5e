"""Benchmark of the core solvers (run on demand: ``python benchmarks/bench_solver.py``).

Prints warm (post-compilation) wall times, measured side by side in one run:
  - one explicit-kernel solve (time doubling, block-triangular) over 1e-4 … 1e5,
  - a 64-member population of the same solve in one vmapped, jitted call,
  - the diffrax (Markovian embedding) path on the same kernel and time range (100 output times),
  - a plain NumPy reference implementation of the same time-doubling scheme (point by point),
and the ratios against the NumPy reference, plus the largest difference between the two
implementations (they are the same discretisation, so it is round-off).
"""

from __future__ import annotations

import argparse
import platform

import jax
import jax.numpy as jnp
import numpy as np
from _timing import repeat

import memplug
from memplug import DiffraxSolver, ExponentialSumKernel, MemoryEquation, TimeDoublingSolver


def numpy_reference(
    N: int, dt0: float, n_blocks: int, gamma: float, w: float, r: float
) -> np.ndarray:
    """Scalar overdamped equation F' + γF + ∫ w e^{−r(t−τ)} F'(τ)dτ = 0, same scheme, plain loops."""
    L, h = 4 * N, 2 * N
    d1 = np.array([11.0, -18.0, 9.0, -2.0, 0.0]) / 6.0

    def M_of(t):
        return w * np.exp(-r * t)

    def grid(dt):
        t = np.arange(L) * dt
        M = M_of(t)
        a = np.maximum(t - dt, 0.0)
        rdt = r * dt
        dM = w * np.exp(-r * a) * (-np.expm1(-rdt) / rdt)
        dM[0] = M[0]
        return M, dM

    def stencil(i, first):
        if first and i == 1:
            return np.array([1.0, -1.0, 0, 0, 0])
        if first and i == 2:
            return np.array([1.5, -2.0, 0.5, 0, 0])
        return d1

    def block(F, dF, dt, n0, first):
        M, dM = grid(dt)
        for i in range(n0, L):
            ib = i // 2
            c = stencil(i, first)
            diag = c[0] / dt + gamma + M[0]
            rest = sum(c[s] / dt * F[i - s] for s in range(1, 5) if i - s >= 0)
            rest -= M[i - ib] * F[ib]
            for k in range(1, ib + 1):
                rest += dM[i - k + 1] * (F[k] - F[k - 1])
                if k < n0:
                    rest += (M[i - k] - M[i - k + 1]) * (0.5 * (F[k - 1] + F[k]) - dF[k])
            for k in range(1, i - ib + 1):
                j = i - k + 1
                G = M[k] - M[k - 1]
                D = dM[k] - 0.5 * (M[k] + M[k - 1])
                if j >= n0:
                    if j == i:
                        diag += 0.5 * G + D
                    else:
                        rest += (0.5 * G + D) * F[j]
                    rest += (0.5 * G - D) * F[j - 1]
                else:
                    rest += G * dF[j] + D * (F[j] - F[j - 1])
            F[i] = -rest / diag
        dF[n0:] = 0.5 * (F[n0 - 1 : L - 1] + F[n0:])
        return F, dF

    F = np.zeros(L)
    dF = np.zeros(L)
    F[0] = dF[0] = 1.0
    F, dF = block(F, dF, dt0, 1, True)
    out = [F.copy()]
    dt = dt0
    for _ in range(n_blocks - 1):
        F2 = np.zeros(L)
        F2[:h] = F[0:L:2]
        dF2 = np.zeros(L)
        dF2[0] = dF[0]
        j = np.arange(1, h)
        dF2[1:h] = 0.5 * (dF[2 * j - 1] + dF[2 * j])
        F, dF, dt = F2, dF2, 2 * dt
        F, dF = block(F, dF, dt, h, False)
        out.append(F[h:].copy())
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--N", type=int, default=16, help="points per quarter block (block = 4N)")
    parser.add_argument("--population", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    gamma, w, r = 1.0, 1.5, 2.0
    L = 4 * args.N
    dt0 = 1e-4 / (L - 1)  # first block ends at 1e-4
    solver = TimeDoublingSolver(N=args.N, dt0=dt0, t_max=1e5)

    def make(theta):
        return MemoryEquation(0.0, 1.0, gamma, 1.0, ExponentialSumKernel(theta[:1], theta[1:]))

    theta = jnp.array([w, r])
    single = jax.jit(lambda th: solver.solve(make(th)).F)
    t_single = repeat(lambda: single(theta).block_until_ready(), args.repeat, warmup=True).best

    pop = jnp.abs(theta + 0.1 * jax.random.normal(jax.random.PRNGKey(0), (args.population, 2)))
    batched = jax.jit(jax.vmap(lambda th: solver.solve(make(th)).F))
    t_pop = repeat(
        lambda: batched(pop).block_until_ready(), max(3, args.repeat // 4), warmup=True
    ).best

    ts = tuple(float(x) for x in np.geomspace(1e-4, 1e5, 100))
    dsolver = DiffraxSolver(ts=ts, rtol=1e-8, atol=1e-10)
    dx = jax.jit(lambda th: dsolver.solve(make(th)).F)
    t_dx = repeat(lambda: dx(theta).block_until_ready(), max(3, args.repeat // 4), warmup=True).best

    ref = {}

    def run_ref():
        ref["F"] = numpy_reference(args.N, dt0, solver.n_blocks, gamma, w, r)

    t_np = repeat(run_ref, 1, warmup=True).best
    diff = float(np.max(np.abs(ref["F"] - np.asarray(single(theta)))))

    print(
        f"memplug {memplug.__version__}, jax {jax.__version__}, {platform.processor() or platform.machine()}, "
        f"{jax.device_count()} device(s); N = {args.N}, {len(solver.times())} time points over 1e-4 … 1e5"
    )
    print(f"{'case':<44}{'wall':>11}{'CPU':>11}{'CPU vs NumPy':>14}")
    rows = [
        ("NumPy reference, same scheme (baseline)", t_np, 1),
        ("time doubling, one solve (jit)", t_single, 1),
        (f"time doubling, {args.population} solves (jit + vmap)", t_pop, args.population),
        ("diffrax embedding, one solve (jit)", t_dx, 1),
    ]
    print("(the ratio compares CPU time per solve)")
    for name, (wall, cpu), n in rows:
        print(f"{name:<44}{wall * 1e3:>8.2f} ms{cpu * 1e3:>8.2f} ms{n * t_np[1] / cpu:>13.1f}x")
    print(f"per member of the population: {t_pop[1] / args.population * 1e3:.3f} ms CPU")
    print(f"max |F_jax − F_numpy| = {diff:.2e} (same discretisation: round-off)")


if __name__ == "__main__":
    main()
