"""Cross-validation of two MD engines: the same states, several seeds each, compared observable by
observable with error bars from the spread over seeds.

`run_matrix` runs (or resumes: every run is a `run_state` work directory) each (state, engine,
seed); `compare` reduces the finished runs to one row per (state, observable) with both engines'
mean ± standard error over seeds and z = |Δ| / √(se₁² + se₂²). The observables are the ones every
run measures: E_pot/N, the height and position of the first peak of S^AA(k), F_s^AA(k_p, t) at
t = τ_α of the first engine (and the largest |ΔF_s^AA| on the common lag range, in units of its
standard error), the MSD of A at t = 1 and 2 (every run reaches lag
t_lag_min = 2), and τ_α. Pressure is not compared: the protocol
does not record it for either engine.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memplug.errors import InputError

#: The states of the issue's cross-validation: (system, ρ, T).
DEFAULT_STATES: tuple[tuple[str, float, float], ...] = (
    ("ka-lj", 1.2, 2.0),
    ("ka-lj", 1.2, 1.0),
    ("ka-lj", 1.2, 0.6),
    ("ka-wca", 1.2, 0.6),
)

#: z above which two engines are said to disagree (|Δ| > 3 combined standard errors).
Z_AGREE = 3.0


@dataclass(frozen=True)
class Run:
    system: str
    rho: float
    T: float
    engine: str
    seed: int

    @property
    def label(self) -> str:
        return f"{self.system}-rho{self.rho:.2f}-T{self.T:.3f}"

    def workdir(self, root: Path) -> Path:
        return Path(root) / self.label / f"{self.engine}-seed{self.seed}"


def parse_state(text: str) -> tuple[str, float, float]:
    """``SYSTEM:RHO:T`` (e.g. ``ka-lj:1.2:0.6``) → (system, ρ, T); InputError otherwise."""
    parts = text.split(":")
    try:
        system, rho, T = parts[0], float(parts[1]), float(parts[2])
        if len(parts) != 3 or not system:
            raise ValueError
    except (ValueError, IndexError):
        raise InputError(
            f"--state: expected SYSTEM:RHO:T (e.g. ka-lj:1.2:0.6), got {text!r}"
        ) from None
    return system, rho, T


def matrix(
    states: list[tuple[str, float, float]], engines: list[str], seeds: list[int]
) -> list[Run]:
    """Every (state, engine, seed), seeds innermost so that both engines' first seeds come first."""
    return [Run(s, r, T, e, seed) for seed in seeds for (s, r, T) in states for e in engines]


def observables_of(ds: Any) -> dict[str, Any]:
    """The compared numbers of one finished run (a one-state dataset)."""
    sim = json.loads(ds.attrs["simulation"])
    k = ds.k.values
    S_AA = ds.S.sel(pair="AA").values[0]
    i = int(np.argmax(np.where(k > 3.0, S_AA, -np.inf)))
    t = ds.time.values[0]
    msd_A = ds.msd.sel(species="A").values[0]
    return {
        "E_pot/N": float(sim["potential_energy_per_particle"]),
        "S_AA peak height": float(S_AA[i]),
        "S_AA peak position": float(k[i]),
        "tau_alpha": float(ds.tau_alpha.values[0]),
        "MSD_A(t=1)": float(np.exp(np.interp(0.0, np.log(t), np.log(msd_A)))),
        "MSD_A(t=2)": float(np.exp(np.interp(math.log(2.0), np.log(t), np.log(msd_A)))),
        "_t": t,
        "_Fs_A": ds.Fs.sel(species="A").values[0],
    }


