"""Exponential closure: M^{αβ}(t) = A^{αβ} exp(−r^{αβ} t), by default A = 1, r = Ω² (paper sec. II B)."""

from __future__ import annotations

import jax.numpy as jnp

from memplug.interfaces import Closure, Context, Parameter
from memplug.kernels import ExponentialSumKernel


class ExponentialClosure(Closure):
    """M(t) = exp(−Ω² t) per species pair (diagonal), optionally with free amplitude and rate.

    Options: ``free`` — ``none`` (no parameter: M = exp(−Ω² t)), ``amplitude``, ``rate`` or ``both``.
    """

    starts_from_memory = True

    name = "exponential"
    description = "M(t) = A exp(-r t), A = 1 and r = Omega^2 unless freed"
    options = {"free": "both"}

    def validate_options(self) -> None:
        if self.config["free"] not in ("none", "amplitude", "rate", "both"):
            raise self.option_error("free", "none, amplitude, rate or both")

    def parameters(self, context: Context):
        s = context.n_species
        omega2 = jnp.diag(jnp.asarray(context.omega2_matrix()))
        free = self.config["free"]
        out = []
        if free in ("amplitude", "both"):
            out.append(Parameter("amplitude", 1.0, (s,), 0.0, 1e4, "log", "A_α, memory amplitude"))
        if free in ("rate", "both"):
            out.append(Parameter("rate", omega2, (s,), 0.0, 1e6, "log", "r_α, decay rate (1/time)"))
        return out

    def kernel(self, theta, context: Context):
        s = context.n_species
        omega2 = jnp.diag(jnp.asarray(context.omega2_matrix()))
        amp = jnp.asarray(theta.get("amplitude", jnp.ones(s)))
        rate = jnp.asarray(theta.get("rate", omega2))
        eye = jnp.eye(s)
        return ExponentialSumKernel(
            (amp[:, None] * eye)[None], (rate[:, None] * eye + (1 - eye))[None]
        )
