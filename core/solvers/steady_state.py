"""Long-time limit of a functional-kernel memory equation: the nonergodicity parameter.

For t → ∞ with F → f and M → M[f], the memory equation gives γ f + M[f] (f − F0) = 0, i.e.

    f = (γ + M[f])⁻¹ M[f] F0.

Iterating this map from f = F0 converges monotonically to the largest solution (the physical one in
MCT: Götze's maximum theorem); f = 0 is the liquid (ergodic) solution.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from memplug.equation import MemoryEquation


class SteadyState(eqx.Module):
    """Result: ``f`` (problem shape), ``iterations``, ``converged`` (bool), ``residual``."""

    f: jax.Array
    iterations: jax.Array
    converged: jax.Array
    residual: jax.Array


@eqx.filter_jit
def nonergodicity_parameter(
    eq: MemoryEquation, tol: float = 1e-12, max_iter: int = 100_000
) -> SteadyState:
    """Solve f = (γ + M[f])⁻¹ M[f] F0 by iteration from f = F0 (functional kernels only)."""
    kernel = eq.kernel

    def step(f):
        M = eq.to_canonical(kernel(eq.from_canonical(f)))
        return jnp.linalg.solve(eq.gamma + M, jnp.einsum("kab,kbc->kac", M, eq.F0))

    def cond(c):
        _, it, err = c
        return (err > tol) & (it < max_iter)

    def body(c):
        f, it, _ = c
        fn = step(f)
        err = jnp.max(jnp.abs(fn - f))
        return fn, it + 1, jnp.where(jnp.isfinite(err), err, 0.0)

    f, it, err = jax.lax.while_loop(cond, body, (eq.F0, 0, jnp.inf))
    return SteadyState(eq.from_canonical(f), it, (err <= tol) & jnp.all(jnp.isfinite(f)), err)
