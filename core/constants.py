"""The numbers every part of memplug shares, written once: the k grid of the static input, the
extra wave numbers of F_s(k, t), the species and pairs of a binary mixture, and the
mode-coupling temperatures T_mct (the paper's Table I and memplug's own).

The paper's MLP takes S^{αβ}(k) on 100 bins of width 0.4 on (0, 40] (sec. IV A); F_s is measured
at k_peak of S^{AA} and at the fixed wave numbers `KQ`.
"""

from __future__ import annotations

import math

import numpy as np

#: Number of k bins of the static input.
N_K = 100
#: Bin edges of the k grid: width 0.4 on (0, 40].
K_EDGES = 0.4 * np.arange(N_K + 1)
#: The k grid: bin midpoints 0.2, 0.6, …, 39.8 (as the dataset schema stores them).
K_GRID = 0.4 * (np.arange(N_K) + 0.5)
#: Extra wave numbers at which F_s^{αα}(k, t) is measured besides k_peak.
KQ = np.array([3.0, 5.0, 10.0, 15.0])
#: Species of a binary mixture and their pairs, in the order of every array with a pair axis.
SPECIES = ("A", "B")
PAIRS = ("AA", "AB", "BB")

#: Table I of the paper: T_mct (fit-parameter-free MCT) by potential and density.
T_MCT_PAPER: dict[str, dict[float, float]] = {
    "WCA": {1.2: 0.74, 1.4: 1.77, 1.6: 3.49, 1.8: 5.10},
    "LJ": {1.2: 0.90, 1.4: 1.87, 1.6: 3.53, 1.8: 5.10},
}
#: memplug's own T_mct: bisection of the MCT glass transition on the default dataset's S(k)
#: (docs/mct.md, "Table I" section).
T_MCT_MEMPLUG: dict[str, dict[float, float]] = {
    "LJ": {1.2: 0.877, 1.4: 1.865, 1.6: 3.470, 1.8: 5.649},
    "WCA": {1.2: 0.718, 1.4: 1.736, 1.6: 3.406, 1.8: 5.728},
}
T_MCT_SOURCES = ("paper", "memplug")
#: How `t_mct` fills densities between tabulated ones: ``none`` (NaN), ``linear`` in ρ, or
#: ``loglog`` (linear in ln T_mct against ln ρ, i.e. density scaling).
INTERPOLATIONS = ("none", "linear", "loglog")


def t_mct(
    potential: str, rho: float, *, source: str = "paper", interpolation: str = "none"
) -> float:
    """T_mct of (potential, ρ) from ``source`` (``paper``: Table I; ``memplug``: our own).

    Exact at tabulated densities (within 1e-6); in between as ``interpolation`` says; NaN outside
    the tabulated range, for an unknown potential, or between densities with ``none``.
    """
    if source not in T_MCT_SOURCES:
        raise ValueError(f"T_mct source {source!r}: expected {' or '.join(T_MCT_SOURCES)}")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(
            f"T_mct interpolation {interpolation!r}: expected {', '.join(INTERPOLATIONS)}"
        )
    table = (T_MCT_PAPER if source == "paper" else T_MCT_MEMPLUG).get(str(potential))
    if not table:
        return math.nan
    rho = float(rho)
    for r, value in table.items():
        if abs(r - rho) < 1e-6:
            return float(value)
    rhos = np.array(sorted(table))
    if interpolation == "none" or not rhos[0] < rho < rhos[-1]:
        return math.nan
    vals = np.array([table[float(r)] for r in rhos])
    if interpolation == "linear":
        return float(np.interp(rho, rhos, vals))
    return float(np.exp(np.interp(math.log(rho), np.log(rhos), np.log(vals))))
