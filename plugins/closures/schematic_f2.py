"""Schematic F2 model: M_αα(t) = Ω²_αα λ_α F_αα(t)².

The classic model of the glass transition: ergodic for λ < 4, a glass for λ > 4 with a critical
plateau f_c = 1/2 at λ = 4 (a two-step relaxation near it).
"""

from __future__ import annotations

from memplug.interfaces import Closure, Context, Parameter
from memplug.kernels import SchematicF2Kernel
from memplug.plugins.closures._schematic import coupling, scaled


class SchematicF2Closure(Closure):
    """M = Ω² λ F² per species (functional kernel, solved by fixed-point iteration).

    Parameters: ``lam`` (s,), the dimensionless coupling (default 2: an ergodic liquid).
    """

    name = "schematic-f2"
    description = "Functional M = Omega^2 lam F^2 (schematic F2 model; glass for lam > 4)"
    options: dict = {}

    def parameters(self, context: Context) -> list[Parameter]:
        return [coupling("lam", 2.0, context, "coupling lambda_alpha (glass for > 4)")]

    def kernel(self, theta, context: Context) -> SchematicF2Kernel:
        return SchematicF2Kernel(scaled(theta["lam"], context))
