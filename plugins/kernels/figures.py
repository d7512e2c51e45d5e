"""Figures of a kernels dataset (paper Figs. 6a/b, 7, S4, S5-S6, S7), each a PNG with a CSV of
its plotted numbers next to it. The T/T_mct axis of every figure uses one T_mct source
(``tmct``: memplug's own or the paper's Table I), named on the axis."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from memplug.io import atomic_write_text, atomic_write_with

#: The fits behind Figs. 6 and S7 (paper: N_exp = 2, Newtonian here).
MAIN_FIT = "stretched:n_exp=2|newtonian"
R2_FLOOR = -1.0
#: Lower end of the memory axis of Fig. 6b (bands below it are clipped to it).
M_FLOOR = 1e-1


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    plt = _plt()
    fig.tight_layout()
    atomic_write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
    return path


def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow([f"{x:.6g}" if isinstance(x, float) else x for x in row])
    return atomic_write_text(path, buf.getvalue())


def tmct_axis(ds: xr.Dataset, tmct: str) -> tuple[np.ndarray, str]:
    """(T/T_mct per state, axis label naming the source)."""
    if tmct == "paper":
        return np.asarray(ds["T_over_Tmct_paper"].values, float), "T / T_mct (paper Table I)"
    return np.asarray(ds["T_over_Tmct"].values, float), "T / T_mct (memplug's own, docs/mct.md)"


def _fit_index(ds: xr.Dataset, label: str) -> int | None:
    labels = list(map(str, ds["fit"].values))
    return labels.index(label) if label in labels else None


def pick_states(ds: xr.Dataset, x: np.ndarray, k: int, n: int = 4) -> list[int]:
    """``n`` states of fit ``k`` from the warm liquid to the coldest, within one (potential, ρ)
    when one family has ``n`` fitted states (the most populated), else over all: the warmest
    state at or below 3 T_mct, ~1.2, ~0.85 T_mct and the coldest."""
    done = np.asarray(ds["done"].values[:, k], bool) & np.isfinite(x)
    fam = [
        (str(p), round(float(r), 3))
        for p, r in zip(ds["potential"].values, ds["rho"].values, strict=True)
    ]
    counts: dict[tuple[str, float], int] = {}
    for f, d in zip(fam, done, strict=True):
        counts[f] = counts.get(f, 0) + int(d)
    best = max(counts, key=lambda f: counts[f]) if counts else None
    idx = [
        i for i in range(len(x)) if done[i] and (best is None or counts[best] < n or fam[i] == best)
    ]
    if len(idx) <= n:
        return sorted(idx, key=lambda i: -x[i])
    chosen: list[int] = []
    for goal in (3.0, 1.2, 0.85, 0.0):
        rest = [i for i in idx if i not in chosen]
        chosen.append(min(rest, key=lambda i: abs(math.log(max(x[i], 1e-3) / max(goal, 1e-3)))
                          if goal > 0 else x[i]))  # fmt: skip
    return sorted(chosen, key=lambda i: -x[i])


def fig6(ds: xr.Dataset, out: Path, tmct: str) -> list[Path]:
    """Fig. 6: (a) F_s^{AA} data vs fit, (b) fitted M^{AA}(t) with its band vs M_mct and the
    inverted M, for four states from the warm liquid to the coldest."""
    k = _fit_index(ds, MAIN_FIT)
    if k is None:
        return []
    plt = _plt()
    x, xlabel = tmct_axis(ds, tmct)
    picks = pick_states(ds, x, k)
    t = ds["t_common"].values
    colors = ["tab:red", "tab:orange", "gold", "tab:blue"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.3))
    rows: list[list[Any]] = []
    for c, i in zip(colors, picks, strict=False):
        name = f"{ds['state'].values[i]} ({x[i]:.2f})"
        F_d, F_f = ds["F_data"].values[i, :, 0], ds["F_fit"].values[i, k, :, 0]
        M, lo, hi = (ds[v].values[i, k, :, 0] for v in ("M_fit", "M_fit_lo", "M_fit_hi"))
        M_mct, M_inv = ds["M_mct"].values[i, :, 0], ds["M_inv"].values[i, :, 0]
        rel = ds["M_inv_reliable"].values[i, :, 0].astype(bool)
        a.plot(t, F_d, "-.", color=c, lw=1.2)
        a.plot(t, F_f, "-", color=c, lw=1.6, label=name)
        b.plot(t, M, "-", color=c, lw=1.6, label=name)
        b.fill_between(
            t, np.maximum(lo, M_FLOOR), np.maximum(hi, M_FLOOR), color=c, alpha=0.2, lw=0
        )
        b.plot(t, M_mct, ":", color=c, lw=1.6)
        if np.any(rel):
            b.plot(t, np.where(rel, M_inv, np.nan), "--", color=c, lw=1.0)
        for j in range(len(t)):
            rows.append([str(ds["state"].values[i]), float(x[i]), float(t[j]), float(F_d[j]), float(F_f[j]),
                         float(M[j]), float(lo[j]), float(hi[j]), float(M_mct[j]),
                         float(M_inv[j]) if rel[j] else float("nan")])  # fmt: skip
    a.set(
        xscale="log", xlabel="t", ylabel="F_s^AA(k_p, t)", title="(a) MD (dash-dot) and fit (solid)"
    )
    inv_note = (
        "inverted dashed" if np.any(ds["M_inv_reliable"].values) else "inverted: not available"
    )
    t_md = t[np.isfinite(ds["F_data"].values[picks, :, 0]).any(axis=0)] if picks else t
    top = np.nanmax([np.nanmax(ds["M_fit"].values[i, k, :, 0]) for i in picks] + [M_FLOOR])
    b.set(xscale="log", yscale="log", xlabel="t", ylabel="M^AA(t)", xlim=(t_md[0], 3 * t_md[-1]),
          ylim=(M_FLOOR, 5 * top), title=f"(b) fit (95 % band) vs M_mct (dotted); {inv_note}")  # fmt: skip
    a.legend(fontsize=7, title=f"state ({xlabel})", title_fontsize=7)
    fig.suptitle(f"Fig. 6: {MAIN_FIT}", fontsize=9)
    png = _save(fig, out / "fig6.png")
    head = ["state", "T_over_Tmct", "t", "F_data_AA", "F_fit_AA", "M_fit_AA", "M_fit_lo_AA",
            "M_fit_hi_AA", "M_mct_AA", "M_inv_AA"]  # fmt: skip
    return [png, _csv(out / "fig6.csv", head, rows)]


def _binned(
    x: np.ndarray, y: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and interquartile range of y in log bins of x (bins with a point)."""
    centers, med, iqr = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        w = (x >= lo) & (x < hi) & np.isfinite(y)
        if w.any():
            centers.append(math.sqrt(lo * hi))
            med.append(float(np.median(y[w])))
            iqr.append(float(np.subtract(*np.percentile(y[w], [75, 25]))))
    return np.array(centers), np.array(med), np.array(iqr)


