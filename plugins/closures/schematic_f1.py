"""Schematic F1 model: M_αα(t) = Ω²_αα λ_α F_αα(t).

The memory is linear in the correlator: the liquid is ergodic for λ < 1, a glass (F(∞) = 1 − 1/λ)
for λ > 1. The solution is known in closed form (Bessel functions) for Newtonian dynamics.
"""

from __future__ import annotations

from memplug.interfaces import Closure, Context, Parameter
from memplug.kernels import SchematicF1Kernel
from memplug.plugins.closures._schematic import coupling, scaled


class SchematicF1Closure(Closure):
    """M = Ω² λ F per species (functional kernel, solved by fixed-point iteration).

    Parameters: ``lam`` (s,), the dimensionless coupling (default 0.5: an ergodic liquid).
    """

    name = "schematic-f1"
    description = "Functional M = Omega^2 lam F (schematic F1 model; glass for lam > 1)"
    options: dict = {}

    def parameters(self, context: Context) -> list[Parameter]:
        return [coupling("lam", 0.5, context, "coupling lambda_alpha (glass for > 1)")]

    def kernel(self, theta, context: Context) -> SchematicF1Kernel:
        return SchematicF1Kernel(scaled(theta["lam"], context))
