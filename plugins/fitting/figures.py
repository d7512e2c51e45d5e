"""Figures of the fitting commands: compare, N_exp scan (paper Fig. 7), memory vs T (paper Fig. 6)."""

from __future__ import annotations

import math
import re
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


def _save(fig, path: Path, rect: tuple[float, float, float, float] | None = None) -> None:
    """Lay out (within ``rect`` of the figure, if given), write the PNG atomically, close."""
    plt = _plt()
    fig.tight_layout(rect=rect)
    atomic_write_with(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    plt.close(fig)


def _memory_scale(ax, curves: list[np.ndarray]) -> None:
    """Log-log when no plotted M(t) is negative (zeros are left out, the y range spans at most 8
    decades below the peak), else symlog in y (linear below the power of ten under 1e-3 of the
    peak)."""
    values = np.concatenate([np.ravel(c) for c in curves]) if curves else np.ones(1)
    values = values[np.isfinite(values)]
    peak = float(np.max(np.abs(values))) if values.size else 1.0
    ax.set_xscale("log")
    if peak > 0 and np.all(values >= -1e-9 * peak):
        ax.set_yscale("log")
        low = float(np.min(values[values > 0])) if np.any(values > 0) else 1e-8 * peak
        ax.set_ylim(bottom=max(low, 1e-8 * peak) / 2, top=2 * peak)
    else:
        linthresh = 10.0 ** math.floor(math.log10(max(1e-3 * peak, 1e-12)))
        ax.set_yscale("symlog", linthresh=linthresh, linscale=0.5)


def compare_figure(
    results: list[dict[str, Any]], path: Path, rows: list[dict[str, Any]] | None = None
) -> None:
    """One state, every closure/optimizer fitted to it: a 3 × n_species grid written to ``path``.

    Top row: F_s^{αα}(k_p, t) of the target (points) and of each fit (lines), log t. Middle row:
    the residual F_fit − F_target (an oscillating fit shows as a wave around 0; points outside the
    fit window are drawn faint). Bottom row: each fit's memory M^{αα}(t) on its ``t_M`` grid,
    log-log (symlog when some M < 0), with M_mct dashed where the result holds ``M_reference``.
    ``rows`` (`memplug.plugins.fitting.cli.comparison`, in the order of ``results``) adds ΔAIC to
    the legend.
    """
    plt = _plt()
    loaded = [load_result(r["files"]["netcdf"]) for r in results]
    species = [str(s) for s in loaded[0]["species"].values]
    n_s = len(species)
    fig, axes = plt.subplots(3, n_s, figsize=(4.6 * n_s, 9.6), squeeze=False, sharex="col")
    memory: list[list[np.ndarray]] = [[] for _ in species]
    for j, (r, ds) in enumerate(zip(results, loaded, strict=True)):
        color = f"C{j % 10}"
        t, w = ds["t"].values, ds["in_window"].values.astype(bool)
        label = f"{r['closure']} / {r['optimizer']}: R² {r['r2']:.4f}"
        if rows is not None and np.isfinite(rows[j].get("delta_aic", np.nan)):
            label += f", ΔAIC {rows[j]['delta_aic']:.3g}"
        for i in range(n_s):
            F_fit, F_data = ds["F_fit"].values[:, i], ds["F_target"].values[:, i]
            if j == 0:
                axes[0, i].plot(
                    t,
                    F_data,
                    "o",
                    ms=2.5,
                    color="k",
                    alpha=0.6,
                    label=f"target ({r.get('target', 'data')})",
                    zorder=3,
                )
            axes[0, i].plot(t, F_fit, "-", color=color, label=label)
            res = F_fit - F_data
            axes[1, i].plot(t[w], res[w], "-", color=color, lw=1.2)
            if not w.all():
                axes[1, i].plot(t[~w], res[~w], ".", ms=2, color=color, alpha=0.3)
            M = ds["M_fit"].values[:, i, i]
            axes[2, i].plot(ds["t_M"].values, M, "-", color=color)
            memory[i].append(M)
            if "M_reference" in ds:
                M_ref = ds["M_reference"].values[:, i, i]
                first = not any("M_reference" in d for d in loaded[:j])
                axes[2, i].plot(
                    ds["t_M"].values,
                    M_ref,
                    "--",
                    color=color,
                    lw=1,
                    label="M_mct" if first else None,
                )
                memory[i].append(M_ref)
    state = results[0]["state"]
    for i, sp in enumerate(species):
        label = f"$F_s^{{{sp}{sp}}}(k_p, t)$"
        axes[0, i].set(xscale="log", ylabel=label, title=f"{state}: {sp}{sp}")
        axes[1, i].axhline(0.0, color="k", lw=0.6)
        axes[1, i].set(
            xscale="log",
            ylabel=f"$F_{{fit}}^{{{sp}{sp}}} - F_{{target}}^{{{sp}{sp}}}$",
            title="residual (fit − target)",
        )
        _memory_scale(axes[2, i], memory[i])
        axes[2, i].set(
            xlabel="t",
            ylabel=f"$M^{{{sp}{sp}}}(t)$",
            title="fitted memory"
            + (" (M_mct dashed)" if any("M_reference" in d for d in loaded) else ""),
        )
    # one legend under the grid, so that no panel's curves are hidden behind it
    handles, labels = axes[0, 0].get_legend_handles_labels()
    more = axes[2, 0].get_legend_handles_labels()
    handles, labels = handles + more[0], labels + more[1]
    ncol = 2 if len(labels) > 2 else len(labels)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=7, frameon=False)
    bottom = 0.012 + 0.022 * math.ceil(len(labels) / max(ncol, 1))
    _save(fig, path, rect=(0.0, bottom, 1.0, 1.0))


def compare_figures(
    results: list[dict[str, Any]], out: Path, rows: list[dict[str, Any]] | None = None
) -> list[Path]:
    """`compare_figure` for each state of ``results`` as ``out/compare-<state>.png``;
    returns the paths."""
    paths = []
    for state in dict.fromkeys(r["state"] for r in results):
        idx = [i for i, r in enumerate(results) if r["state"] == state]
        path = Path(out) / f"compare-{re.sub(r'[^A-Za-z0-9.=+-]+', '_', state)}.png"
        compare_figure(
            [results[i] for i in idx], path, None if rows is None else [rows[i] for i in idx]
        )
        paths.append(path)
    return paths


def nexp_figure(results: list[dict[str, Any]], ns: list[int], path: Path) -> None:
    """1 − R² against N_exp, one line per state (paper Fig. 7 plots R²)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.8))
    for st in dict.fromkeys(r["state"] for r in results):
        y = [
            next(
                r["r2"]
                for r in results
                if r["state"] == st
                and r["closure"].endswith(f"n_exp={n}")
                or (r["state"] == st and n == 2 and r["closure"] == "stretched")
            )
            for n in ns
        ]
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
    a.set(
        xscale="log", xlabel="t", ylabel="F_s^AA(k_p, t)", title="(a) dynamics: data (dots) and fit"
    )
    b.set(
        xscale="log",
        yscale="log",
        xlabel="t",
        ylabel="M^AA(t)",
        title="(b) fitted memory (M_mct dashed)",
    )
    a.legend(fontsize=6)
    _save(fig, path)
