"""Results of a fit: one netCDF file (fitted θ, F_fit(t), M(t), loss history, seed, versions,
inputs), a JSON summary and a PNG figure per fit, each written atomically.

Layout of a result file (``memplug-fit/1``)::

    dims    param, t, species, t_M, species2, generation, history_column
    vars    theta(param)               fitted physical parameters (labels in coord `param`)
            theta_unconstrained(param) the optimizer's vector
            F_target(t, species), F_fit(t, species), in_window(t)
            M_fit(t_M, species, species2)       M(t) of the fitted closure
            M_reference(t_M, species, species2) M_mct(t) where available (else absent)
            history(generation, history_column) generation, evaluations, best loss, ...
            theta_lo(param), theta_hi(param)    interval of θ (NaN: pinned or undetermined)
            pinned(param)                       the parameter sits at a bound of its range
            M_fit_lo, M_fit_hi(t_M, species, species2), F_fit_lo, F_fit_hi(t, species)
                                                pointwise band (NaN: not determined by the data)
    attrs   schema, state, closure, optimizer, target, dataset, init, seed, loss, r2,
            evaluations, generations, stop_reason, elapsed_s, versions (JSON), inputs (JSON), info (JSON);
            pinned_bounds, undetermined, flags, derived, noise, n_eff, uncertainty (JSON)

The uncertainty variables and attributes (`memplug.plugins.fitting.uncertainty`) are optional:
files written before them load as before, without them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from memplug.errors import InputError
from memplug.io import atomic_write_with as _atomic
from memplug.provenance import versions

SCHEMA = "memplug-fit/1"
HISTORY_COLUMNS = ("generation", "evaluations", "best_loss", "generation_loss", "elapsed")


@dataclass
class FitResult:
    """Everything a finished fit reports (see the module docstring for the file layout)."""

    state: str
    closure: str
    optimizer: str
    target: str
    dataset: str
    init: str
    seed: int
    labels: list[str]
    theta: np.ndarray
    x: np.ndarray
    t: np.ndarray
    F_target: np.ndarray
    F_fit: np.ndarray
    in_window: np.ndarray
    t_M: np.ndarray
    M_fit: np.ndarray
    M_reference: np.ndarray | None
    loss: float
    r2: float
    evaluations: int
    generations: int
    history: np.ndarray
    stop_reason: str
    elapsed: float
    species: tuple[str, ...] = ("A", "B")
    inputs: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    # how much the kernel can be trusted (result_fields of the fitting plugin's uncertainty;
    # None: not computed)
    theta_lo: np.ndarray | None = None
    theta_hi: np.ndarray | None = None
    pinned: dict[str, str] | None = None
    undetermined: list[str] | None = None
    flags: list[str] | None = None
    M_fit_lo: np.ndarray | None = None
    M_fit_hi: np.ndarray | None = None
    F_fit_lo: np.ndarray | None = None
    F_fit_hi: np.ndarray | None = None
    derived: dict[str, dict[str, Any]] | None = None
    noise: dict[str, float] | None = None
    n_eff: dict[str, float] | None = None
    uncertainty: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary (one row of the final table)."""
        T, T_mct = self.info.get("T", np.nan), self.info.get("T_mct", np.nan)
        return {
            "state": self.state,
            "closure": self.closure,
            "optimizer": self.optimizer,
            "target": self.target,
            "init": self.init,
            "seed": self.seed,
            "T": T,
            "T_over_Tmct": (T / T_mct) if T_mct and np.isfinite(T_mct) else None,
            "loss": self.loss,
            "r2": self.r2,
            "evaluations": self.evaluations,
            "generations": self.generations,
            "stop_reason": self.stop_reason,
            "elapsed_s": self.elapsed,
            "theta": dict(zip(self.labels, np.asarray(self.theta, float).tolist(), strict=True)),
        } | _trust_summary(self.pinned, self.undetermined, self.flags, self.noise, self.n_eff,
                           self.derived, self.theta_lo, self.theta_hi, self.labels)  # fmt: skip


def _trust_summary(
    pinned, undetermined, flags, noise, n_eff, derived, lo, hi, labels
) -> dict[str, Any]:
    """The summary keys of the uncertainty (None where it was not computed)."""
    interval = None
    if lo is not None and hi is not None:
        interval = {
            lab: None if not (np.isfinite(a) and np.isfinite(b)) else [float(a), float(b)]
            for lab, a, b in zip(labels, np.asarray(lo, float), np.asarray(hi, float), strict=True)
        }
    return {
        "pinned": pinned, "undetermined": undetermined, "flags": flags, "noise": noise,
        "n_eff": n_eff, "derived": derived, "theta_interval": interval,
    }  # fmt: skip


def _json(obj: Any) -> str:
    def default(o):
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
        return str(o)

    return json.dumps(obj, default=default, sort_keys=True)


