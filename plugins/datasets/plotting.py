"""Figures of a dataset: the pictures a physicist checks first.

Each function takes a dataset in the ``memplug-dataset/1`` schema and writes one PNG (matplotlib, Agg):

- `plot_structure`: S^{AA}(k) for several temperatures, one panel per (potential, ρ);
- `plot_self_scattering`: F_s^{AA}(k_peak, t) families, one panel per (potential, ρ);
- `plot_relaxation_times`: τ_α against 1/T, one curve per (potential, ρ).

Glass (non-equilibrated) states are drawn dashed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panels(ds: xr.Dataset) -> list[tuple[str, float]]:
    keys = {
        (str(p), round(float(r), 6))
        for p, r in zip(ds["potential"].values, ds["rho"].values, strict=True)
    }
    return sorted(keys)


def _grid(plt, panels: list[tuple[str, float]], sharey: bool = True):
    pots = sorted({p for p, _ in panels})
    rhos = sorted({r for _, r in panels})
    fig, axes = plt.subplots(
        len(pots),
        len(rhos),
        figsize=(3.2 * len(rhos), 2.8 * len(pots)),
        squeeze=False,
        sharex=True,
        sharey=sharey,
        constrained_layout=True,
    )
    where = {(p, r): axes[i, j] for i, p in enumerate(pots) for j, r in enumerate(rhos)}
    for (p, r), ax in where.items():
        ax.set_title(f"{p}, ρ = {r:g}", fontsize=9)
        if (p, r) not in panels:
            ax.set_visible(False)
    return fig, axes, where


def _states_of(ds: xr.Dataset, potential: str, rho: float) -> list[int]:
    idx = [
        i
        for i, (p, r) in enumerate(zip(ds["potential"].values, ds["rho"].values, strict=True))
        if str(p) == potential and abs(float(r) - rho) < 1e-6
    ]
    return sorted(idx, key=lambda i: float(ds["T"].values[i]))


def _colors(plt, n: int):
    cmap = plt.get_cmap("turbo")  # blue (cold) to red (hot), no pale middle
    return [cmap(x) for x in np.linspace(0.1, 0.9, n)] if n > 1 else [cmap(0.1)] * n


def plot_structure(ds: xr.Dataset, path: str | Path, max_curves: int = 6) -> Path:
    """S^{AA}(k) for up to ``max_curves`` temperatures (spread over the range) per (potential, ρ)."""
    plt = _pyplot()
    panels = _panels(ds)
    fig, axes, where = _grid(plt, panels)
    k = ds["k"].values
    below = ds["k_below_box"].values
    for key, ax in where.items():
        idx = _states_of(ds, *key)
        if not idx:
            continue
        if len(idx) > max_curves:
            idx = [idx[int(round(j))] for j in np.linspace(0, len(idx) - 1, max_curves)]
        for i, c in zip(idx, _colors(plt, len(idx)), strict=True):
            glass = str(ds["status"].values[i]) == "glass"
            ax.plot(
                k[~below],
                ds["S"].values[i, 0, ~below],
                color=c,
                lw=1,
                ls="--" if glass else "-",
                label=f"T = {float(ds['T'].values[i]):g}",
            )
            ax.plot(k[below], ds["S"].values[i, 0, below], color=c, lw=1, ls=":")
        ax.legend(fontsize=6, frameon=False)
    for ax in axes[-1]:
        ax.set_xlabel("k")
    for ax in axes[:, 0]:
        ax.set_ylabel("$S^{AA}(k)$")
    fig.suptitle("$S^{AA}(k)$\n(dotted: k < 2π/L, from g(r))", fontsize=9)
    return _save(fig, plt, path)


def plot_self_scattering(ds: xr.Dataset, path: str | Path) -> Path:
    """F_s^{AA}(k_peak, t) for every state, coloured by T, one panel per (potential, ρ)."""
    plt = _pyplot()
    panels = _panels(ds)
    fig, axes, where = _grid(plt, panels)
    for key, ax in where.items():
        idx = _states_of(ds, *key)
        for i, c in zip(idx, _colors(plt, len(idx)), strict=True):
            glass = str(ds["status"].values[i]) == "glass"
            ax.semilogx(
                ds["time"].values[i],
                ds["Fs"].values[i, 0],
                color=c,
                lw=1,
                ls="--" if glass else "-",
            )
        if idx:
            ax.text(
                0.97,
                0.95,
                f"T = {float(ds['T'].values[idx[0]]):g} … {float(ds['T'].values[idx[-1]]):g}",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=7,
            )
        ax.axhline(np.exp(-1), color="grey", lw=0.5, ls=":")
    for ax in axes[-1]:
        ax.set_xlabel("t")
    for ax in axes[:, 0]:
        ax.set_ylabel("$F_s^{AA}(k_p, t)$")
    fig.suptitle("$F_s^{AA}(k_p, t)$\n(blue: cold, red: hot; dashed: glass)", fontsize=9)
    return _save(fig, plt, path)


def plot_relaxation_times(ds: xr.Dataset, path: str | Path) -> Path:
    """τ_α against 1/T (log scale), one curve per (potential, ρ); glass states as open markers."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.2), constrained_layout=True)
    markers = {"LJ": "o", "WCA": "s"}
    colors = dict(
        zip(
            sorted({r for _, r in _panels(ds)}),
            _colors(plt, 4) if len(_panels(ds)) else [],
            strict=False,
        )
    )
    for p, r in _panels(ds):
        idx = _states_of(ds, p, r)
        T = ds["T"].values[idx]
        tau = ds["tau_alpha"].values[idx]
        glass = np.array([str(ds["status"].values[i]) == "glass" for i in idx])
        c = colors.get(r, "k")
        ok = ~glass & np.isfinite(tau)
        ax.semilogy(
            1 / T[ok],
            tau[ok],
            marker=markers.get(p, "^"),
            ms=4,
            color=c,
            ls="-" if p == "LJ" else "--",
            label=f"{p} ρ = {r:g}",
        )
        g = glass & np.isfinite(tau)
        if g.any():
            ax.semilogy(
                1 / T[g], tau[g], marker=markers.get(p, "^"), ms=5, mfc="none", color=c, ls="none"
            )
    ax.set_xlabel("1/T")
    ax.set_ylabel("$τ_α$")
    ax.legend(fontsize=7, ncol=2, frameon=False)
    ax.set_title("structural relaxation time ($F_s^{AA}(k_p, τ_α) = 1/e$)", fontsize=10)
    return _save(fig, plt, path)


def plot_dataset(ds: xr.Dataset, out_dir: str | Path) -> list[Path]:
    """The whole figure set into ``out_dir``: structure.png, self_scattering.png, tau_alpha.png."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [
        plot_structure(ds, out / "structure.png"),
        plot_self_scattering(ds, out / "self_scattering.png"),
        plot_relaxation_times(ds, out / "tau_alpha.png"),
    ]


def _save(fig, plt, path: str | Path) -> Path:
    from memplug.io import atomic_write_with

    path = Path(path)
    try:
        return atomic_write_with(path, lambda tmp: fig.savefig(tmp, dpi=130), suffix=path.suffix)
    finally:
        plt.close(fig)
