"""Scores of predicted F_s(t) (paper Eqs. 2-4 and SI Eq. S1).

R² = 1 − SS_res / SS_tot with SS_res = Σ_i (prediction_i − truth_i)² (Eq. 3) and
SS_tot = Σ_i (truth_i − mean truth)². The paper's Eq. 4 prints the mean of the *predictions* in
SS_tot; we use the standard definition (mean of the truth, as scikit-learn's ``r2_score``), which
coincides for unbiased predictions. One observation is one time t_i of one state.

RMSE here is the root of the *mean* squared error over the observations. The paper's Eq. S1 divides
the *sum* over times and species by the number of test states only; `rmse_eq_s1` gives that
variant.
"""

from __future__ import annotations

import numpy as np


def r2(pred: np.ndarray, true: np.ndarray) -> float:
    """R² over all finite entries (paper Eq. 2-3, SS_tot around the mean of the truth)."""
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    m = np.isfinite(true) & np.isfinite(pred)
    if m.sum() < 2:
        return float("nan")
    res = np.sum((pred[m] - true[m]) ** 2)
    tot = np.sum((true[m] - true[m].mean()) ** 2)
    return float(1.0 - res / tot) if tot > 0 else float("nan")


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    """Root mean squared error over all finite entries."""
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    m = np.isfinite(true) & np.isfinite(pred)
    return float(np.sqrt(np.mean((pred[m] - true[m]) ** 2))) if m.any() else float("nan")


def rmse_eq_s1(pred: np.ndarray, true: np.ndarray) -> float:
    """Paper Eq. S1: sqrt(Σ_states Σ_t Σ_α (F_sim − F_MLP)² / N_states) for arrays ``(n, n_t, 2)``."""
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    d = np.where(np.isfinite(true) & np.isfinite(pred), pred - true, 0.0)
    return float(np.sqrt(np.sum(d**2) / pred.shape[0]))


def per_state(pred: np.ndarray, true: np.ndarray) -> dict[str, np.ndarray]:
    """Scores per state for arrays ``(n, n_t, 2)``: R² and RMSE per species (A, B) and pooled."""
    n = pred.shape[0]
    out = {k: np.full(n, np.nan) for k in ("r2_A", "r2_B", "r2", "rmse_A", "rmse_B", "rmse")}
    for i in range(n):
        for a, sp in enumerate(("A", "B")):
            out[f"r2_{sp}"][i] = r2(pred[i, :, a], true[i, :, a])
            out[f"rmse_{sp}"][i] = rmse(pred[i, :, a], true[i, :, a])
        out["r2"][i] = r2(pred[i], true[i])
        out["rmse"][i] = rmse(pred[i], true[i])
    return out


def short_time_error(
    pred: np.ndarray, true: np.ndarray, time: np.ndarray, t_max: float = 0.1
) -> float:
    """max |prediction − truth| over the entries at lag times t < ``t_max``; arrays ``(n, n_t, 2)``,
    ``time`` ``(n, n_t)``. Where F_s(t → 0) = 1 shows (or fails to)."""
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    m = (np.asarray(time, float) < t_max)[..., None] & np.isfinite(true) & np.isfinite(pred)
    return float(np.max(np.abs(pred - true)[m])) if m.any() else float("nan")


def binned(
    x: np.ndarray, y: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard deviation of ``y`` in bins of ``x`` (paper Fig. 3): centres, mean, std, count."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    centres = 0.5 * (edges[1:] + edges[:-1])
    mean = np.full(len(centres), np.nan)
    std = np.full(len(centres), np.nan)
    count = np.zeros(len(centres), int)
    for b in range(len(centres)):
        m = (x >= edges[b]) & (x < edges[b + 1]) & np.isfinite(y)
        count[b] = int(m.sum())
        if count[b]:
            mean[b] = y[m].mean()
            std[b] = y[m].std()
    return centres, mean, std, count
