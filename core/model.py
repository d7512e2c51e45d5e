"""From a closure and statics to a memory equation (paper Eq. 5) and its solution."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from memplug.equation import MemoryEquation
from memplug.interfaces import Closure, Context
from memplug.solution import Solution
from memplug.solvers import DiffraxSolver, TimeDoublingSolver


def default_context(n_species: int = 2, T: float = 1.0, k_peak: float = 7.25, rho: float = 1.2) -> Context:
    """Statics of a Kob-Andersen-like state without a dataset: enough for explicit closures.

    Ω² is the self (tagged) value k_peak² T / m on the diagonal (unit masses).
    """
    x = np.array([0.8, 0.2]) if n_species == 2 else np.full(n_species, 1.0 / n_species)
    return Context(n_species=n_species, T=T, k_peak=k_peak, rho=rho, x=x, masses=np.ones(n_species))


def equation_for(closure: Closure, theta: dict[str, Any], context: Context) -> MemoryEquation:
    """The memory equation for F_s^{αα}(k_peak, t) with the closure's kernel.

    Overdamped (paper Eq. 5): α = 0, β = 1, γ = Ω²; Newtonian: α = 1/m... (unit masses: α = 1), β = 0.
    F0 is the identity (F_s^{αα}(k, 0) = 1, F_s^{αβ} = 0 for α ≠ β).
    """
    s = context.n_species
    omega2 = jnp.asarray(context.omega2_matrix())
    kernel = closure.kernel(theta, context)
    F0 = jnp.eye(s)
    if context.dynamics == "newtonian":
        return MemoryEquation(1.0, 0.0, omega2, F0, kernel)
    return MemoryEquation(0.0, 1.0, omega2, F0, kernel)


def solve_closure(
    closure: Closure | str,
    context: Context | None = None,
    theta: dict[str, Any] | None = None,
    solver: TimeDoublingSolver | DiffraxSolver | None = None,
) -> Solution:
    """Solve the memory equation with a closure given by object or by name (``"stretched:n_exp=2"``)."""
    if isinstance(closure, str):
        from memplug.registry import get_registry

        closure = get_registry().create("closures", closure)
    context = context or default_context()
    theta = closure.initial(context) if theta is None else theta
    eq = equation_for(closure, theta, context)
    return (solver or TimeDoublingSolver()).solve(eq)