def performance(ds: xr.Dataset, out: Path, tmct: str, metric: str, name: str) -> list[Path]:
    """Fig. 7 (``r2``) or S4 (``rmse``): the metric vs T/T_mct, one curve per N_exp of Eq. 6
    (Newtonian fits to the data; points per state, line: median in log bins of T/T_mct), with
    Eq. 8 and the overdamped fits drawn thin for comparison."""
    plt = _plt()
    x, xlabel = tmct_axis(ds, tmct)
    fits = list(map(str, ds["fit"].values))
    part, dyn = ds["fit_part"].values.astype(str), ds["fit_dynamics"].values.astype(str)
    n_exp = ds["fit_n_exp"].values.astype(int)
    ok = np.isfinite(x)
    edges = (
        np.geomspace(max(np.nanmin(x[ok]) * 0.99, 1e-3), np.nanmax(x[ok]) * 1.01, 9)
        if ok.any()
        else np.ones(2)
    )
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    rows: list[list[Any]] = []
    order = sorted(
        range(len(fits)), key=lambda k: (part[k] != "main", n_exp[k] == 0, dyn[k], n_exp[k])
    )
    for k in order:
        if part[k] != "main":
            continue
        y = np.asarray(ds[metric].values[:, k], float)
        d = np.asarray(ds["done"].values[:, k], bool) & ok & np.isfinite(y)
        if not d.any():
            continue
        main = n_exp[k] > 0 and dyn[k] == "newtonian"
        label = f"N_exp = {n_exp[k]}" if main else fits[k]
        yy = np.maximum(y, R2_FLOOR) if metric == "r2" else y
        c, m, _ = _binned(x[d], yy[d], edges)
        style = dict(lw=1.8, marker="o", ms=4) if main else dict(lw=0.9, ls="--", marker=".", ms=3)
        line = ax.plot(c, m, label=label, **style)[0]
        ax.plot(x[d], yy[d], ".", color=line.get_color(), alpha=0.35, ms=4)
        for i in np.nonzero(d)[0]:
            rows.append(
                [fits[k], int(n_exp[k]), str(ds["state"].values[i]), float(x[i]), float(y[i])]
            )
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    if metric == "r2":
        ax.set_ylabel(f"R² (fit window; cut at {R2_FLOOR:g})")
    else:
        ax.set(yscale="log", ylabel="RMSE (SI Eq. S1, one state)")
    ax.legend(fontsize=7)
    ax.set_title(
        f"{name}: Eq. 6 fits to F_s^AA, F_s^BB (points: states; lines: bin medians)", fontsize=8
    )
    stem = "fig7" if metric == "r2" else "figS4"
    png = _save(fig, out / f"{stem}.png")
    return [png, _csv(out / f"{stem}.csv", ["fit", "n_exp", "state", "T_over_Tmct", metric], rows)]


