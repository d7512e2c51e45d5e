"""Shared pieces of the schematic (functional) closures: couplings λ_α per species, scaled by Ω²."""

from __future__ import annotations

import jax.numpy as jnp

from memplug.interfaces import Context, Parameter

LAMBDA_MAX = 1e3


def coupling(name: str, default: float, context: Context, doc: str) -> Parameter:
    """A dimensionless coupling per species, positive (log transform)."""
    return Parameter(name, default, (context.n_species,), 0.0, LAMBDA_MAX, "log", doc)


def scaled(lam, context: Context):
    """Ω²_αα λ_α on the diagonal of an (s, s) matrix: the kernel's element-wise prefactor.

    With this scaling Eq. 5 reads (1/Ω²) F' + F + ∫ m(t−τ) F'(τ) dτ = 0 with m the dimensionless
    schematic memory (λF, λF², ...), so critical couplings do not depend on the state.
    """
    om = jnp.diag(jnp.asarray(context.omega2_matrix()))
    return jnp.diag(om * jnp.asarray(lam, dtype=float))
