"""Fit results of a scan → the kernels dataset (one netCDF file, schema ``memplug-kernels/1``).

Curves are put on one common log grid ``t_common`` (200 points over the lag times of all
selected states) by linear interpolation in ln t, NaN outside each curve's own time span (never
extrapolated). The variables, their dims and units are listed in
`memplug.plugins.kernels.schema`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from memplug.plugins.kernels.plan import MCT_RECOVERY_WINDOW, Experiment, tmct
from memplug.plugins.kernels.schema import SCHEMA, validate_kernels

N_COMMON = 200
#: Window of the M_fit vs M_mct distance: where the fit's target F^{αα} lies in [lo, hi].
DECAY_WINDOW = (0.05, 0.95)


def log_interp(x_new: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """y(x) at ``x_new``, linear in ln x, NaN outside [x[0], x[-1]] and where y is NaN;
    ``y`` has shape ``(n, ...)`` (interpolated along axis 0)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    lx, ln = np.log(x), np.log(np.asarray(x_new, float))
    flat = y.reshape(len(x), -1)
    out = np.full((len(ln), flat.shape[1]), np.nan)
    inside = (ln >= lx[0] - 1e-12) & (ln <= lx[-1] + 1e-12)
    for j in range(flat.shape[1]):
        ok = np.isfinite(flat[:, j])
        if ok.sum() >= 2:
            out[inside, j] = np.interp(ln[inside], lx[ok], flat[ok, j], left=np.nan, right=np.nan)
    return out.reshape((len(ln),) + y.shape[1:])


def common_grid(ds, states: Sequence[str], n: int = N_COMMON) -> np.ndarray:
    """``n`` log-spaced times from the first to the last lag time over ``states``."""
    t = np.asarray(ds.sel(state=list(states))["time"].values, float)
    t = t[np.isfinite(t) & (t > 0)]
    return np.geomspace(float(t.min()), float(t.max()), n)


def _diag(a: np.ndarray) -> np.ndarray:
    return np.diagonal(np.asarray(a, float), axis1=1, axis2=2)


def memory_distance(M_fit, M_ref, F_target) -> float:
    """sqrt(Σ (M_fit − M_ref)² / Σ M_ref²) over the species and the points of the log grid where
    ``F_target`` lies in `DECAY_WINDOW` (all shapes ``(n_t, s)``); NaN without such points."""
    lo, hi = DECAY_WINDOW
    w = (
        np.isfinite(M_fit)
        & np.isfinite(M_ref)
        & np.isfinite(F_target)
        & (F_target >= lo)
        & (F_target <= hi)
    )
    den = float(np.sum(M_ref[w] ** 2))
    return math.sqrt(float(np.sum((M_fit[w] - M_ref[w]) ** 2)) / den) if den > 0 else math.nan


def _channel_values(res: xr.Dataset, species: list[str], context) -> dict[str, np.ndarray]:
    """Second channel / first for each species (``amplitude_ratio_αα[1]``, ``area_ratio_αα[1]``
    of the closure's ``channels``) with lo/hi from the fit's ``derived`` attribute (values only,
    from θ and ``context``, when the result has none); NaN where the closure has one channel."""
    derived = json.loads(res.attrs["derived"]) if "derived" in res.attrs else None
    out = {k: np.full(len(species), np.nan) for k in
           ("amp_ratio", "amp_ratio_lo", "amp_ratio_hi", "area_ratio", "area_ratio_lo", "area_ratio_hi")}  # fmt: skip
    values = derived if derived is not None else _channels_from_theta(res, context)
    for a, sp in enumerate(species):
        for short, key in (
            ("amp_ratio", f"amplitude_ratio_{sp}{sp}[1]"),
            ("area_ratio", f"area_ratio_{sp}{sp}[1]"),
        ):
            item = values.get(key)
            if item is None:
                continue
            if isinstance(item, dict):
                for part, suffix in (("value", ""), ("lo", "_lo"), ("hi", "_hi")):
                    v = item.get(part)
                    out[short + suffix][a] = float(v) if v is not None else np.nan
            else:
                out[short][a] = float(item)
    return out