def mct_recovery(ds: xr.Dataset, out: Path, tmct: str) -> list[Path]:
    """S5: RMSE of the fits to F_mct vs T/T_mct (inset: F_mct, fit and MD of one state); S6: the
    fitted M vs M_mct (both species) with the relative L2 distance over the decay window."""
    part = ds["fit_part"].values.astype(str)
    ks = [k for k in range(ds.sizes["fit"]) if part[k] == "mct-recovery"]
    if not ks:
        return []
    k = ks[0]
    done = np.asarray(ds["done"].values[:, k], bool)
    if not done.any():
        return []
    plt = _plt()
    x, xlabel = tmct_axis(ds, tmct)
    t = ds["t_common"].values
    idx = np.nonzero(done)[0]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    rmse = ds["rmse"].values[idx, k]
    ax.plot(x[idx], rmse, "o", color="tab:purple")
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="RMSE to F_mct (SI Eq. S1)",
           title=f"Fig. S5: {ds['fit_closure'].values[k]} fitted to F_mct")  # fmt: skip
    ins = ax.inset_axes([0.55, 0.55, 0.42, 0.4])
    i0 = idx[int(np.argmin(x[idx]))]
    ins.plot(t, ds["F_mct"].values[i0, :, 0], "k-", lw=1.5, label="F_mct")
    ins.plot(t, ds["F_fit"].values[i0, k, :, 0], "--", color="tab:purple", label="ES fit")
    ins.plot(t, ds["F_data"].values[i0, :, 0], ":", color="tab:gray", label="MD")
    ins.set(xscale="log", title=str(ds["state"].values[i0]), xlabel="t")
    ins.title.set_fontsize(6)
    ins.tick_params(labelsize=6)
    ins.legend(fontsize=5)
    rows = [[str(ds["state"].values[i]), float(x[i]), float(ds["rmse"].values[i, k]),
             float(ds["r2"].values[i, k]), float(ds["M_mct_distance"].values[i, k])] for i in idx]  # fmt: skip
    paths = [_save(fig, out / "figS5.png"),
             _csv(out / "figS5.csv", ["state", "T_over_Tmct", "rmse", "r2", "M_mct_rel_L2"], rows)]  # fmt: skip
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    rows = []
    for c, i in enumerate(idx):
        for a, sp in enumerate(map(str, ds["species"].values)):
            M, M_mct = ds["M_fit"].values[i, k, :, a], ds["M_mct"].values[i, :, a]
            col = f"C{c % 10}"
            lab = (
                f"{ds['state'].values[i]}: rel. L2 {ds['M_mct_distance'].values[i, k]:.3f}"
                if a == 0
                else None
            )
            axes[a].plot(t, M_mct, "-", color=col, lw=2.2, alpha=0.5)
            axes[a].plot(t, M, "--", color=col, lw=1.2, label=lab)
            rows += [
                [str(ds["state"].values[i]), sp, float(t[j]), float(M[j]), float(M_mct[j])]
                for j in range(len(t))
            ]
            axes[a].set(xscale="log", yscale="symlog", xlabel="t", ylabel=f"M^{sp}{sp}(t)",
                        title=f"Fig. S6: M^{sp}{sp}: M_mct (thick), fit to F_mct (dashed)")  # fmt: skip
            axes[a].set_yscale("symlog", linthresh=1.0)
    axes[0].legend(fontsize=7, title="rel. L2 where F decays 0.95 → 0.05", title_fontsize=7)
    paths += [_save(fig, out / "figS6.png"),
              _csv(out / "figS6.csv", ["state", "species", "t", "M_fit", "M_mct"], rows)]  # fmt: skip
    return paths


