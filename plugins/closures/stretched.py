"""Sum of stretched exponentials, paper Eq. 6 (the evolutionary-strategy parametrisation).

    M^{αβ}(t) = c^{αβ} + Σ_{i=1}^{N_exp} w_i^{αβ} { [1 − a_i^{αβ}] exp[−(t/τ_i^{αβ})^{b_i^{αβ}}] + a_i^{αβ} }

one set (c, w_i, a_i, τ_i, b_i) per species pair αβ with α ≤ β and M^{βα} = M^{αβ}. ``b < 1``
stretches, ``b > 1`` compresses; ``a_i`` and ``c`` give M a non-decaying part (a glass).

As written, Eq. 6 is degenerate: the non-decaying part c + Σ_i w_i a_i is the only combination of
c and the a_i that M(t) depends on (N_exp + 1 parameters for one number), and the channels can swap
labels. The default parametrisation here is the same family of functions without the degeneracy:

    M^{αβ}(t) = c^{αβ} + Σ_i w_i^{αβ} exp[−(t/τ_i^{αβ})^{b_i^{αβ}}],   τ_1 < τ_2 < … (ordered),

(w_i = w_i^{paper}(1 − a_i), c = c^{paper} + Σ_i w_i^{paper} a_i: every Eq. 6 kernel is one of these and
back), with the time constants ordered by construction (``ordered`` transform), so channel 1 is the
fastest and θ does not jump between equivalent labellings. For self (tagged) correlators F_s^{αβ}
vanishes for α ≠ β at all times, so the exact self memory is diagonal: M^{AB} = 0 is the default
(``cross=False``). ``stretched:cross=True,fractions=True`` is the paper's literal Eq. 6 with
3 (1 + 4 N_exp) parameters (27 at N_exp = 2); the default has s (1 + 3 N_exp) (14 at N_exp = 2 for
a binary mixture).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln
from jaxtyping import Array, Float

from memplug.interfaces import Closure, Context, Parameter
from memplug.kernels import ExplicitKernel, safe_power
from memplug.plugins.closures._pairs import pairs, rate_scale_per_pair, symmetric

# Bounds shared by the stretched-exponential closures.
AMPLITUDE_MAX = 1e6
TAU_RANGE = (1e-8, 1e12)
B_RANGE = (0.05, 4.0)


def time_scale(omega2: float, context: Context) -> float:
    """The statics' time of a rate scale Ω²: 1/Ω for Newtonian dynamics (Ω² in 1/time²), 1/Ω²
    for overdamped dynamics (paper Eq. 5, where Ω² is a rate)."""
    if isinstance(omega2, jax.Array):  # traced statics
        omega2 = jnp.maximum(omega2, 1e-300)
        return 1.0 / jnp.sqrt(omega2) if context.dynamics == "newtonian" else 1.0 / omega2
    omega2 = max(float(omega2), 1e-300)
    return 1.0 / math.sqrt(omega2) if context.dynamics == "newtonian" else 1.0 / omega2


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


class StretchedClosure(Closure):
    """Paper Eq. 6 per species pair, ordered channels: c + Σ_i w_i exp(−(t/τ_i)^{b_i}), τ_1 < τ_2 < ….

    Options:
        n_exp: number of stretched exponentials N_exp (≥ 1).
        stretch: ``False`` fixes every b_i = 1 (a sum of exponentials, solvable by diffrax too).
        cross: ``True`` adds the off-diagonal pairs (M^{AB} ≠ 0, any sign); default ``False``
            (the self memory of tagged particles is diagonal).
        fractions: ``True`` adds the paper's non-decaying fractions a_i (redundant with c: only
            c + Σ w_i a_i is determined by the data).

    Parameters, per pair p (AA, BB; and AB with ``cross``): ``c_p`` (scalar), ``w_p``, ``tau_p``
    (increasing), ``b_p`` (each ``(n_exp,)``) and ``a_p`` with ``fractions``. Diagonal amplitudes
    are positive, off-diagonal ones may have either sign. Defaults: a decaying mode with amplitude
    Ω²_αα and the statics' time 1/Ω_α (Newtonian; 1/Ω²_α overdamped, where Ω² is a rate), b = 1,
    each further mode 20× weaker, 30× slower and stretched (b = 0.7), c = 0; off-diagonal
    amplitudes 0.
    """

    starts_from_memory = True

    name = "stretched"
    description = (
        "Eq. 6: c + sum_i w_i exp(-(t/tau_i)^b_i) per species pair, channels ordered by tau"
    )
    options = {"n_exp": 2, "stretch": True, "cross": False, "fractions": False}

    def validate_options(self) -> None:
        n = self.config["n_exp"]
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise self.option_error("n_exp", "a positive integer")
        for key in ("stretch", "cross", "fractions"):
            if not isinstance(self.config[key], bool):
                raise self.option_error(key, "True or False")

    def _pairs(self, context: Context):
        scale = rate_scale_per_pair(context)
        return [
            (p, a, b, sc, time_scale(sc, context))
            for (p, a, b), sc in zip(pairs(context), scale, strict=True)
            if a == b or self.config["cross"]
        ]

    def parameters(self, context: Context) -> list[Parameter]:
        n = int(self.config["n_exp"])
        i = np.arange(n)
        out = []
        for p, a, b, scale, t0 in self._pairs(context):
            diag = a == b
            w0 = scale * 0.05**i if diag else np.zeros(n)
            out.append(
                Parameter(
                    f"c_{p}",
                    0.0,
                    (),
                    0.0 if diag else -AMPLITUDE_MAX,
                    AMPLITUDE_MAX,
                    "identity",
                    f"constant c^{p} (non-decaying memory, 1/time^2)",
                )
            )
            out.append(
                Parameter(
                    f"w_{p}",
                    w0,
                    (n,),
                    0.0 if diag else -AMPLITUDE_MAX,
                    AMPLITUDE_MAX,
                    "log" if diag else "identity",
                    f"weights w_i^{p} (1/time^2, Newtonian)",
                )
            )
            if self.config["fractions"]:
                out.append(
                    Parameter(
                        f"a_{p}", 1e-6, (n,), 0.0, 1.0, "logit", f"non-decaying fractions a_i^{p}"
                    )
                )
            out.append(
                Parameter(
                    f"tau_{p}",
                    30.0**i * t0,
                    (n,),
                    *TAU_RANGE,
                    "ordered",
                    f"relaxation times tau_1^{p} < tau_2^{p} < ...",
                )
            )
            if self.config["stretch"]:
                out.append(
                    Parameter(
                        f"b_{p}",
                        np.where(i == 0, 1.0, 0.7),
                        (n,),
                        *B_RANGE,
                        "logit",
                        f"stretching exponents b_i^{p}",
                    )
                )
        return out

    def _per_pair(self, theta, context: Context):
        """(c, w, a, tau, b) per pair of the mixture, shape (P,) and (P, n_exp); absent pairs are 0."""
        n = int(self.config["n_exp"])
        present = {p for p, *_ in self._pairs(context)}
        zeros, ones = jnp.zeros(n), jnp.ones(n)

        def get(key, p, fill):
            return jnp.asarray(theta[f"{key}_{p}"], dtype=float) if f"{key}_{p}" in theta else fill

        rows = []
        for p, _, _ in pairs(context):
            if p not in present:
                rows.append((jnp.zeros(()), zeros, zeros, ones, ones))
                continue
            rows.append(
                (
                    get("c", p, jnp.zeros(())),
                    get("w", p, zeros),
                    get("a", p, zeros),
                    get("tau", p, ones),
                    get("b", p, ones),
                )
            )
        return [jnp.stack(col) for col in zip(*rows, strict=True)]

    def kernel(self, theta, context: Context) -> StretchedExponentialKernel:
        s = context.n_species
        c, w, a, tau, b = (symmetric(v, s) for v in self._per_pair(theta, context))
        lam = jnp.exp(-b * jnp.log(tau))  # τ^{−b}, so exp(−λ t^b) = exp(−(t/τ)^b)
        return StretchedExponentialKernel(c, w, a, lam, b, markovian=not self.config["stretch"])

    def channels(self, theta, context: Context) -> dict:
        """The identifiable description of the diagonal memories, channels ordered by τ (fastest
        first): per species α and channel i the decaying amplitude ``amplitude_αα[i]`` = w_i (1 − a_i)
        (its share of M(0) − plateau), ``tau``, ``b``, the area A_i τ_i Γ(1 + 1/b_i) = ∫ of the channel,
        the plateau c + Σ w_i a_i, and for i ≥ 2 the ratios to channel 1 of amplitude and area
        (paper Fig. S7). JAX-traceable; scalar values."""
        out = {}
        c, w, a, tau, b = self._per_pair(theta, context)
        for k, (p, i, j) in enumerate(pairs(context)):
            if i != j:
                continue
            amp = w[k] * (1.0 - a[k])
            area = amp * tau[k] * jnp.exp(gammaln(1.0 + 1.0 / b[k]))
            out[f"plateau_{p}"] = c[k] + jnp.sum(w[k] * a[k])
            for m in range(int(self.config["n_exp"])):
                out[f"amplitude_{p}[{m}]"] = amp[m]
                out[f"tau_{p}[{m}]"] = tau[k][m]
                out[f"b_{p}[{m}]"] = b[k][m]
                out[f"area_{p}[{m}]"] = area[m]
                if m > 0:
                    out[f"amplitude_ratio_{p}[{m}]"] = amp[m] / amp[0]
                    out[f"area_ratio_{p}[{m}]"] = area[m] / area[0]
        return out
