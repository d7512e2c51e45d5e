"""Read the statics of one state from a user file for ``memplug mlp predict``.

Accepted formats (S^{αβ}(k) on the 100-point grid k_i = 0.4 (i + 1/2), normalised N⁻¹⟨ρ_α ρ_β⟩):

- **CSV** (``.csv``): columns ``k,S_AA,S_AB,S_BB`` (100 rows); T, ρ and the potential either in
  comment lines at the top (``# T = 0.8``, ``# rho = 1.2``, ``# potential = LJ``) or given with
  ``--T``, ``--rho``, ``--potential`` (which take precedence). An optional ``# k_peak = 7.2``
  gives k_p (else it is computed from S^{AA}, as for the dataset).
- **JSON** (``.json``): ``{"k": [...], "S": {"AA": [...], "AB": [...], "BB": [...]}, "T": 0.8,
  "rho": 1.2, "potential": "LJ"}`` (optional ``"k_peak"``).
- **netCDF** (``.nc``): a dataset in the shared schema (pick the state with ``--state`` when it has
  several), or a single-state file with ``S(pair, k)`` and ``T``, ``rho``, ``potential`` as
  coordinates, variables or attributes.

Anything missing or malformed raises `memplug.InputError` naming the file and field.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from memplug.errors import InputError

from .features import PAIRS, Statics, check_statics


def _number(src: str, name: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{src}: {name}: expected a number, got {value!r}") from None


def _finish(src: str, k, S, T, rho, potential, name: str, k_peak=None) -> Statics:
    T, rho = _number(src, "T", T), _number(src, "rho", rho)
    potential = None if potential is None else str(potential)
    check_statics(src, k, S, T, rho, potential)
    kp = _number(src, "k_peak", k_peak)
    if kp is not None and not (np.isfinite(kp) and kp > 0):
        raise InputError(f"{src}: k_peak: expected a positive finite number, got {kp}")
    return Statics(np.asarray(S, float), T, rho, potential, name, kp)


def _read_csv(path: Path, overrides: dict) -> Statics:
    src = str(path)
    meta: dict[str, str] = {}
    lines = []
    with open(path, newline="") as fh:
        for line in fh:
            if line.lstrip().startswith("#"):
                key, eq, value = line.lstrip()[1:].partition("=")
                if eq:
                    meta[key.strip()] = value.strip()
            elif line.strip():
                lines.append(line)
    reader = csv.DictReader(lines)
    cols = [c.strip() for c in (reader.fieldnames or [])]
    need = ["k", *(f"S_{p}" for p in PAIRS)]
    missing = [c for c in need if c not in cols]
    if missing:
        raise InputError(
            f"{src}: missing column(s) {', '.join(missing)}; expected header k,S_AA,S_AB,S_BB"
        )
    rows = [{k.strip(): v for k, v in r.items() if k is not None} for r in reader]
    try:
        data = {
            c: np.array([float(r[c]) if r[c] not in (None, "") else np.nan for r in rows])
            for c in need
        }
    except ValueError as exc:
        raise InputError(f"{src}: non-numeric value: {exc}") from None
    S = np.stack([data[f"S_{p}"] for p in PAIRS])
    T = overrides.get("T") if overrides.get("T") is not None else meta.get("T")
    rho = overrides.get("rho") if overrides.get("rho") is not None else meta.get("rho")
    pot = overrides.get("potential") or meta.get("potential")
    return _finish(src, data["k"], S, T, rho, pot, path.stem, meta.get("k_peak"))


def _read_json(path: Path, overrides: dict) -> Statics:
    src = str(path)
    try:
        d = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{src}: not valid JSON: {exc}") from None
    if not isinstance(d, dict) or not isinstance(d.get("S"), dict):
        raise InputError(f'{src}: S: expected an object {{"AA": [...], "AB": [...], "BB": [...]}}')
    missing = [p for p in PAIRS if p not in d["S"]]
    if missing:
        raise InputError(f"{src}: S: missing pair(s) {', '.join(missing)}; expected AA, AB, BB")
    if "k" not in d:
        raise InputError(f"{src}: k: missing; expected the 100-point k grid")
    try:
        S = np.array([np.asarray(d["S"][p], dtype=float) for p in PAIRS])
        k = np.asarray(d["k"], dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{src}: S/k: expected lists of numbers of length 100 ({exc})") from None
    T = overrides.get("T") if overrides.get("T") is not None else d.get("T")
    rho = overrides.get("rho") if overrides.get("rho") is not None else d.get("rho")
    pot = overrides.get("potential") or d.get("potential")
    return _finish(src, k, S, T, rho, pot, str(d.get("name", path.stem)), d.get("k_peak"))


def _read_netcdf(path: Path, overrides: dict, state: str | None) -> Statics:
    import xarray as xr

    src = str(path)
    try:
        ds = xr.load_dataset(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise InputError(f"{src}: cannot read as netCDF: {exc}") from None
    if "S" not in ds:
        raise InputError(f"{src}: S: missing variable S(pair, k)")
    name = path.stem
    if "state" in ds["S"].dims:
        states = [str(s) for s in ds["state"].values]
        if state is None:
            if len(states) != 1:
                raise InputError(f"{src}: has {len(states)} states; choose one with --state")
            state = states[0]
        if state not in states:
            raise InputError(f"{src}: state {state!r} not in the file")
        ds = ds.sel(state=state)
        name = state
    if "pair" not in ds["S"].dims or "k" not in ds["S"].dims:
        raise InputError(f"{src}: S: expected dimensions (pair, k), got {ds['S'].dims}")
    pairs = [str(p) for p in ds["pair"].values]
    missing = [p for p in PAIRS if p not in pairs]
    if missing:
        raise InputError(f"{src}: S: missing pair(s) {', '.join(missing)}; expected AA, AB, BB")
    S = ds["S"].sel(pair=list(PAIRS)).transpose("pair", "k").values
    k = ds["k"].values if "k" in ds.coords else None
    if k is None:
        raise InputError(f"{src}: k: missing coordinate")

    def get(field: str):
        if overrides.get(field) is not None:
            return overrides[field]
        if field in ds.variables:
            v = ds[field].values
            return v.item() if np.ndim(v) == 0 else v
        return ds.attrs.get(field)

    return _finish(src, k, S, get("T"), get("rho"), get("potential"), name, get("k_peak"))


def read_statics(
    path: str | Path, *, T=None, rho=None, potential=None, state: str | None = None
) -> Statics:
    """The statics of one state from a CSV, JSON or netCDF file (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    overrides = {"T": T, "rho": rho, "potential": potential}
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, overrides)
    if suffix == ".json":
        return _read_json(path, overrides)
    if suffix in (".nc", ".nc4", ".netcdf", ".h5"):
        return _read_netcdf(path, overrides, state)
    raise InputError(f"{path}: unknown format {suffix!r}; expected .csv, .json or .nc")
