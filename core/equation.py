"""The memory equation.

    α F''(t) + β F'(t) + γ F(t) + ∫_0^t M(t − τ) F'(τ) dτ = 0,   F(0) = F0,  F'(0) = 0.

F is a scalar, an (s, s) species matrix, or a stack of them over wave numbers ``(n_k, s, s)``.
For matrices, α, β, γ and M multiply F from the left. The paper's Eq. 5 (overdamped) is α = 0,
β = 1, γ = Ω²(k); Newtonian dynamics is α = 1 (unit mass) with β a friction (often 0).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from memplug.errors import InputError
from memplug.kernels import MemoryKernel


def _coefficient(value, shape: tuple[int, ...], name: str) -> Array:
    """Bring α, β or γ to the canonical (n_k, s, s) form: a scalar means that multiple of 1."""
    v = jnp.asarray(value, dtype=float)
    n_k, s, _ = shape
    eye = jnp.eye(s)
    if v.ndim == 0:
        return jnp.broadcast_to(v * eye, shape)
    if v.shape == (s, s):
        return jnp.broadcast_to(v, shape)
    if v.shape == (n_k,):
        return v[:, None, None] * eye
    if v.shape == shape:
        return v
    raise InputError(
        f"memory equation: {name} has shape {v.shape}; expected (), ({s}, {s}) or {shape}"
    )


def _nonzero(alpha) -> bool:
    """Whether α is non-zero, from the value as given (Python/NumPy values are concrete even inside jit)."""
    if isinstance(alpha, (int, float, np.number, np.ndarray)):
        return bool(np.any(np.asarray(alpha) != 0))
    try:
        return bool(jnp.any(jnp.asarray(alpha) != 0))
    except jax.errors.ConcretizationTypeError:  # α traced: assume second order
        return True


class MemoryEquation(eqx.Module):
    """α F'' + β F' + γ F + ∫ M(t−τ) F'(τ) dτ = 0 with F(0) = F0, F'(0) = 0.

    Attributes:
        alpha, beta, gamma: coefficients in canonical shape ``(n_k, s, s)``.
        F0: initial value in canonical shape ``(n_k, s, s)``.
        kernel: an `ExplicitKernel` or `FunctionalKernel`.
        newtonian: second order in time (α ≠ 0); decided from α when it is concrete, else pass it.
        shape: the user's shape of F (``()``, ``(s, s)`` or ``(n_k, s, s)``).
    """

    alpha: Float[Array, "n_k s s"]
    beta: Float[Array, "n_k s s"]
    gamma: Float[Array, "n_k s s"]
    F0: Float[Array, "n_k s s"]
    kernel: MemoryKernel
    shape: tuple[int, ...] = eqx.field(static=True)
    newtonian: bool = eqx.field(static=True)

    def __init__(self, alpha, beta, gamma, F0, kernel: MemoryKernel, newtonian: bool | None = None):
        F0 = jnp.asarray(F0, dtype=float)
        self.shape = tuple(F0.shape)
        if F0.ndim == 0:
            canon = (1, 1, 1)
        elif F0.ndim == 2 and F0.shape[0] == F0.shape[1]:
            canon = (1, *F0.shape)
        elif F0.ndim == 3 and F0.shape[1] == F0.shape[2]:
            canon = tuple(F0.shape)
        else:
            raise InputError(
                f"memory equation: F0 has shape {F0.shape}; expected (), (s, s) or (n_k, s, s)"
            )
        self.F0 = F0.reshape(canon)
        self.alpha = _coefficient(alpha, canon, "alpha")
        self.beta = _coefficient(beta, canon, "beta")
        self.gamma = _coefficient(gamma, canon, "gamma")
        if not isinstance(kernel, MemoryKernel):
            raise InputError(
                f"memory equation: kernel must be a MemoryKernel, got {type(kernel).__name__}"
            )
        self.kernel = kernel
        if newtonian is None:
            newtonian = _nonzero(alpha)
        self.newtonian = bool(newtonian)

    @property
    def canonical_shape(self) -> tuple[int, int, int]:
        return tuple(self.F0.shape)  # type: ignore[return-value]

    def to_canonical(
        self, x: Float[Array, "*lead *shape"], lead: int = 0
    ) -> Float[Array, "*lead n_k s s"]:
        """Reshape ``(*lead_dims, *shape)`` to ``(*lead_dims, n_k, s, s)``."""
        return jnp.reshape(x, x.shape[:lead] + self.canonical_shape)

    def from_canonical(
        self, x: Float[Array, "*lead n_k s s"], lead: int = 0
    ) -> Float[Array, "*lead *shape"]:
        return jnp.reshape(x, x.shape[:lead] + self.shape)
