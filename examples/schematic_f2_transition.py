"""The schematic F2 model M = λ F² across its glass transition at λ_c = 4 (f_c = 1/2).

Run: python examples/schematic_f2_transition.py
"""

from __future__ import annotations

import numpy as np

import memplug

solver = memplug.TimeDoublingSolver(N=16, t_max=1e8)
print(f"{'λ':>6} {'F(t=1e8)':>10} {'f (steady state)':>17} {'exact f':>8}")
for lam in (3.5, 3.9, 4.1, 5.0):
    eq = memplug.MemoryEquation(0.0, 1.0, 1.0, 1.0, memplug.SchematicF2Kernel(lam))
    sol = solver.solve(eq)
    f = float(memplug.nonergodicity_parameter(eq).f)
    exact = 0.5 * (1 + np.sqrt(1 - 4 / lam)) if lam >= 4 else 0.0
    print(f"{lam:6.2f} {float(sol.F[-1]):10.5f} {f:17.5f} {exact:8.5f}")
    assert sol.ok and abs(f - exact) < 1e-6
