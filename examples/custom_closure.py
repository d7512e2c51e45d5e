"""Write a closure in a few lines and use it like a built-in one, gradients included.

A closure declares its parameters (with bounds and a transform to an unconstrained space) and
builds a memory kernel from them. Here: a Gaussian memory M(t) = A exp(−(t/τ)²) on each species.
To ship it as a plugin, see docs/plugins.md (entry-point group "memplug").

Run: python examples/custom_closure.py
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import memplug
from memplug.interfaces import Closure, Parameter
from memplug.kernels import ExplicitKernel
from memplug.model import default_context, equation_for


class GaussianKernel(ExplicitKernel):
    amplitude: jax.Array  # (s,)
    tau: jax.Array  # (s,)

    def __call__(self, t):
        m = self.amplitude * jnp.exp(-((t[:, None] / self.tau) ** 2))  # (n, s)
        return jax.vmap(jnp.diag)(m)  # (n, s, s), diagonal in species


class GaussianClosure(Closure):
    name = "gaussian"
    description = "M(t) = A exp(-(t/tau)^2) per species"

    def parameters(self, context):
        s = context.n_species
        return [
            Parameter("amplitude", 20.0, (s,), 0.0, 1e4, "log", "A"),
            Parameter("tau", 0.05, (s,), 1e-6, 1e6, "log", "τ"),
        ]

    def kernel(self, theta, context):
        return GaussianKernel(jnp.asarray(theta["amplitude"]), jnp.asarray(theta["tau"]))


context = default_context()
closure = GaussianClosure()
space = closure.space(context)
solver = memplug.TimeDoublingSolver(N=16, t_max=10.0)


def F_at(u, t):
    """F_s^{AA}(t) as a function of the unconstrained parameter vector u."""
    theta = space.unpack(space.from_unconstrained(u))
    return solver.solve(equation_for(closure, theta, context)).interpolate(t)[:, 0, 0]


u0 = space.to_unconstrained(space.pack(closure.initial(context)))
t = jnp.array([0.01, 0.1, 1.0])
print("F_AA(t) =", F_at(u0, t))
print("dF_AA(t=0.1)/du =", jax.grad(lambda u: F_at(u, t)[1])(u0))
