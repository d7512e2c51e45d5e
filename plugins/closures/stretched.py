"""Sum of stretched exponentials, paper Eq. 6 (the evolutionary-strategy parametrisation).

    M^{αβ}(t) = c^{αβ} + Σ_{i=1}^{N_exp} w_i^{αβ} { [1 − a_i^{αβ}] exp[−(t/τ_i^{αβ})^{b_i^{αβ}}] + a_i^{αβ} }

one set (c, w_i, a_i, τ_i, b_i) per species pair αβ with α ≤ β and M^{βα} = M^{αβ}: a binary mixture
has the pairs AA, AB, BB and 3 (1 + 4 N_exp) parameters (27 at N_exp = 2). ``b < 1`` stretches,
``b > 1`` compresses; ``a_i`` and ``c`` give M a non-decaying part (a glass).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from memplug.interfaces import Closure, Context, Parameter
from memplug.kernels import ExplicitKernel, safe_power
from memplug.plugins.closures._initial import MemoryInitial
from memplug.plugins.closures._pairs import pairs, rate_scale_per_pair, symmetric

# Bounds shared by the stretched-exponential closures.
AMPLITUDE_MAX = 1e6
TAU_RANGE = (1e-8, 1e12)
B_RANGE = (0.05, 4.0)


class StretchedExponentialKernel(ExplicitKernel):
    """M(t) = c + Σ_i w_i [(1 − a_i) exp(−λ_i t^{b_i}) + a_i], element-wise over F's shape.

    Eq. 6 has λ_i = τ_i^{−b_i}; Eq. 8 has c = a = 0, w = (1, K), λ = (Ω², Ω̃²), b = (ν, μ).

    Attributes:
        c: constant, shape ``shape`` (e.g. ``(s, s)``).
        w, a, lam, b: per term, shape ``(J, *shape)``.
        markovian: the closure fixed every b_i = 1, so M is a sum of exponentials (diffrax solver).
    """

    c: Float[Array, "..."]
    w: Float[Array, "J ..."]
    a: Float[Array, "J ..."]
    lam: Float[Array, "J ..."]
    b: Float[Array, "J ..."]
    markovian: bool = eqx.field(static=True, default=False)

    def __call__(self, t: Float[Array, " n"]) -> Float[Array, "n ..."]:
        t = jnp.asarray(t, dtype=float)
        tt = t.reshape(t.shape + (1,) * self.w.ndim)  # (n, 1, *shape)
        decay = jnp.exp(-self.lam * safe_power(tt, self.b))
        return self.c + jnp.sum(self.w * ((1.0 - self.a) * decay + self.a), axis=1)

    def exponential_sum(self):
        if not self.markovian:
            return None
        plateau = self.c + jnp.sum(self.w * self.a, axis=0)  # rate 0: the non-decaying part
        weights = jnp.concatenate([plateau[None], self.w * (1.0 - self.a)], axis=0)
        rates = jnp.concatenate([jnp.zeros_like(plateau)[None], self.lam], axis=0)
        return weights, rates


class StretchedClosure(MemoryInitial, Closure):
    """Paper Eq. 6: c + Σ_i w_i[(1 − a_i) exp(−(t/τ_i)^{b_i}) + a_i] for every species pair.

    Options:
        n_exp: number of stretched exponentials N_exp (≥ 1).
        stretch: ``False`` fixes every b_i = 1 (a sum of exponentials, solvable by diffrax too;
            3 (1 + 3 N_exp) parameters).

    Parameters, per pair p ∈ {AA, AB, BB}: ``c_p`` (scalar), ``w_p``, ``a_p``, ``tau_p``, ``b_p``
    (each ``(n_exp,)``). Diagonal amplitudes are positive (log transform), off-diagonal ones may have
    either sign (identity). Defaults: a decaying mode with amplitude Ω²_αα and time 1/Ω²_αα
    (b = 1), each further mode 20× weaker, 30× slower and stretched (b = 0.7), a ≈ 0, c = 0;
    off-diagonal amplitudes 0 (so F stays diagonal).
    """

    name = "stretched"
    description = "Eq. 6: c + sum_i w_i[(1-a_i) exp(-(t/tau_i)^b_i) + a_i] per species pair"
    options = {"n_exp": 2, "stretch": True}

    def validate_options(self) -> None:
        n = self.config["n_exp"]
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise self.option_error("n_exp", "a positive integer")
        if not isinstance(self.config["stretch"], bool):
            raise self.option_error("stretch", "True or False")

    def parameters(self, context: Context) -> list[Parameter]:
        n = int(self.config["n_exp"])
        i = np.arange(n)
        out = []
        for (p, a, b), scale in zip(pairs(context), rate_scale_per_pair(context), strict=True):
            diag = a == b
            w0 = scale * 0.05**i if diag else np.zeros(n)
            out.append(
                Parameter(f"c_{p}", 0.0, (), 0.0 if diag else -AMPLITUDE_MAX, AMPLITUDE_MAX,
                          "identity", f"constant c^{p} (non-decaying memory)")
            )
            out.append(
                Parameter(f"w_{p}", w0, (n,), 0.0 if diag else -AMPLITUDE_MAX, AMPLITUDE_MAX,
                          "log" if diag else "identity", f"weights w_i^{p} (1/time)")
            )
            out.append(
                Parameter(f"a_{p}", 1e-6, (n,), 0.0, 1.0, "logit",
                          f"non-decaying fractions a_i^{p}")
            )
            out.append(
                Parameter(f"tau_{p}", 30.0**i / scale, (n,), *TAU_RANGE, "log",
                          f"relaxation times tau_i^{p}")
            )
            if self.config["stretch"]:
                out.append(
                    Parameter(f"b_{p}", np.where(i == 0, 1.0, 0.7), (n,), *B_RANGE, "logit",
                              f"stretching exponents b_i^{p}")
                )
        return out

    def kernel(self, theta, context: Context) -> StretchedExponentialKernel:
        s = context.n_species
        names = [p for p, _, _ in pairs(context)]

        def stack(key):
            return jnp.stack([jnp.asarray(theta[f"{key}_{p}"], dtype=float) for p in names])

        c = symmetric(stack("c"), s)  # (s, s)
        w, a, tau = (symmetric(stack(k), s) for k in ("w", "a", "tau"))  # (n_exp, s, s)
        b = symmetric(stack("b"), s) if self.config["stretch"] else jnp.ones_like(w)
        lam = jnp.exp(-b * jnp.log(tau))  # τ^{−b}, so exp(−λ t^b) = exp(−(t/τ)^b)
        return StretchedExponentialKernel(c, w, a, lam, b, markovian=not self.config["stretch"])