def channels(ds: xr.Dataset, out: Path, tmct: str) -> list[Path]:
    """S7: second channel / first (channels ordered by τ) of M^{AA}: amplitude ratio and area
    ratio vs T/T_mct with their error bars, for the N_exp = 2 fits without and with Lasso."""
    fits = list(map(str, ds["fit"].values))
    part = ds["fit_part"].values.astype(str)
    ks = [k for k, f in enumerate(fits) if f == MAIN_FIT]
    ks += [
        k
        for k in range(len(fits))
        if part[k] == "lasso" and ds["fit_closure"].values[k] == "stretched:n_exp=2"
    ]
    if not ks:
        return []
    plt = _plt()
    x, xlabel = tmct_axis(ds, tmct)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    rows: list[list[Any]] = []
    for j, k in enumerate(ks):
        d = np.asarray(ds["done"].values[:, k], bool) & np.isfinite(x)
        for a, (var, title) in enumerate(
            (("amp_ratio", "amplitude w"), ("area_ratio", "area w τ Γ(1+1/b)"))
        ):
            y = ds[var].values[:, k, 0]
            lo, hi = ds[f"{var}_lo"].values[:, k, 0], ds[f"{var}_hi"].values[:, k, 0]
            w = d & np.isfinite(y)
            err = np.vstack([np.where(np.isfinite(lo), np.clip(y - lo, 0, None), 0),
                             np.where(np.isfinite(hi), np.clip(hi - y, 0, None), 0)])[:, w]  # fmt: skip
            label = "no Lasso" if part[k] == "main" else f"Lasso λ₁ = {ds['fit_lasso'].values[k]:g}"
            axes[a].errorbar(x[w] * (1.0 + 0.01 * j), np.abs(y[w]), yerr=err, fmt="o" if j == 0 else "s",
                             ms=4, capsize=2, label=label, alpha=0.85)  # fmt: skip
            axes[a].set(xscale="log", yscale="log", xlabel=xlabel, ylabel=f"channel 2 / channel 1 ({title})",
                        title=f"Fig. S7: M^AA, {title}; channels ordered by τ")  # fmt: skip
            for i in np.nonzero(w)[0]:
                rows.append(
                    [
                        fits[k],
                        var,
                        str(ds["state"].values[i]),
                        float(x[i]),
                        float(y[i]),
                        float(lo[i]),
                        float(hi[i]),
                    ]
                )
    for ax in axes:
        ax.axhline(0.1, color="gray", ls=":", lw=1)
        ax.axhline(1.0, color="gray", ls="--", lw=1)
        ax.axvline(1.0, color="gray", ls="-", lw=0.5)
        ax.legend(fontsize=7, title="dotted: 10 %, dashed: equal", title_fontsize=7)
    png = _save(fig, out / "figS7.png")
    return [
        png,
        _csv(
            out / "figS7.csv",
            ["fit", "quantity", "state", "T_over_Tmct", "value", "lo", "hi"],
            rows,
        ),
    ]


def all_figures(ds: xr.Dataset, out: str | Path, tmct: str = "memplug") -> list[Path]:
    """Every figure a kernels dataset supports (figures whose fits are absent are skipped)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = fig6(ds, out, tmct)
    paths += performance(ds, out, tmct, "r2", "Fig. 7")
    paths += performance(ds, out, tmct, "rmse", "Fig. S4")
    paths += mct_recovery(ds, out, tmct)
    paths += channels(ds, out, tmct)
    return paths
