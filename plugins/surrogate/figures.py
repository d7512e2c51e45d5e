"""The paper's MLP figures (Figs. 2-5, SI Fig. S1) as PNG files plus the numbers as CSV.

Each function takes trained model(s) and a `StateTable`, writes ``<name>.png`` and
``<name>.csv`` into ``out`` (atomically) and returns the numbers it plotted.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from memplug.io import atomic_write_bytes, atomic_write_text

from . import metrics
from .features import StateTable
from .mlp import MLPSurrogate


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    _plt().close(fig)


def write_csv(path: Path, columns: dict[str, np.ndarray | list]) -> None:
    names = list(columns)
    n = len(next(iter(columns.values()))) if columns else 0
    lines = [",".join(names)]
    for i in range(n):
        cells = []
        for c in names:
            v = columns[c][i]
            cells.append(f"{v:.6g}" if isinstance(v, float | np.floating) else str(v))
        lines.append(",".join(cells))
    atomic_write_text(path, "\n".join(lines) + "\n")


def default_edges(x: np.ndarray, width: float = 0.1) -> np.ndarray:
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return np.array([0.0, 1.0])
    lo = np.floor(x.min() / width) * width
    hi = np.ceil(x.max() / width + 1e-9) * width + width * (x.max() % width == 0)
    return np.arange(lo, hi + 0.5 * width, width)


def scores(sur: MLPSurrogate, table: StateTable) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    pred = sur.predict_table(table)
    return pred, metrics.per_state(pred, table.Fs)


def _score_csv(path: Path, table: StateTable, sc: dict, extra: dict | None = None) -> None:
    cols = {
        "state": list(table.ids),
        "potential": list(table.potential),
        "rho": table.rho,
        "T": table.T,
        "T_over_Tmct": table.T / table.tmct,
    }
    cols.update({k: sc[k] for k in ("r2", "r2_A", "r2_B", "rmse", "rmse_A", "rmse_B")})
    cols.update(extra or {})
    write_csv(path, cols)


def fig2_states(test: StateTable, n_show: int = 4) -> np.ndarray:
    """Indices of up to ``n_show`` test states spread from the hottest to the coldest T/T_mct."""
    x = test.T / test.tmct
    order = np.argsort(-np.nan_to_num(x, nan=np.inf))
    return order[
        np.unique(np.linspace(0, len(order) - 1, min(n_show, len(order))).round().astype(int))
    ]


def mct_curves(dataset, ids, times, dynamics: str = "newtonian") -> dict[str, np.ndarray]:
    """F_s^{αα}(k_p, t) of mode-coupling theory for states of an xarray dataset, ``{id: (n_t, 2)}``.

    Uses the ``mct`` closure found through the registry (the MCT plugin), on each state's statics
    from `memplug.data.context_for`; ``dynamics`` as in the MD (``newtonian``) by default.
    """
    import dataclasses

    from memplug.data import context_for
    from memplug.registry import get_registry

    closure = get_registry().create("closures", "mct")
    out = {}
    for sid, t in zip(ids, times, strict=True):
        ctx = dataclasses.replace(context_for(dataset, sid), dynamics=dynamics)
        _, F = closure.self_memory(ctx, np.asarray(t, float))
        F = np.asarray(F, float)
        out[str(sid)] = np.stack([F[:, 0, 0], F[:, 1, 1]], axis=-1)
    return out


def fig2(
    sur: MLPSurrogate,
    test: StateTable,
    out: Path,
    n_show: int = 4,
    mct: dict[str, np.ndarray] | None = None,
) -> dict:
    """Predicted (dash-dot) vs true (solid) F_s^{AA}, F_s^{BB} for up to 4 test states spread in T/T_mct.

    ``mct`` (``{state id: (n_t, 2)}``, e.g. from `mct_curves`) adds MCT as dotted lines.
    """
    plt = _plt()
    x = test.T / test.tmct
    pick = fig2_states(test, n_show)
    pred = sur.predict_table(test.subset(pick))
    colors = ["tab:red", "tab:orange", "gold", "tab:blue", "tab:green", "tab:purple"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    rows = {
        "state": [],
        "T_over_Tmct": [],
        "t": [],
        "Fs_A_true": [],
        "Fs_A_mlp": [],
        "Fs_B_true": [],
        "Fs_B_mlp": [],
    }
    for j, i in enumerate(pick):
        c = colors[j % len(colors)]
        for a, ax in enumerate(axes):
            ax.semilogx(
                test.time[i],
                test.Fs[i, :, a],
                "-",
                color=c,
                label=f"{test.ids[i]} (T/T_mct={x[i]:.2f})" if a == 0 else None,
            )
            ax.semilogx(test.time[i], pred[j, :, a], "-.", color=c)
            if mct is not None and test.ids[i] in mct:
                ax.semilogx(test.time[i], mct[test.ids[i]][:, a], ":", color=c)
        for n in range(test.time.shape[1]):
            rows["state"].append(test.ids[i])
            rows["T_over_Tmct"].append(float(x[i]))
            rows["t"].append(float(test.time[i, n]))
            rows["Fs_A_true"].append(float(test.Fs[i, n, 0]))
            rows["Fs_A_mlp"].append(float(pred[j, n, 0]))
            rows["Fs_B_true"].append(float(test.Fs[i, n, 1]))
            rows["Fs_B_mlp"].append(float(pred[j, n, 1]))
            if mct is not None:
                m = mct.get(test.ids[i])
                rows.setdefault("Fs_A_mct", []).append(
                    float(m[n, 0]) if m is not None else float("nan")
                )
                rows.setdefault("Fs_B_mct", []).append(
                    float(m[n, 1]) if m is not None else float("nan")
                )
    extra = ", MCT (dotted)" if mct is not None else ""
    for ax, sp in zip(axes, ("AA", "BB"), strict=True):
        ax.set_xlabel("t")
        ax.set_title(f"$F_s^{{{sp}}}(k_p, t)$: data (solid), MLP (dash-dot){extra}", fontsize=9)
    axes[0].set_ylabel("$F_s$")
    axes[0].legend(fontsize=7)
    save_figure(fig, out / "fig2.png")
    write_csv(out / "fig2.csv", rows)
    return rows


def _binned_plot(ax, x, y, edges, label, color, style="-"):
    c, m, s, n = metrics.binned(x, y, edges)
    ok = n > 0
    ax.plot(c[ok], m[ok], style, marker="o", color=color, label=label)
    ax.fill_between(c[ok], (m - s)[ok], (m + s)[ok], color=color, alpha=0.2)
    return c, m, s, n


#: R² axes stop here: a nearly flat curve (a glass plateau) makes R² arbitrarily negative and would
#: squash every other state into a line at the top; such states are drawn as ▼ at the bottom edge
#: (their values are in the CSV).
R2_FLOOR = -1.0


def _clip_r2(ax, x: np.ndarray, r2: np.ndarray, color: str = "gray") -> None:
    r2 = np.asarray(r2, float)
    low = np.isfinite(r2) & (r2 < R2_FLOOR)
    if not low.any():
        return
    ax.set_ylim(R2_FLOOR - 0.08, 1.05)
    ax.scatter(
        np.asarray(x)[low],
        np.full(int(low.sum()), R2_FLOOR - 0.04),
        marker="v",
        s=18,
        color=color,
        label=f"{int(low.sum())} with $R^2 < {R2_FLOOR:g}$ (values in CSV)",
    )


def _clip_bins(ax, means: list[np.ndarray]) -> None:
    """Bin means below the R² floor leave the axis at the floor (the CSV has every value)."""
    values = np.concatenate(means) if means else np.zeros(0)
    if values.size and np.nanmin(values) < R2_FLOOR:
        ax.set_ylim(R2_FLOOR - 0.08, 1.05)
        ax.text(
            0.01,
            0.01,
            f"axis cut at $R^2 = {R2_FLOOR:g}$ (values in CSV)",
            transform=ax.transAxes,
            fontsize=6,
            va="bottom",
        )


def fig3_s1(
    sur: MLPSurrogate | None,
    test: StateTable,
    out: Path,
    width: float = 0.1,
    pred: np.ndarray | None = None,
) -> dict:
    """R² (Fig. 3) and RMSE (SI Fig. S1) of the test states vs T/T_mct: scatter, bin mean ± std, inset.

    ``pred`` (``(n, n_t, 2)``) replaces the model's predictions, e.g. out-of-fold predictions.
    """
    plt = _plt()
    if pred is None:
        pred, sc = scores(sur, test)
    else:
        sc = metrics.per_state(pred, test.Fs)
    x = test.T / test.tmct
    edges = default_edges(x, width)
    _score_csv(out / "fig3_s1_states.csv", test, sc)
    result = {}
    for key, name, ylabel in (("r2", "fig3", "$R^2$"), ("rmse", "figS1", "RMSE")):
        fig, ax = plt.subplots(figsize=(6, 4.2))
        ax.scatter(x, sc[key], s=12, color="gray", alpha=0.6, label="test states")
        c, m, s, n = _binned_plot(
            ax, x, sc[key], edges, f"bin mean ± std (width {width})", "tab:blue"
        )
        ax.axvline(1.0, color="k", lw=0.5, ls=":")
        if key == "r2":
            _clip_r2(ax, x, sc[key])
        ax.set_xscale("log")  # 0.45 … 20: the supercooled range would be squeezed on a linear axis
        ax.set_xlabel("$T/T_{mct}$")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8, loc="lower right" if key == "r2" else "upper right")
        finite = np.isfinite(sc[key])
        if finite.any():  # inset: the worst test state, prediction vs data
            worst = int(np.nanargmin(sc["r2"]) if key == "r2" else np.nanargmax(sc["rmse"]))
            ins = ax.inset_axes([0.12, 0.12, 0.38, 0.35] if key == "r2" else [0.55, 0.5, 0.4, 0.35])
            for a, col in enumerate(("tab:red", "tab:purple")):
                ins.semilogx(test.time[worst], test.Fs[worst, :, a], "-", color=col, lw=1)
                ins.semilogx(test.time[worst], pred[worst, :, a], "-.", color=col, lw=1)
            ins.set_title(f"{test.ids[worst]}: {ylabel}={sc[key][worst]:.3g}", fontsize=6)
            ins.tick_params(labelsize=6)
        save_figure(fig, out / f"{name}.png")
        keep = n > 0
        write_csv(
            out / f"{name}.csv",
            {"T_over_Tmct_bin": c[keep], "mean": m[keep], "std": s[keep], "count": n[keep]},
        )
        result[name] = {"centres": c, "mean": m, "std": s, "count": n}
    return result


def fig4(
    models: dict[float, MLPSurrogate], table: StateTable, out: Path, width: float = 0.1
) -> dict:
    """Temperature transferability: R² vs T/T_mct for models trained on T/T_mct > cut (one per cut)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    x = table.T / table.tmct
    edges = default_edges(x, width)
    cmap = plt.get_cmap("viridis")
    rows = {"cut": [], "state": [], "T_over_Tmct": [], "in_training": [], "r2": [], "rmse": []}
    all_r2: list[np.ndarray] = []
    for j, (cut, sur) in enumerate(sorted(models.items(), reverse=True)):
        _, sc = scores(sur, table)
        color = cmap(j / max(1, len(models) - 1))
        trained = set(sur.split.train) | set(sur.split.val)
        inside = np.array([s in trained for s in table.ids])
        c, m, _, n = metrics.binned(x, sc["r2"], edges)
        above = c > cut
        ok = n > 0
        ax.plot(
            c[ok & above],
            m[ok & above],
            "-",
            color=color,
            marker="o",
            ms=3,
            label=f"trained on T/T_mct > {cut:g}",
        )
        ax.plot(c[ok & ~above], m[ok & ~above], "--", color=color, marker="o", ms=3)
        if ok.any():  # the rhombus marks the cut on the curve
            ax.plot([cut], [np.interp(cut, c[ok], m[ok])], "D", color=color)
        all_r2.append(m[ok])
        for i in range(len(table)):
            rows["cut"].append(cut)
            rows["state"].append(table.ids[i])
            rows["T_over_Tmct"].append(float(x[i]))
            rows["in_training"].append(bool(inside[i]))
            rows["r2"].append(float(sc["r2"][i]))
            rows["rmse"].append(float(sc["rmse"][i]))
    _clip_bins(ax, all_r2)
    ax.set_xscale("log")
    ax.set_xlabel("$T/T_{mct}$")
    ax.set_ylabel("$R^2$")
    ax.legend(fontsize=7)
    save_figure(fig, out / "fig4.png")
    write_csv(out / "fig4.csv", rows)
    return rows


