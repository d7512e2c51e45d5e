"""The figure of one fit result: F target vs fit with its band, M(t) vs the reference memory, the
loss history, and what the result says about its own trust (pinned and undetermined
parameters, flags)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from memplug.fit_results import FitResult, _attr_json, to_dataset
from memplug.fit_results import save_result as _save_files
from memplug.io import atomic_write_with as _atomic


def save_result(r: FitResult, path: str | os.PathLike, *, plot: bool = True) -> dict[str, Path]:
    """`memplug.fit_results.save_result` (netCDF + JSON) and, with ``plot``, ``path`` with
    ``.png``: the figure (`plot_result`), all written atomically."""
    files = _save_files(r, path)
    if plot:
        png = Path(path).with_suffix(".png")
        plot_result(to_dataset(r), png)
        files["png"] = png
    return files


def _band_label(ds: xr.Dataset) -> str:
    meta = _attr_json(ds, "uncertainty") or {}
    return f"{100 * float(meta.get('level', 0.95)):.0f} %"


def _trust_notes(ds: xr.Dataset) -> str:
    """One or two lines for the figure: pinned and undetermined parameters, flags."""
    pinned = _attr_json(ds, "pinned_bounds") or {}
    undetermined = [u for u in _attr_json(ds, "undetermined") or [] if u not in pinned]
    flags = _attr_json(ds, "flags") or []
    lines = []
    if pinned or undetermined:
        part = (
            [f"pinned at a bound: {', '.join(f'{k} ({v})' for k, v in pinned.items())}"]
            if pinned
            else []
        )
        part += [f"not determined by the data: {', '.join(undetermined)}"] if undetermined else []
        lines.append("; ".join(part))
    if flags:
        lines.append("flags: " + "; ".join(flags))
    return "\n".join(line if len(line) < 220 else line[:217] + "..." for line in lines)


def plot_result(ds: xr.Dataset, png: str | os.PathLike) -> None:
    """F target vs fit, M(t) vs M_mct, and the loss history of one result, as one PNG (atomic)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    t = ds["t"].values
    colors = ("C0", "C3", "C2", "C1")
    for i, sp in enumerate(map(str, ds["species"].values)):
        c = colors[i % len(colors)]
        axes[0].plot(
            t,
            ds["F_target"].values[:, i],
            "o",
            ms=2.5,
            color=c,
            alpha=0.6,
            label=f"target {sp}{sp}",
        )
        axes[0].plot(t, ds["F_fit"].values[:, i], "-", color=c, label=f"fit {sp}{sp}")
        axes[1].plot(
            ds["t_M"].values, ds["M_fit"].values[:, i, i], "-", color=c, label=f"M^{sp}{sp} fit"
        )
        if "F_fit_lo" in ds:  # the uncertainty bands (NaN where not determined: left blank)
            axes[0].fill_between(
                t,
                ds["F_fit_lo"].values[:, i],
                ds["F_fit_hi"].values[:, i],
                color=c,
                alpha=0.25,
                lw=0,
            )
        if "M_fit_lo" in ds:
            m = ds["M_fit"].values[:, i, i]
            lo = ds["M_fit_lo"].values[:, i, i]
            if np.all(np.diagonal(ds["M_fit"].values, axis1=1, axis2=2) > 0):  # log axis (below):
                # a band reaching below 0 is drawn down to the axis
                lo = np.where(np.isnan(lo) | (lo > 0), lo, 0.1 * m.min())
            axes[1].fill_between(
                ds["t_M"].values,
                lo,
                ds["M_fit_hi"].values[:, i, i],
                color=c,
                alpha=0.25,
                lw=0,
                label=f"{_band_label(ds)} band",
            )
        if "M_reference" in ds:
            axes[1].plot(
                ds["t_M"].values,
                ds["M_reference"].values[:, i, i],
                "--",
                color=c,
                label=f"M^{sp}{sp} MCT",
            )
    axes[0].set(
        xscale="log",
        xlabel="t",
        ylabel="F_s(k_p, t)",
        title=f"{ds.attrs['state']}: R² = {ds.attrs['r2']:.6f}",
    )
    diag = np.diagonal(ds["M_fit"].values, axis1=1, axis2=2)
    positive = bool(np.all(diag > 0))
    axes[1].set(
        xscale="log",
        yscale="log" if positive else "symlog",
        xlabel="t",
        ylabel="M(t)",
        title=f"memory kernel ({ds.attrs['closure']})",
    )
    h = ds["history"].values
    if len(h):
        axes[2].plot(h[:, 1], np.where(np.isfinite(h[:, 2]), h[:, 2], np.nan), "-k")
    axes[2].set(
        yscale="log",
        xlabel="evaluations",
        ylabel="best loss (Eq. 7)",
        title=f"{ds.attrs['optimizer']}: loss {ds.attrs['loss']:.3g}",
    )
    for ax in axes[:2]:
        ax.legend(fontsize=7)
    notes = _trust_notes(ds)
    if notes:
        fig.text(0.01, 0.01, notes, fontsize=7, color="C3", va="bottom")
    fig.tight_layout(rect=(0, 0.06 if notes else 0, 1, 1))
    _atomic(Path(png), lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    plt.close(fig)
