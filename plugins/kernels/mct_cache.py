"""M_mct(t) and F_mct(t) of a state, computed once and cached in ``DIR/mct/<state>.nc``.

The ``mct`` reference memory (`memplug.targets.reference_solution`): the tagged memory at k_peak
of a full multi-component MCT solve of the state's S(k), Newtonian dynamics (the main fits' equation of
motion), on 300 log-spaced times from the state's first lag to `HORIZON` (the MCT solve
runs to 1e10 anyway). Below T_mct MCT is in its glass phase: M_mct and F_mct are still stored
(F_mct stays on its plateau) and ``t_decay`` is NaN; the MCT-recovery fits skip such states. MCT
relaxes much more slowly than MD near T_mct, so F_mct usually has not decayed by the state's last
lag (``decays`` False): the MCT-recovery fits therefore get their own time grid reaching past
F_mct's decay (`mct_target_dataset`). A state whose MCT solve fails keeps a file with the
reason, so a resumed scan does not retry it.

Cache file (one per state): vars ``M_mct(t, species)`` (M^{αα}, 1/time²), ``F_mct(t, species)``;
attrs ``state``, ``dynamics``, ``fingerprint`` (statics and times; a changed state is recomputed),
``status`` (``ok`` or ``failed: ...`` or ``unavailable: ...``), ``decays`` (0/1: F_mct^{αα} ≤
`DECAYED` for every α at the state's last lag), ``t_decay`` (first time F_mct^{αα} ≤ DECAYED
for every α; NaN: not before HORIZON, MCT's glass phase), ``F_last`` (JSON list, at the state's
last lag), ``elapsed_s``, ``cpu_s``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from memplug.io import atomic_write_netcdf

#: F_mct^{αα}(t_last) at or below this for every α: MCT's F decays within the state's window.
DECAYED = 0.05
#: Times of the cached curves (log-spaced from the state's first lag to HORIZON).
N_TIMES = 300
#: Last time of the cached curves; F_mct not decayed by then counts as MCT's glass phase.
HORIZON = 1e8
#: The MCT-recovery time grid ends at this multiple of t_decay (F_mct ≈ 0 by then).
TARGET_SPAN = 3.0
CACHE_SCHEMA = "memplug-kernels-mct/2"


def cache_path(directory: str | Path, state: str) -> Path:
    """``directory/<state>.nc`` (state ids are file-name safe; other characters become ``_``)."""
    return Path(directory) / (re.sub(r"[^A-Za-z0-9.=+-]+", "_", state) + ".nc")


def fingerprint(ds, state: str) -> str:
    """Hash of what M_mct depends on: S(k), T, ρ, k_peak and the lag times of ``state``."""
    one = ds.sel(state=state)
    h = hashlib.sha256()
    for name in ("S", "time", "T", "rho", "k_peak"):
        h.update(np.ascontiguousarray(np.asarray(one[name].values, float)).tobytes())
    return h.hexdigest()[:16]


def read_cache(path: str | Path, expected: str | None = None) -> xr.Dataset | None:
    """The cached M_mct of a state, or None if absent, unreadable or for other statics."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with xr.open_dataset(path, engine="h5netcdf") as f:
            cached = f.load()
    except Exception:
        return None
    if cached.attrs.get("schema") != CACHE_SCHEMA:
        return None
    if expected is not None and cached.attrs.get("fingerprint") != expected:
        return None
    return cached


