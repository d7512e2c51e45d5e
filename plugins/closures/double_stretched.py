"""Double stretched exponential, paper Eq. 8 (the schematic model the evolutionary strategy suggests).

    M^{αβ}(t) = exp[−Ω²_αβ t^ν] + K^{αβ} exp[−Ω̃²_αβ t^μ]

per species pair (M^{βα} = M^{αβ}). Ω² comes from the statics (the vibrational term of Eq. 5) unless
the option ``free_omega2`` makes it a parameter. With self (tagged) statics Ω² is diagonal; for a
pair with Ω²_αβ = 0 the first term would be a constant 1, so it is left out there (and so are its
ν and Ω² parameters): M^{AB} = K^{AB} exp(−Ω̃²_AB t^μ).
"""

from __future__ import annotations

import jax.numpy as jnp

from memplug.interfaces import Closure, Context, Parameter
from memplug.plugins.closures._initial import MemoryInitial
from memplug.plugins.closures._pairs import omega2_per_pair, pairs, rate_scale_per_pair, symmetric
from memplug.plugins.closures.stretched import (
    AMPLITUDE_MAX,
    B_RANGE,
    StretchedExponentialKernel,
)

RATE_RANGE = (1e-12, 1e8)


class DoubleStretchedClosure(MemoryInitial, Closure):
    """Paper Eq. 8: exp(−Ω² t^ν) + K exp(−Ω̃² t^μ) for every species pair.

    Options:
        free_omega2: make Ω²_αβ a parameter (``omega2_p``, default: the statics' value).
        stretch: ``False`` fixes ν = μ = 1 (a sum of two exponentials, solvable by diffrax too).

    Parameters, per pair p: ``K_p`` (positive on the diagonal, any sign off it), ``omega2t_p`` (Ω̃²),
    ``mu_p``, and where the statics' Ω²_p ≠ 0: ``nu_p`` (and ``omega2_p`` if freed). A binary mixture
    with diagonal Ω² has 11 parameters (13 with ``free_omega2``). Defaults: K = 1 on the diagonal
    (0 off it), Ω̃² = Ω²/10, ν = 1, μ = 0.7.
    """

    name = "double-stretched"
    description = "Eq. 8: exp(-Omega^2 t^nu) + K exp(-Omega~^2 t^mu) per species pair"
    options = {"free_omega2": False, "stretch": True}

    def validate_options(self) -> None:
        for key in ("free_omega2", "stretch"):
            if not isinstance(self.config[key], bool):
                raise self.option_error(key, "True or False")

    def parameters(self, context: Context) -> list[Parameter]:
        out = []
        omega2 = omega2_per_pair(context)
        scale = rate_scale_per_pair(context)
        for (p, a, b), om, sc in zip(pairs(context), omega2, scale, strict=True):
            diag = a == b
            out.append(
                Parameter(f"K_{p}", 1.0 if diag else 0.0, (), 0.0 if diag else -AMPLITUDE_MAX,
                          AMPLITUDE_MAX, "log" if diag else "identity", f"amplitude K^{p} of the second channel")
            )
            out.append(
                Parameter(f"omega2t_{p}", 0.1 * sc, (), *RATE_RANGE, "log", f"rate Omega~^2_{p} of the second channel")
            )
            if self.config["stretch"]:
                out.append(Parameter(f"mu_{p}", 0.7, (), *B_RANGE, "logit", f"exponent mu^{p}"))
            if om != 0:
                if self.config["stretch"]:
                    out.append(Parameter(f"nu_{p}", 1.0, (), *B_RANGE, "logit", f"exponent nu^{p}"))
                if self.config["free_omega2"]:
                    out.append(
                        Parameter(f"omega2_{p}", abs(om), (), *RATE_RANGE, "log", f"rate Omega^2_{p}")
                    )
        return out

    def kernel(self, theta, context: Context) -> StretchedExponentialKernel:
        s = context.n_species
        omega2 = omega2_per_pair(context)
        first, om, nu, K, omt, mu = [], [], [], [], [], []
        for (p, _, _), o in zip(pairs(context), omega2, strict=True):
            present = o != 0
            first.append(1.0 if present else 0.0)
            om.append(theta.get(f"omega2_{p}", o) if present else 0.0)
            nu.append(theta.get(f"nu_{p}", 1.0) if present else 1.0)
            K.append(theta[f"K_{p}"])
            omt.append(theta[f"omega2t_{p}"])
            mu.append(theta.get(f"mu_{p}", 1.0))

        def mat(values):
            return symmetric(jnp.stack([jnp.asarray(v, dtype=float) for v in values]), s)

        w = jnp.stack([mat(first), mat(K)])  # (2, s, s)
        lam = jnp.stack([mat(om), mat(omt)])
        b = jnp.stack([mat(nu), mat(mu)])
        return StretchedExponentialKernel(
            jnp.zeros((s, s)), w, jnp.zeros_like(w), lam, b, markovian=not self.config["stretch"]
        )
