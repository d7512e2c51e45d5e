"""Schematic F12 model: M_αα(t) = Ω²_αα [λ1_α F_αα(t) + λ2_α F_αα(t)²].

Its glass line is λ1 = 2√λ2 − λ2 for 1 ≤ λ2 ≤ 4 (continuous transitions at λ1 = 1 for λ2 < 1).
"""

from __future__ import annotations

from memplug.interfaces import Closure, Context, Parameter
from memplug.kernels import SchematicF12Kernel
from memplug.plugins.closures._schematic import coupling, scaled


class SchematicF12Closure(Closure):
    """M = Ω² (λ1 F + λ2 F²) per species (functional kernel, solved by fixed-point iteration).

    Parameters: ``lam1``, ``lam2`` (s,) (defaults 0.5 and 2: ergodic, the glass line is at λ1 ≈ 0.83).
    """

    name = "schematic-f12"
    description = "Functional M = Omega^2 (lam1 F + lam2 F^2) (schematic F12 model)"
    options: dict = {}

    def parameters(self, context: Context) -> list[Parameter]:
        return [
            coupling("lam1", 0.5, context, "linear coupling lambda1_alpha"),
            coupling("lam2", 2.0, context, "quadratic coupling lambda2_alpha"),
        ]

    def kernel(self, theta, context: Context) -> SchematicF12Kernel:
        return SchematicF12Kernel(scaled(theta["lam1"], context), scaled(theta["lam2"], context))