def _channels_from_theta(res: xr.Dataset, context) -> dict[str, float]:
    """The closure's ``channels`` at the fitted θ (values only)."""
    from memplug.registry import get_registry

    try:
        closure = get_registry().create("closures", res.attrs["closure"])
        if not callable(getattr(closure, "channels", None)):
            return {}
        theta = closure.space(context).unpack(np.asarray(res["theta"].values, float))
        return {k: float(np.asarray(v)) for k, v in closure.channels(theta, context).items()}
    except Exception:  # a closure without a usable channels() has no ratios: NaN
        return {}


def inversion_status() -> tuple[Any, str]:
    """(``invert(ds, state)`` or None, a note): the model-free inversion of ``memplug kernel
    invert`` (its default options) when that plugin is installed and loads."""
    from memplug.registry import get_registry

    plugins = [
        p for p in get_registry().plugins if p.module.startswith("memplug.plugins.inversion")
    ]
    if not plugins or not all(p.ok for p in plugins):
        return None, "not available: the inversion plugin (memplug kernel invert) is not installed"
    try:
        from memplug.plugins.inversion.cli import InvertOptions, invert_state
    except ImportError as exc:
        return None, f"not available: {exc}"
    opts = InvertOptions()

    def invert(ds, state):
        return invert_state(ds, state, opts)

    return invert, f"memplug kernel invert, options {json.dumps(dataclasses.asdict(opts))}"


def _inverted(invert, ds, state: str, t_common: np.ndarray, s: int):
    """(M, M_lo, M_hi, reliable) of the model-free inversion on ``t_common``, each (n, s);
    NaN / False where unavailable or where the inversion fails for this state."""
    nan = np.full((len(t_common), s), np.nan)
    none = (nan, nan.copy(), nan.copy(), np.zeros((len(t_common), s), bool))
    if invert is None:
        return none
    try:
        inv = invert(ds, state)
    except Exception:
        return none
    rel = log_interp(t_common, inv.t_M, np.asarray(inv.reliable, float))
    return (log_interp(t_common, inv.t_M, inv.M), log_interp(t_common, inv.t_M, inv.M_lo),
            log_interp(t_common, inv.t_M, inv.M_hi), np.nan_to_num(rel, nan=0.0) >= 0.999)  # fmt: skip


def assemble(cfg, ds, states: Sequence[str], planned, mct: dict, timing: dict, path: Path) -> Path:
    """Write the kernels dataset of a scan to ``path`` (atomically, validated first)."""
    kernels = build(cfg, ds, states, planned, mct, timing)
    validate_kernels(kernels, path)
    from memplug.io import atomic_write_netcdf

    path.parent.mkdir(parents=True, exist_ok=True)
    encoding = {name: {"zlib": True, "complevel": 4} for name in kernels.data_vars
                if np.issubdtype(kernels[name].dtype, np.floating)}  # fmt: skip
    atomic_write_netcdf(path, kernels, encoding=encoding)
    return path


