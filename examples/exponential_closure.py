"""Paper Eq. 5 with the exponential closure M(t) = exp(−Ω² t), solved two independent ways.

Run: python examples/exponential_closure.py
"""

from __future__ import annotations

import numpy as np

import memplug
from memplug.model import default_context, equation_for
from memplug.registry import get_registry

# Statics of a Kob-Andersen-like state without a dataset: k_peak = 7.25, T = 1 (Ω² = k² T / m).
context = default_context(T=1.0, k_peak=7.25)
closure = get_registry().create("closures", "exponential:free=none")  # M = exp(−Ω² t), no parameter
eq = equation_for(closure, closure.initial(context), context)

times = np.geomspace(1e-3, 1.0, 7)
td = memplug.TimeDoublingSolver(N=32, t_max=10.0).solve(eq)  # time doubling (general kernels)
dx = memplug.DiffraxSolver(ts=tuple(float(t) for t in times)).solve(eq)  # Markovian embedding

print(f"{'t':>8} {'F_AA time doubling':>20} {'F_AA diffrax':>14}")
for t, a, b in zip(
    times, np.asarray(td.interpolate(times))[:, 0, 0], np.asarray(dx.F)[:, 0, 0], strict=True
):
    print(f"{t:8.4f} {a:20.10f} {b:14.10f}")
gap = np.max(np.abs(np.asarray(td.interpolate(times)) - np.asarray(dx.F)))
print(f"largest difference between the two methods: {gap:.1e}")
assert td.ok and dx.ok and gap < 1e-4