def to_dataset(r: FitResult) -> xr.Dataset:
    s = list(r.species)
    data = {
        "theta": (("param",), np.asarray(r.theta, float)),
        "theta_unconstrained": (("param",), np.asarray(r.x, float)),
        "F_target": (("t", "species"), np.asarray(r.F_target, float)),
        "F_fit": (("t", "species"), np.asarray(r.F_fit, float)),
        "in_window": (("t",), np.asarray(r.in_window, bool)),
        "M_fit": (("t_M", "species", "species2"), np.asarray(r.M_fit, float)),
        "history": (
            ("generation", "history_column"),
            np.asarray(r.history, float).reshape(-1, len(HISTORY_COLUMNS)),
        ),
    }
    if r.M_reference is not None:
        data["M_reference"] = (("t_M", "species", "species2"), np.asarray(r.M_reference, float))
    optional = {
        "theta_lo": ("param",), "theta_hi": ("param",),
        "M_fit_lo": ("t_M", "species", "species2"), "M_fit_hi": ("t_M", "species", "species2"),
        "F_fit_lo": ("t", "species"), "F_fit_hi": ("t", "species"),
    }  # fmt: skip
    for name, dims in optional.items():
        if getattr(r, name) is not None:
            data[name] = (dims, np.asarray(getattr(r, name), float))
    if r.pinned is not None:
        data["pinned"] = (("param",), np.array([lab in r.pinned for lab in r.labels], bool))
    ds = xr.Dataset(
        data,
        coords={
            "param": np.array(r.labels, dtype=object),
            "t": np.asarray(r.t, float),
            "species": np.array(s, dtype=object),
            "species2": np.array(s, dtype=object),
            "t_M": np.asarray(r.t_M, float),
            "history_column": np.array(HISTORY_COLUMNS, dtype=object),
        },
    )
    ds.attrs = {
        "schema": SCHEMA,
        "state": r.state,
        "closure": r.closure,
        "optimizer": r.optimizer,
        "target": r.target,
        "dataset": r.dataset,
        "init": r.init,
        "seed": int(r.seed),
        "loss": float(r.loss),
        "r2": float(r.r2),
        "evaluations": int(r.evaluations),
        "generations": int(r.generations),
        "stop_reason": r.stop_reason,
        "elapsed_s": float(r.elapsed),
        "versions": _json(versions("cma", "nevergrad", "optax", "diffrax")),
        "inputs": _json(r.inputs),
        "info": _json(r.info),
    }
    trust = {
        "pinned_bounds": r.pinned, "undetermined": r.undetermined, "flags": r.flags,
        "derived": r.derived, "noise": r.noise, "n_eff": r.n_eff, "uncertainty": r.uncertainty,
    }  # fmt: skip
    ds.attrs |= {k: _json(v) for k, v in trust.items() if v is not None}
    return ds


def save_result(r: FitResult, path: str | os.PathLike) -> dict[str, Path]:
    """Write ``path`` (netCDF) and ``path`` with ``.json`` (summary), atomically (the fitting
    plugin's `memplug.plugins.fitting.plotting.save_result` adds the ``.png`` figure)."""
    path = Path(path)
    nc = path.with_suffix(".nc")
    ds = to_dataset(r)
    _atomic(nc, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))
    js = path.with_suffix(".json")
    text = json.dumps(json.loads(_json(r.summary())), indent=2)
    _atomic(js, lambda tmp: Path(tmp).write_text(text + "\n"))
    return {"netcdf": nc, "json": js}


def load_result(path: str | os.PathLike) -> xr.Dataset:
    """Open a result file (``memplug-fit/1``); InputError naming the file if it is not one."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: result file not found")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            ds = ds.load()
    except Exception as exc:
        raise InputError(
            f"{path}: not a readable netCDF result ({type(exc).__name__}: {exc})"
        ) from None
    if ds.attrs.get("schema") != SCHEMA:
        raise InputError(
            f"{path}: attrs.schema: expected {SCHEMA!r}, found {ds.attrs.get('schema')!r}"
        )
    return ds


def result_summary(ds: xr.Dataset) -> dict[str, Any]:
    """The JSON summary of a loaded result dataset."""
    info = json.loads(ds.attrs.get("info", "{}"))
    T, T_mct = info.get("T"), info.get("T_mct")
    return {
        "state": ds.attrs["state"],
        "closure": ds.attrs["closure"],
        "optimizer": ds.attrs["optimizer"],
        "target": ds.attrs["target"],
        "init": ds.attrs["init"],
        "seed": int(ds.attrs["seed"]),
        "T": T,
        "T_over_Tmct": (T / T_mct) if T and T_mct and np.isfinite(T_mct) else None,
        "loss": float(ds.attrs["loss"]),
        "r2": float(ds.attrs["r2"]),
        "evaluations": int(ds.attrs["evaluations"]),
        "generations": int(ds.attrs["generations"]),
        "stop_reason": ds.attrs["stop_reason"],
        "elapsed_s": float(ds.attrs["elapsed_s"]),
        "theta": dict(zip(map(str, ds["param"].values), ds["theta"].values.tolist(), strict=True)),
    } | _trust_summary(
        *(_attr_json(ds, k) for k in ("pinned_bounds", "undetermined", "flags", "noise", "n_eff", "derived")),
        ds["theta_lo"].values if "theta_lo" in ds else None,
        ds["theta_hi"].values if "theta_hi" in ds else None,
        list(map(str, ds["param"].values)),
    )  # fmt: skip


def _attr_json(ds: xr.Dataset, key: str) -> Any:
    """A JSON attribute of a result, None if absent (files written before it)."""
    return json.loads(ds.attrs[key]) if key in ds.attrs else None