def _mean_se(values: list[float]) -> tuple[float, float, int]:
    v = np.asarray([x for x in values if math.isfinite(x)], float)
    if v.size == 0:
        return math.nan, math.nan, 0
    se = float(np.std(v, ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan
    return float(np.mean(v)), se, int(v.size)


def compare(results: dict[Run, dict[str, Any]], engines: list[str]) -> list[dict[str, Any]]:
    """One row per (state, observable): both engines' mean ± se over seeds, Δ and z."""
    if len(engines) != 2:
        raise InputError(f"--engines: expected two engines to compare, got {engines}")
    a, b = engines
    rows = []
    states = sorted({(r.system, r.rho, r.T) for r in results})
    for system, rho, T in states:
        per = {
            e: [
                v
                for r, v in results.items()
                if (r.system, r.rho, r.T, r.engine) == (system, rho, T, e)
            ]
            for e in engines
        }
        if not per[a] or not per[b]:
            continue
        label = Run(system, rho, T, a, 0).label
        names = [n for n in per[a][0] if not n.startswith("_")]
        stats = {}
        for name in names:
            stats[name] = {e: _mean_se([v[name] for v in per[e]]) for e in engines}
        # F_s^AA(k_p, t) on a common log-t grid inside both engines' lag ranges
        t_lo = max(v["_t"][0] for e in engines for v in per[e])
        t_hi = min(v["_t"][-1] for e in engines for v in per[e])
        grid = np.geomspace(t_lo, t_hi, 40)
        curves = {
            e: np.array([np.interp(np.log(grid), np.log(v["_t"]), v["_Fs_A"]) for v in per[e]])
            for e in engines
        }
        tau_a = stats["tau_alpha"][a][0]
        at_tau = {
            e: np.array([np.interp(math.log(tau_a), np.log(grid), c) for c in curves[e]])
            for e in engines
        }
        stats["Fs_A(k_p, t=tau_alpha)"] = {e: _mean_se(list(at_tau[e])) for e in engines}
        mean = {e: curves[e].mean(axis=0) for e in engines}
        se = {
            e: curves[e].std(axis=0, ddof=1) / math.sqrt(len(curves[e]))
            if len(curves[e]) > 1
            else np.full(grid.size, math.nan)
            for e in engines
        }
        z_curve = np.abs(mean[a] - mean[b]) / np.sqrt(se[a] ** 2 + se[b] ** 2)
        j = int(np.nanargmax(z_curve)) if np.any(np.isfinite(z_curve)) else 0
        for name, s in stats.items():
            (ma, sa, na), (mb, sb, nb) = s[a], s[b]
            z = abs(ma - mb) / math.sqrt(sa**2 + sb**2) if sa > 0 or sb > 0 else math.nan
            rows.append(_row(label, name, ma, sa, na, mb, sb, nb, z))
        rows.append(
            _row(
                label,
                f"max over t of |ΔFs_A| (at t = {grid[j]:.3g})",
                float(mean[a][j]),
                float(se[a][j]),
                len(curves[a]),
                float(mean[b][j]),
                float(se[b][j]),
                len(curves[b]),
                float(z_curve[j]),
            )
        )
    return rows


def _row(state, name, ma, sa, na, mb, sb, nb, z) -> dict[str, Any]:
    return {
        "state": state,
        "observable": name,
        "mean_1": ma,
        "se_1": sa,
        "n_1": na,
        "mean_2": mb,
        "se_2": sb,
        "n_2": nb,
        "delta": mb - ma,
        "z": z,
        "agree": bool(z <= Z_AGREE) if math.isfinite(z) else None,
    }


def write_csv(rows: list[dict[str, Any]], path: Path, engines: list[str]) -> None:
    from memplug.io import atomic_path

    a, b = engines
    names = {"mean_1": f"mean_{a}", "se_1": f"se_{a}", "n_1": f"n_{a}"}
    names |= {"mean_2": f"mean_{b}", "se_2": f"se_{b}", "n_2": f"n_{b}"}
    with atomic_path(Path(path)) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        keys = list(rows[0]) if rows else []
        w.writerow([names.get(k, k) for k in keys])
        for r in rows:
            w.writerow([f"{r[k]:.6g}" if isinstance(r[k], float) else r[k] for k in keys])