def build(cfg, ds, states: Sequence[str], planned, mct: dict, timing: dict) -> xr.Dataset:
    """The kernels dataset as an `xarray.Dataset` (see `assemble`)."""
    from memplug.fit import r2_score, rmse_eq_s1
    from memplug.fit_results import load_result
    from memplug.plugins.kernels.mct_cache import cache_path, read_cache
    from memplug.plugins.kernels.plan import result_path
    from memplug.provenance import versions

    states = list(states)
    experiments: list[Experiment] = list(dict.fromkeys(e for _, e, _ in planned))
    if cfg.mct_recovery:
        from memplug.plugins.kernels.plan import mct_recovery_experiment

        experiments = list(dict.fromkeys([*experiments, mct_recovery_experiment()]))
    fits = [e.label() for e in experiments]
    species = ["A", "B"]
    S, K, s = len(states), len(fits), len(species)
    si = {st: i for i, st in enumerate(states)}
    ki = {lab: k for k, lab in enumerate(fits)}

    loaded: dict[tuple[int, int], tuple[xr.Dataset, Any]] = {}
    for state, exp, job in planned:
        p = result_path(job)
        if p.exists():
            loaded[(si[state], ki[exp.label()])] = (load_result(p), job)
    P = max([res.sizes["param"] for res, _ in loaded.values()] or [1])
    # one grid over the MD lags and every fit's times (the MCT-recovery grids reach further)
    t_data = common_grid(ds, states, 2)
    t_fits = [res["t"].values for res, _ in loaded.values()]
    t_common = np.geomspace(min([t_data[0], *(float(t[0]) for t in t_fits)]),
                            max([t_data[-1], *(float(t[-1]) for t in t_fits)]), N_COMMON)  # fmt: skip
    n = len(t_common)

    nan3 = lambda *shape: np.full(shape, np.nan)  # noqa: E731
    v: dict[str, np.ndarray] = {
        name: nan3(S, K) for name in ("loss", "r2", "rmse", "r2_all", "rmse_all", "elapsed_s",
                                      "wall_s", "cpu_s", "t_min", "M_mct_distance", "load_1min")
    }  # fmt: skip
    for name in ("evaluations", "generations", "n_points", "seed"):
        v[name] = np.full((S, K), -1, np.int64)
    v["done"] = np.zeros((S, K), bool)
    for name in ("theta", "theta_lo", "theta_hi"):
        v[name] = nan3(S, K, P)
    v["pinned"] = np.full((S, K, P), -1, np.int8)
    v["param_label"] = np.full((K, P), "", dtype=object)
    for name in ("M_fit", "M_fit_lo", "M_fit_hi", "F_fit", "F_fit_lo", "F_fit_hi"):
        v[name] = nan3(S, K, n, s)
    for name in (
        "amp_ratio",
        "amp_ratio_lo",
        "amp_ratio_hi",
        "area_ratio",
        "area_ratio_lo",
        "area_ratio_hi",
    ):
        v[name] = nan3(S, K, s)
    text = {
        name: np.full((S, K), "", dtype=object)
        for name in ("stop_reason", "flags", "undetermined", "optimizer")
    }

    # per state: statics, T_mct, data, M_mct, inversion
    invert, inversion_note = inversion_status()
    st = {name: nan3(S) for name in ("T", "rho", "k_peak", "tau_alpha", "T_mct", "T_over_Tmct",
                                     "T_mct_paper", "T_over_Tmct_paper")}  # fmt: skip
    st_text = {name: np.full(S, "", dtype=object) for name in ("potential", "status", "T_mct_source",
                                                                "T_mct_paper_source", "mct_status")}  # fmt: skip
    mct_decays = np.zeros(S, bool)
    curves = {
        name: nan3(S, n, s)
        for name in ("F_data", "M_mct", "F_mct", "M_inv", "M_inv_lo", "M_inv_hi")
    }
    M_inv_reliable = np.zeros((S, n, s), bool)
    from memplug.data import context_for, dynamics_for

    for i, state in enumerate(states):
        one = ds.sel(state=state)
        pot, rho, T = str(one["potential"].values), float(one["rho"]), float(one["T"])
        st["T"][i], st["rho"][i], st["k_peak"][i] = T, rho, float(one["k_peak"])
        st["tau_alpha"][i] = float(one["tau_alpha"])
        st_text["potential"][i], st_text["status"][i] = pot, str(one["status"].values)
        for key, source in (("T_mct", "memplug"), ("T_mct_paper", "paper")):
            value, name = tmct(pot, rho, source)
            st[key][i] = value
            st_text[key + "_source"][i] = name
        st["T_over_Tmct"][i] = T / st["T_mct"][i]
        st["T_over_Tmct_paper"][i] = T / st["T_mct_paper"][i]
        t, F = dynamics_for(ds, state)
        keep = np.isfinite(F).all(axis=1) & (t > 0)
        curves["F_data"][i] = log_interp(t_common, t[keep], F[keep])
        cached = read_cache(cache_path(Path(cfg.out) / "mct", state)) if cfg.mct else None
        if cached is not None:
            st_text["mct_status"][i] = str(cached.attrs["status"])
            mct_decays[i] = bool(int(cached.attrs["decays"]))
            curves["M_mct"][i] = log_interp(t_common, cached["t"].values, cached["M_mct"].values)
            curves["F_mct"][i] = log_interp(t_common, cached["t"].values, cached["F_mct"].values)
        else:
            st_text["mct_status"][i] = "not computed" if not cfg.mct else "missing"
        inv = _inverted(invert, ds, state, t_common, s)
        curves["M_inv"][i], curves["M_inv_lo"][i], curves["M_inv_hi"][i], M_inv_reliable[i] = inv

    # per (state, fit)
    for (i, k), (res, job) in loaded.items():
        labels = list(map(str, res["param"].values))
        p = len(labels)
        v["param_label"][k, :p] = labels
        v["done"][i, k] = True
        v["theta"][i, k, :p] = res["theta"].values
        for name in ("theta_lo", "theta_hi"):
            if name in res:
                v[name][i, k, :p] = res[name].values
        if "pinned" in res:
            v["pinned"][i, k, :p] = res["pinned"].values.astype(np.int8)
        a = res.attrs
        v["loss"][i, k], v["r2"][i, k] = float(a["loss"]), float(a["r2"])
        v["elapsed_s"][i, k] = float(a["elapsed_s"])
        v["evaluations"][i, k], v["generations"][i, k] = (
            int(a["evaluations"]),
            int(a["generations"]),
        )
        v["seed"][i, k] = int(a["seed"])
        v["t_min"][i, k] = job.t_min if job.t_min is not None else np.nan
        w = res["in_window"].values.astype(bool)
        Ff, Ft = res["F_fit"].values, res["F_target"].values
        v["n_points"][i, k] = int(Ff[w].size)
        finite = np.all(np.isfinite(Ff))
        v["rmse"][i, k] = rmse_eq_s1(Ff[w], Ft[w]) if finite else np.nan
        v["r2_all"][i, k] = r2_score(Ff, Ft) if finite else np.nan
        v["rmse_all"][i, k] = rmse_eq_s1(Ff, Ft) if finite else np.nan
        text["stop_reason"][i, k] = str(a["stop_reason"])
        text["optimizer"][i, k] = str(a["optimizer"])
        text["flags"][i, k] = a.get("flags", "null")
        text["undetermined"][i, k] = a.get("undetermined", "null")
        tm, t = res["t_M"].values, res["t"].values
        v["M_fit"][i, k] = log_interp(t_common, tm, _diag(res["M_fit"].values))
        v["F_fit"][i, k] = log_interp(t_common, t, Ff)
        for name, grid in (("M_fit_lo", tm), ("M_fit_hi", tm), ("F_fit_lo", t), ("F_fit_hi", t)):
            if name in res:
                vals = res[name].values
                v[name][i, k] = log_interp(t_common, grid, _diag(vals) if vals.ndim == 3 else vals)
        ctx = dataclasses.replace(context_for(ds, states[i]), dynamics=job.dynamics)
        for name, val in _channel_values(res, species, ctx).items():
            v[name][i, k] = val
        F_ref = curves["F_mct"][i] if job.target == "mct" else curves["F_data"][i]
        v["M_mct_distance"][i, k] = memory_distance(v["M_fit"][i, k], curves["M_mct"][i], F_ref)
        rel = str(Path(job.out, f"{job.stem()}.nc").relative_to(Path(cfg.out)))
        tim = timing.get(rel, {})
        for name in ("wall_s", "cpu_s", "load_1min"):
            if name in tim:
                v[name][i, k] = float(tim[name])

    dims_sk = ("state", "fit")
    data: dict[str, Any] = {}
    for name in ("loss", "r2", "rmse", "r2_all", "rmse_all", "elapsed_s", "wall_s", "cpu_s",
                 "load_1min", "t_min", "M_mct_distance", "evaluations", "generations", "n_points",
                 "seed", "done"):  # fmt: skip
        data[name] = (dims_sk, v[name])
    for name in text:
        data[name] = (dims_sk, text[name])
    for name in ("theta", "theta_lo", "theta_hi", "pinned"):
        data[name] = (("state", "fit", "param"), v[name])
    data["param_label"] = (("fit", "param"), v["param_label"])
    for name in ("M_fit", "M_fit_lo", "M_fit_hi", "F_fit", "F_fit_lo", "F_fit_hi"):
        data[name] = (("state", "fit", "t_common", "species"), v[name])
    for name in (
        "amp_ratio",
        "amp_ratio_lo",
        "amp_ratio_hi",
        "area_ratio",
        "area_ratio_lo",
        "area_ratio_hi",
    ):
        data[name] = (("state", "fit", "species"), v[name])
    for name, arr in st.items():
        data[name] = (("state",), arr)
    for name, arr in st_text.items():
        data[name] = (("state",), arr)
    data["mct_decays"] = (("state",), mct_decays)
    for name, arr in curves.items():
        data[name] = (("state", "t_common", "species"), arr)
    data["M_inv_reliable"] = (("state", "t_common", "species"), M_inv_reliable)
    coords = {
        "state": np.array(states, dtype=object),
        "fit": np.array(fits, dtype=object),
        "param": np.arange(P),
        "t_common": t_common,
        "species": np.array(species, dtype=object),
        "fit_closure": ("fit", np.array([e.closure for e in experiments], dtype=object)),
        "fit_dynamics": ("fit", np.array([e.dynamics for e in experiments], dtype=object)),
        "fit_target": ("fit", np.array([e.target for e in experiments], dtype=object)),
        "fit_part": ("fit", np.array([e.part for e in experiments], dtype=object)),
        "fit_lasso": ("fit", np.array([e.lasso for e in experiments], float)),
        "fit_n_exp": ("fit", np.array([e.n_exp() for e in experiments], np.int64)),
    }
    out = xr.Dataset(data, coords=coords)
    n_all = int(ds.sizes["state"])
    n_eq = int(np.sum(ds["status"].values.astype(str) == "equilibrated"))
    out.attrs = {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": cfg.command,
        "dataset": str(cfg.dataset),
        "states_selection": str(cfg.states),
        "coverage": f"{S} of {n_eq} equilibrated states ({n_all} states in the dataset)",
        "seed": int(cfg.seed),
        "budget_scale": float(cfg.budget_scale),
        "polish": cfg.polish,
        "init": cfg.init,
        "versions": json.dumps(versions("cma", "nevergrad", "optax", "diffrax", "h5netcdf"), sort_keys=True),
        "T_mct_source": "memplug: our own T_mct (docs/mct.md Table I section), interpolated in "
                        "ln T-ln rho between computed densities; T_mct_paper: paper Table I",
        "overdamped_ballistic": (
            f"overdamped fits (paper Eq. 5) start past the ballistic start: target times "
            f"t >= {cfg.overdamped_vibrations:g}/Omega, Omega^2 = k_peak^2 T (per fit: t_min)"
        ),
        "M_mct": "tagged MCT memory at k_peak, Newtonian dynamics (the mct reference memory)"
                 if cfg.mct else "not computed (--no-mct)",
        "M_mct_distance": (
            f"relative L2 of M_fit vs M_mct on the t_common points where the fit's target F "
            f"(F_mct for target=mct, else the data) lies in [{DECAY_WINDOW[0]}, {DECAY_WINDOW[1]}], "
            "both species"
        ),
        "mct_recovery_window": json.dumps(list(MCT_RECOVERY_WINDOW)) + " x T_mct (memplug)",
        "inverted_M": inversion_note,
        "t_common": f"{n} log-spaced times over the selected states' lags; curves interpolated in ln t, "
                    "NaN outside their own span",
        "rmse": "paper SI Eq. S1 for one state (memplug.fit.rmse_eq_s1: sqrt of the summed squared "
                "residuals over the fit window and both species)",
    }  # fmt: skip
    out.attrs |= {k: str(val) for k, val in cfg.extra_attrs.items()}
    return out