def compute_mct(dataset: str, state: str, directory: str, ds=None) -> dict[str, Any]:
    """Compute (or reuse) the cached M_mct of ``state``; returns a summary (status, decays, path,
    times). Picklable arguments (a Dask task); ``ds`` avoids reloading in serial runs."""
    from memplug.data import context_for, dynamics_for, load_dataset
    from memplug.targets import reference_solution

    ds = load_dataset(dataset) if ds is None else ds
    path = cache_path(directory, state)
    fp = fingerprint(ds, state)
    done = read_cache(path, fp)
    if done is not None:
        return _summary(done, path, reused=True)
    t_state, _ = dynamics_for(ds, state)
    t_state = t_state[np.isfinite(t_state) & (t_state > 0)]
    t = np.geomspace(float(t_state[0]), max(HORIZON, float(t_state[-1])), N_TIMES)
    ctx = dataclasses.replace(context_for(ds, state), dynamics="newtonian")
    species = list(ctx.species)
    s = len(species)
    M = np.full((N_TIMES, s), np.nan)
    F = np.full((N_TIMES, s), np.nan)
    w0, c0 = time.perf_counter(), time.process_time()
    try:
        out = reference_solution(ctx, t, "mct")
        if out is None:
            status = "unavailable: no mct reference memory installed"
        else:
            M = np.diagonal(out[0], axis1=1, axis2=2).copy()
            F = np.diagonal(out[1], axis1=1, axis2=2).copy()
            status = (
                "ok" if np.all(np.isfinite(M)) and np.all(np.isfinite(F)) else "failed: not finite"
            )
    except Exception as exc:  # one state's failed MCT solve never stops the scan
        status = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    ok = status == "ok"
    F_last = np.array([np.interp(np.log(t_state[-1]), np.log(t), F[:, a]) for a in range(s)])
    decays = bool(ok and np.all(F_last <= DECAYED))
    below = np.all(F <= DECAYED, axis=1) if ok else np.zeros(len(t), bool)
    t_decay = float(t[int(np.argmax(below))]) if below.any() else float("nan")
    cached = xr.Dataset(
        {"M_mct": (("t", "species"), M), "F_mct": (("t", "species"), F)},
        coords={"t": t, "species": np.array(species, dtype=object)},
        attrs={
            "schema": CACHE_SCHEMA, "state": state, "dynamics": "newtonian", "fingerprint": fp,
            "status": status, "decays": int(decays), "t_decay": t_decay, "F_last": json.dumps(np.asarray(F_last).tolist()),
            "elapsed_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0,
        },
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_netcdf(path, cached)
    return _summary(cached, path, reused=False)


def _summary(cached: xr.Dataset, path: Path, reused: bool) -> dict[str, Any]:
    a = cached.attrs
    return {
        "state": a["state"], "status": a["status"], "decays": bool(int(a["decays"])),
        "t_decay": float(a["t_decay"]), "ergodic": bool(np.isfinite(float(a["t_decay"]))),
        "path": str(path), "elapsed_s": float(a["elapsed_s"]), "cpu_s": float(a["cpu_s"]),
        "reused": reused,
    }  # fmt: skip


def mct_target_dataset(ds, states: list[str], summaries: dict[str, dict[str, Any]], path: Path):
    """Write the dataset the MCT-recovery fits read (``target=mct``): for each of ``states`` the
    statics of the MD state on a time grid from its first lag to ``TARGET_SPAN`` × t_decay
    (150 log-spaced times), with ``Fs`` = F_mct on that grid (Fs_k = F_mct at every k; msd copied
    from the MD state, not on this grid: neither is read by the ``mct`` target). Returns ``path``
    (rewritten only when its content changes, so resumed fits keep their inputs) or None."""
    from memplug.data import concat_states, load_dataset, save_dataset
    from memplug.plugins.datasets.schema import log_time_grid, state_dataset

    parts = []
    for state in states:
        info = summaries[state]
        cached = read_cache(info["path"])
        one = ds.sel(state=state)
        t0 = float(np.nanmin(one["time"].values))
        t = log_time_grid(
            t0, max(TARGET_SPAN * info["t_decay"], float(np.nanmax(one["time"].values)))
        )
        F = np.stack([np.interp(np.log(t), np.log(cached["t"].values), cached["F_mct"].values[:, a])
                      for a in range(cached.sizes["species"])])  # fmt: skip
        attrs = {k: str(v) for k, v in one.attrs.items()} | {
            "note": "derived: Fs is the MCT solution F_mct (memplug kernels scan --mct-recovery)"
        }
        parts.append(state_dataset(
            potential=str(one["potential"].values), rho=float(one["rho"]), T=float(one["T"]),
            S=one["S"].values, time=t, Fs=F, Fs_k=np.repeat(F[:, None, :], one.sizes["kq"], axis=1),
            msd=one["msd"].values, k_below_box=ds["k_below_box"].values, N=int(one["N"]),
            k_peak=float(one["k_peak"]), dt=float(one["dt"]), seed=int(one["seed"]), engine="mct",
            engine_version=str(one["engine_version"].values), steps=0, status=str(one["status"].values),
            attrs=attrs,
        ).assign_coords(state=[state]))  # fmt: skip
    if not parts:
        return None
    new = concat_states(parts)
    path = Path(path)
    if path.exists():
        try:
            old = load_dataset(path)
            same = sorted(map(str, old["state"].values)) == sorted(map(str, new["state"].values))
            if same and np.allclose(old["Fs"].values, new["Fs"].values, equal_nan=True):
                return path
        except Exception:
            pass
    save_dataset(new, path)
    return path
