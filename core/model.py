"""From a closure and statics to a memory equation (paper Eq. 5) and its solution.

- `equation_for` builds the memory equation of a closure at parameters θ;
- `solve_closure` solves it once (closure by object or by name, ``"stretched:n_exp=2"``);
- `closure_solver` returns ``θ -> Solution`` for repeated solves: jit, vmap (a population of
  θ) and grad (through the solver) apply to it;
- `fit_memory` fits an explicit closure's M(t; θ) to a tabulated memory (e.g. M_mct), the
  paper's start of the evolutionary strategy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from memplug.equation import MemoryEquation
from memplug.interfaces import Closure, Context
from memplug.solution import Solution
from memplug.solvers import DiffraxSolver, TimeDoublingSolver

Solver = TimeDoublingSolver | DiffraxSolver


def default_context(
    n_species: int = 2, T: float = 1.0, k_peak: float = 7.25, rho: float = 1.2
) -> Context:
    """Statics of a Kob-Andersen-like state without a dataset: enough for explicit closures.

    Ω² is the self (tagged) value k_peak² T / m on the diagonal (unit masses).
    """
    x = np.array([0.8, 0.2]) if n_species == 2 else np.full(n_species, 1.0 / n_species)
    species = ("A", "B") if n_species == 2 else tuple(chr(65 + i) for i in range(n_species))
    return Context(
        n_species=n_species,
        T=T,
        k_peak=k_peak,
        rho=rho,
        x=x,
        masses=np.ones(n_species),
        species=species,
        dynamics="overdamped",
    )


def get_closure(closure: Closure | str) -> Closure:
    """A closure object from itself or from ``"name[:key=value,...]"`` (through the registry)."""
    if isinstance(closure, str):
        from memplug.registry import get_registry

        return get_registry().create("closures", closure)
    return closure


def equation_for(closure: Closure, theta: dict[str, Any], context: Context) -> MemoryEquation:
    """The memory equation for F_s^{αα}(k_peak, t) with the closure's kernel.

    Overdamped (paper Eq. 5): α = 0, β = 1, γ = Ω²; Newtonian (unit masses): α = 1, β = 0, γ = Ω².
    F0 is the identity (F_s^{αα}(k, 0) = 1, F_s^{αβ} = 0 for α ≠ β). JAX-traceable in ``theta``.
    """
    s = context.n_species
    omega2 = jnp.asarray(context.omega2_matrix())
    kernel = closure.kernel(theta, context)
    F0 = jnp.eye(s)
    if context.dynamics == "newtonian":
        return MemoryEquation(1.0, 0.0, omega2, F0, kernel, newtonian=True)
    return MemoryEquation(0.0, 1.0, omega2, F0, kernel, newtonian=False)


@eqx.filter_jit
def _solve_jit(solver: Solver, eq: MemoryEquation) -> Solution:
    """One compiled solve per solver configuration and equation structure (cached across calls)."""
    return solver.solve(eq)


def closure_solver(
    closure: Closure | str, context: Context | None = None, solver: Solver | None = None
) -> Callable[[dict[str, Any]], Solution]:
    """``θ -> Solution`` for one closure, statics and solver.

    The returned function is pure in θ (a dict of arrays), so ``jax.jit(f)``, ``jax.vmap(f)`` over a
    population and ``jax.grad`` of a loss of ``f(θ)`` all work.
    """
    closure = get_closure(closure)
    context = context or default_context()
    solver = solver or TimeDoublingSolver()

    def solve(theta: dict[str, Any]) -> Solution:
        return _solve_jit(solver, equation_for(closure, theta, context))

    return solve


def solve_closure(
    closure: Closure | str,
    context: Context | None = None,
    theta: dict[str, Any] | None = None,
    solver: Solver | None = None,
) -> Solution:
    """Solve the memory equation with a closure given by object or by name (``"stretched:n_exp=2"``).

    ``theta`` defaults to ``closure.initial(context)``; ``solver`` to the time-doubling solver. The
    solver is jit-compiled and cached per configuration and kernel structure, so repeated calls with
    new θ of the same closure do not recompile.
    """
    closure = get_closure(closure)
    context = context or default_context()
    theta = closure.initial(context) if theta is None else theta
    return closure_solver(closure, context, solver)(theta)


def fit_memory(closure: Closure | str, context: Context, t, M, **options: Any) -> dict[str, Any]:
    """θ whose explicit kernel best matches a tabulated memory ``M`` at times ``t``: the closure
    by object or by name, then `memplug.memory_fit.fit_memory` (Levenberg-Marquardt; options
    ``theta0``, ``max_steps``, ``max_move``)."""
    from memplug.memory_fit import fit_memory as _fit

    return _fit(get_closure(closure), context, t, M, **options)
