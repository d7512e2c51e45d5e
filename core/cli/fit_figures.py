"""Figures of the fitting commands: compare, N_exp scan (paper Fig. 7), memory vs T (paper Fig. 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from memplug.fit_results import load_result
from memplug.io import atomic_write_with


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    plt = _plt()
    fig.tight_layout()
    atomic_write_with(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    plt.close(fig)


def compare_figure(results: list[dict[str, Any]], path: Path) -> None:
    """One panel per state: the target F^{AA} and the fit of every closure/optimizer."""
    plt = _plt()
    states = list(dict.fromkeys(r["state"] for r in results))
    fig, axes = plt.subplots(1, len(states), figsize=(4.5 * len(states), 3.8), squeeze=False)
    for ax, st in zip(axes[0], states, strict=True):
        drawn = False
        for r in (r for r in results if r["state"] == st):
            ds = load_result(r["files"]["netcdf"])
            if not drawn:
                ax.plot(ds["t"], ds["F_target"][:, 0], "ok", ms=2, label="target AA")
                drawn = True
            ax.plot(ds["t"], ds["F_fit"][:, 0], "-", label=f"{r['closure']} / {r['optimizer']} (R² {r['r2']:.4f})")
        ax.set(xscale="log", xlabel="t", ylabel="F_s^AA(k_p, t)", title=st)
        ax.legend(fontsize=6)
    _save(fig, path)


def nexp_figure(results: list[dict[str, Any]], ns: list[int], path: Path) -> None:
    """1 − R² against N_exp, one line per state (paper Fig. 7 plots R²)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.8))
    for st in dict.fromkeys(r["state"] for r in results):
        y = [next(r["r2"] for r in results if r["state"] == st and r["closure"].endswith(f"n_exp={n}") or
                  (r["state"] == st and n == 2 and r["closure"] == "stretched")) for n in ns]
        ax.plot(ns, 1 - np.asarray(y), "o-", label=st)
    ax.set(yscale="log", xlabel="N_exp (Eq. 6)", ylabel="1 − R²", xticks=ns)
    ax.legend(fontsize=6)
    _save(fig, path)


def memory_distance(path: str) -> float | None:
    """Relative L2 distance between fitted M^{αα}(t) and M_mct^{αα}(t) of a result (None without M_mct)."""
    ds = load_result(path)
    if "M_reference" not in ds:
        return None
    fit = np.diagonal(ds["M_fit"].values, axis1=1, axis2=2)
    ref = np.diagonal(ds["M_reference"].values, axis1=1, axis2=2)
    return float(np.linalg.norm(fit - ref) / np.linalg.norm(ref))


def memory_vs_T_figure(results: list[dict[str, Any]], path: Path) -> None:
    """(a) F^{AA} target and fit, (b) fitted M^{AA}(t) with M_mct dashed, coloured by T (paper Fig. 6)."""
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    cmap = plt.get_cmap("coolwarm")
    Ts = [r["T"] for r in results]
    lo, hi = min(Ts), max(Ts)
    for r in results:
        ds = load_result(r["files"]["netcdf"])
        c = cmap((r["T"] - lo) / (hi - lo) if hi > lo else 0.5)
        a.plot(ds["t"], ds["F_target"][:, 0], "o", ms=2, color=c)
        a.plot(ds["t"], ds["F_fit"][:, 0], "-", color=c, label=f"T = {r['T']:.3g}")
        b.plot(ds["t_M"], ds["M_fit"][:, 0, 0], "-", color=c)
        if "M_reference" in ds:
            b.plot(ds["t_M"], ds["M_reference"][:, 0, 0], "--", color=c)
    a.set(xscale="log", xlabel="t", ylabel="F_s^AA(k_p, t)", title="(a) dynamics: data (dots) and fit")
    b.set(xscale="log", yscale="log", xlabel="t", ylabel="M^AA(t)", title="(b) fitted memory (M_mct dashed)")
    a.legend(fontsize=6)
    _save(fig, path)
