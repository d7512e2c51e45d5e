"""Memory kernels: what the solvers need from a closure.

A kernel is an ``equinox.Module`` (a pytree), so ``jit``, ``vmap`` and ``grad`` over its fields work.

- `ExplicitKernel`: M(t) known as a function of time (exponential, Eq. 6, Eq. 8, neural M(t)).
  ``kernel(t)`` takes times of shape ``(n,)`` and returns ``(n, *shape)`` where ``shape`` is the shape
  of F (``()``, ``(s, s)`` or ``(n_k, s, s)``).
- `FunctionalKernel`: M[F] a function of the current correlator (MCT, schematic models).
  ``kernel(F)`` takes F of the problem's shape and returns M of the same shape.

A kernel that is a sum of exponentials can also say so through `ExplicitKernel.exponential_sum`,
which enables the diffrax (Markovian embedding) solver.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float


class MemoryKernel(eqx.Module):
    """Base of all memory kernels."""


class ExplicitKernel(MemoryKernel):
    """M(t): an explicit function of time."""

    @abc.abstractmethod
    def __call__(self, t: Float[Array, " n"]) -> Float[Array, " n *shape"]:
        """Kernel values at times ``t``, shape ``(n, *shape)``."""

    def exponential_sum(self) -> tuple[Array, Array] | None:
        """``(weights, rates)`` with M(t) = Σ_j weights[j] exp(−rates[j] t), or None.

        ``weights`` has shape ``(J, *shape)``; ``rates`` is broadcastable to it.
        """
        return None


class FunctionalKernel(MemoryKernel):
    """M[F]: a functional of the solution, evaluated pointwise in time."""

    @abc.abstractmethod
    def __call__(self, F: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        """Kernel value for the correlator value ``F`` (same shape in and out)."""


class ExponentialSumKernel(ExplicitKernel):
    """M(t) = Σ_j w_j exp(−r_j t): the exponential closure (J = 1) and Prony series.

    Attributes:
        weights: amplitudes w_j, shape ``(J, *shape)``.
        rates: decay rates r_j = 1/τ_j, broadcastable to ``weights``.
    """

    weights: Float[Array, " J *shape"]
    rates: Float[Array, " J *shape"]

    def __init__(self, weights, rates):
        self.weights = jnp.asarray(weights, dtype=float)
        self.rates = jnp.broadcast_to(jnp.asarray(rates, dtype=float), self.weights.shape)

    def __call__(self, t):
        t = jnp.asarray(t, dtype=float)
        tt = t.reshape(t.shape + (1,) * self.weights.ndim)
        return jnp.sum(self.weights * jnp.exp(-self.rates * tt), axis=1)

    def exponential_sum(self):
        return self.weights, self.rates


class SchematicF1Kernel(FunctionalKernel):
    """Schematic F1 model: M = λ F (exactly solvable, Bessel functions)."""

    lam: Array

    def __init__(self, lam):
        self.lam = jnp.asarray(lam, dtype=float)

    def __call__(self, F):
        return self.lam * F


class SchematicF2Kernel(FunctionalKernel):
    """Schematic F2 model: M = λ F² (glass transition at λ = 4, f_c = 1/2)."""

    lam: Array

    def __init__(self, lam):
        self.lam = jnp.asarray(lam, dtype=float)

    def __call__(self, F):
        return self.lam * F * F


class SchematicF12Kernel(FunctionalKernel):
    """Schematic F12 model: M = λ₁ F + λ₂ F²."""

    lam1: Array
    lam2: Array

    def __init__(self, lam1, lam2):
        self.lam1 = jnp.asarray(lam1, dtype=float)
        self.lam2 = jnp.asarray(lam2, dtype=float)

    def __call__(self, F):
        return self.lam1 * F + self.lam2 * F * F


def safe_power(t: Array, exponent: Array) -> Array:
    """t**exponent for t >= 0 with finite gradients at t = 0 (value 0 there for exponent > 0)."""
    positive = t > 0
    safe_t = jnp.where(positive, t, 1.0)
    return jnp.where(positive, jnp.exp(exponent * jnp.log(safe_t)), 0.0)