def fig5(models: dict[str, MLPSurrogate], table: StateTable, out: Path, width: float = 0.1) -> dict:
    """Model transferability: R² vs T/T_mct of the states of the potential a model was *not* trained on."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    x = table.T / table.tmct
    edges = default_edges(x, width)
    rows = {"trained_on": [], "state": [], "potential": [], "T_over_Tmct": [], "r2": [], "rmse": []}
    all_r2: list[np.ndarray] = []
    for (train_pot, sur), color in zip(
        sorted(models.items()), ("tab:orange", "tab:blue"), strict=False
    ):
        test_ids = set(sur.split.test)
        sel = np.array([s in test_ids for s in table.ids])
        if not sel.any():
            continue
        sub = table.subset(np.flatnonzero(sel))
        _, sc = scores(sur, sub)
        other = ",".join(sorted(set(sub.potential)))
        _, m, _, n = _binned_plot(
            ax, x[sel], sc["r2"], edges, f"trained on {train_pot}, tested on {other}", color
        )
        all_r2.append(m[n > 0])
        for i in range(len(sub)):
            rows["trained_on"].append(train_pot)
            rows["state"].append(sub.ids[i])
            rows["potential"].append(sub.potential[i])
            rows["T_over_Tmct"].append(float(sub.T[i] / sub.tmct[i]))
            rows["r2"].append(float(sc["r2"][i]))
            rows["rmse"].append(float(sc["rmse"][i]))
    _clip_bins(ax, all_r2)
    ax.set_xscale("log")
    ax.set_xlabel("$T/T_{mct}$")
    ax.set_ylabel("$R^2$")
    ax.legend(fontsize=8)
    save_figure(fig, out / "fig5.png")
    write_csv(out / "fig5.csv", rows)
    return rows
