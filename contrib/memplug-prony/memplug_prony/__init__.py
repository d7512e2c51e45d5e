"""Prony-series closure for memplug: M_αα(t) = Σ_j w_jα exp(−t/τ_jα), per species."""

import jax.numpy as jnp
import numpy as np

from memplug.hookspecs import hookimpl
from memplug.interfaces import Closure, Parameter
from memplug.kernels import ExponentialSumKernel


class PronyClosure(Closure):
    name = "prony"
    description = "Prony series sum_j w_j exp(-t/tau_j) per species"
    options = {"n_terms": 3}

    def validate_options(self):
        n = self.config["n_terms"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise self.option_error("n_terms", "a positive integer")

    def parameters(self, context):
        n, om = self.config["n_terms"], np.diag(context.omega2_matrix())  # Ω²_αα sets the scales
        shape, j = (n, len(om)), np.arange(n)[:, None]
        return [
            Parameter("w", om * 0.1**j, shape, 0.0, 1e6, "log", "weights w_j (1/time)"),
            Parameter("tau", 10.0**j / om, shape, 1e-8, 1e12, "log", "times tau_j"),
        ]

    def kernel(self, theta, context):
        eye = jnp.eye(context.n_species)  # M is diagonal in the species
        return ExponentialSumKernel(theta["w"][:, :, None] * eye, 1 / theta["tau"][:, :, None])


@hookimpl
def register_closures(register):
    register(PronyClosure)
