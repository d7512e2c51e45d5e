"""The dataset schema: statics and dynamics of simulated state points, as an xarray Dataset.

One dataset holds many *states* (potential, ρ, T). It is saved as netCDF (engine ``h5netcdf``) and
always written atomically (temp file in the same directory + `os.replace`). The shipped
default dataset is stored as one small file per state and concatenated along ``state`` on loading.

Schema ``memplug-dataset/1`` (Lennard-Jones reduced units, σ_AA = ε_AA = m = k_B = 1):

dims
    ``state``, ``pair`` = AA, AB, BB, ``species`` = A, B, ``k`` (100), ``kq`` (4), ``t`` (150 nominal).
coords
    ``k`` = 0.4 (i + 1/2), i = 0..99 (bin midpoints on (0, 40]); ``kq`` = 3, 5, 10, 15;
    ``state`` = ids like ``"LJ-rho1.20-T0.800"``; per state (dim ``state``): ``potential``, ``rho``,
    ``T``, ``N``, ``k_peak``, ``dt``, ``seed``, ``engine``, ``engine_version``, ``steps``, ``status``
    (``"equilibrated"`` / ``"glass"``), ``cpu_seconds``, ``energy_drift``.
data variables
    ``S(state, pair, k)``: partial structure factors N⁻¹⟨ρ_α(k) ρ_β(−k)⟩ (S^{αβ}(∞) = x_α δ_αβ);
    ``k_below_box(k)``: grid points below 2π/L (not measurable in the box: filled by the small-k
    continuation of the simulation that wrote the state, recorded in the ``S_below_box`` attribute);
    ``time(state, t)``: each state's own log-spaced lag times in τ_LJ = (m σ_AA²/ε_AA)^{1/2} (the
    paper's τ_MD = τ_LJ/√48, so t_paper = √48 t);
    ``Fs(state, species, t)``: F_s^{αα}(k_peak, t) normalised to F_s(0) = 1 (paper Eq. 1 multiplies
    it by S^{αα}(k_peak); ``memplug run --normalisation paper`` fits that); ``Fs_k(state, species, kq, t)``;
    ``msd(state, species, t)``; ``tau_alpha(state)``: F_s^{AA}(k_peak, τ_α) = 1/e
    (NaN allowed only for ``glass`` states whose F_s does not reach 1/e in the window).
optional data variables
    any other variable with ``state`` as its first dim, e.g. what an MD plugin's observables
    measure beyond the above (``F(state, pair, t)``, ``alpha2(state, species, t)``); states that
    lack one (simulated before it existed) get NaN when states are concatenated.
attrs
    ``schema``, ``memplug_version``, creation info.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from memplug.constants import K_GRID, KQ, N_K, PAIRS, SPECIES
from memplug.errors import InputError
from memplug.io import atomic_write_netcdf, user_cache_dir

SCHEMA = "memplug-dataset/1"
#: Number fractions of the Kob-Andersen 80:20 mixture.
X_SPECIES = np.array([0.8, 0.2])
N_T = 150
POTENTIALS = ("LJ", "WCA")
STATUSES = ("equilibrated", "glass")

#: Per-state coordinates and their kind (``"str"``, ``"float"``, ``"int"``).
STATE_COORDS: dict[str, str] = {
    "potential": "str",
    "rho": "float",
    "T": "float",
    "N": "int",
    "k_peak": "float",
    "dt": "float",
    "seed": "int",
    "engine": "str",
    "engine_version": "str",
    "steps": "int",
    "status": "str",
    "cpu_seconds": "float",
    "energy_drift": "float",
}

#: Data variables and their dims, in this order.
DATA_VARS: dict[str, tuple[str, ...]] = {
    "S": ("state", "pair", "k"),
    "k_below_box": ("k",),
    "time": ("state", "t"),
    "Fs": ("state", "species", "t"),
    "Fs_k": ("state", "species", "kq", "t"),
    "msd": ("state", "species", "t"),
    "tau_alpha": ("state",),
}

#: Tolerance of the F_s(t→0) = 1 check (after removing the ballistic decay at the first time).
FS0_TOLERANCE = 0.02
#: An equilibrated state's lag times reach at least this many τ_α (nominally 10; the margin allows
#: τ_α measured during equilibration to differ from the final one).
WINDOW_TAU_FACTOR = 5.0
#: Tolerance of the S^{αβ}(k→∞) = x_α δ_αβ check (mean of the last 10 grid points).
S_LARGE_K_TOLERANCE = 0.25


# --------------------------------------------------------------------------------------------
# names
# --------------------------------------------------------------------------------------------


def state_id(potential: str, rho: float, T: float) -> str:
    """The id of a state point, e.g. ``state_id("LJ", 1.2, 0.8) == "LJ-rho1.20-T0.800"``."""
    return f"{potential}-rho{rho:.2f}-T{T:.3f}"


def parse_state_id(sid: str) -> tuple[str, float, float]:
    """Inverse of `state_id`: ``"LJ-rho1.20-T0.800"`` -> ``("LJ", 1.2, 0.8)``."""
    try:
        potential, r, t = sid.split("-")
        if not (r.startswith("rho") and t.startswith("T")):
            raise ValueError
        return potential, float(r[3:]), float(t[1:])
    except ValueError:
        raise InputError(
            f"state id {sid!r}: expected '<potential>-rho<ρ>-T<T>', e.g. 'LJ-rho1.20-T0.800'"
        ) from None


def log_time_grid(t_min: float, t_max: float, n: int = N_T) -> np.ndarray:
    """``n`` log-spaced lag times from ``t_min`` to ``t_max``."""
    return np.geomspace(t_min, t_max, n)


def tau_alpha_from(t: np.ndarray, fs: np.ndarray, level: float = math.exp(-1.0)) -> float:
    """τ_α: the first time at which ``fs`` falls to ``level`` (1/e), interpolated linearly in
    log t; NaN if it never does."""
    t = np.asarray(t, float)
    fs = np.asarray(fs, float)
    below = np.nonzero(fs <= level)[0]
    if below.size == 0:
        return float("nan")
    i = int(below[0])
    if i == 0:
        return float(t[0])
    f0, f1 = fs[i - 1], fs[i]
    w = (f0 - level) / (f0 - f1) if f0 != f1 else 0.0
    return float(np.exp(np.log(t[i - 1]) + w * (np.log(t[i]) - np.log(t[i - 1]))))


# --------------------------------------------------------------------------------------------
# construction
# --------------------------------------------------------------------------------------------


def state_dataset(
    *,
    potential: str,
    rho: float,
    T: float,
    S: np.ndarray,
    time: np.ndarray,
    Fs: np.ndarray,
    Fs_k: np.ndarray,
    msd: np.ndarray,
    k_below_box: np.ndarray,
    tau_alpha: float | None = None,
    N: int,
    k_peak: float,
    dt: float,
    seed: int,
    engine: str,
    engine_version: str,
    steps: int,
    status: str = "equilibrated",
    cpu_seconds: float = float("nan"),
    energy_drift: float = float("nan"),
    attrs: dict[str, Any] | None = None,
    extra: dict[str, tuple[tuple[str, ...], Any]] | None = None,
) -> xr.Dataset:
    """A one-state dataset in the schema from plain arrays.

    Shapes: ``S`` (3, 100) for pairs AA, AB, BB; ``time`` (n_t,); ``Fs`` (2, n_t);
    ``Fs_k`` (2, 4, n_t); ``msd`` (2, n_t); ``k_below_box`` (100,). ``tau_alpha`` defaults to the
    1/e crossing of ``Fs[0]`` (`tau_alpha_from`). ``extra``: optional variables
    ``{name: (dims, values)}`` without the ``state`` dim (added here), e.g. ``(("pair", "t"), F)``.
    """
    time = np.asarray(time, float)
    Fs = np.asarray(Fs, float)
    if tau_alpha is None:
        tau_alpha = tau_alpha_from(time, Fs[0])
    per_state = {
        "potential": potential,
        "rho": float(rho),
        "T": float(T),
        "N": int(N),
        "k_peak": float(k_peak),
        "dt": float(dt),
        "seed": int(seed),
        "engine": str(engine),
        "engine_version": str(engine_version),
        "steps": int(steps),
        "status": str(status),
        "cpu_seconds": float(cpu_seconds),
        "energy_drift": float(energy_drift),
    }
    coords: dict[str, Any] = {
        "state": ("state", np.array([state_id(potential, rho, T)], dtype=object)),
        "pair": ("pair", np.array(PAIRS, dtype=object)),
        "species": ("species", np.array(SPECIES, dtype=object)),
        "k": ("k", K_GRID.copy()),
        "kq": ("kq", KQ.copy()),
    }
    for name, value in per_state.items():
        dtype = object if STATE_COORDS[name] == "str" else None
        coords[name] = ("state", np.array([value], dtype=dtype))
    ds = xr.Dataset(
        {
            "S": (DATA_VARS["S"], np.asarray(S, float)[None]),
            "k_below_box": (DATA_VARS["k_below_box"], np.asarray(k_below_box, bool)),
            "time": (DATA_VARS["time"], time[None]),
            "Fs": (DATA_VARS["Fs"], Fs[None]),
            "Fs_k": (DATA_VARS["Fs_k"], np.asarray(Fs_k, float)[None]),
            "msd": (DATA_VARS["msd"], np.asarray(msd, float)[None]),
            "tau_alpha": (DATA_VARS["tau_alpha"], np.array([tau_alpha], float)),
        },
        coords=coords,
        attrs=default_attrs() | (attrs or {}),
    )
    for name, (dims, values) in (extra or {}).items():
        if name in ds.variables:
            raise InputError(f"optional variable {name!r}: the schema already has a variable of that name")
        ds[name] = (("state", *dims), np.asarray(values)[None])
    return ds


def default_attrs() -> dict[str, str]:
    from memplug import __version__

    return {"schema": SCHEMA, "memplug_version": __version__}


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


def validate(ds: xr.Dataset, path: str | os.PathLike | None = None) -> xr.Dataset:
    """Check ``ds`` against the schema; return it unchanged or raise `InputError`.

    The message reads ``"<file>: <variable>: <problem>"``.
    """
    where = str(path) if path is not None else "<dataset>"

    def fail(var: str, problem: str) -> None:
        raise InputError(f"{where}: {var}: {problem}")

    schema = ds.attrs.get("schema")
    if schema != SCHEMA:
        fail("attrs.schema", f"expected {SCHEMA!r}, found {schema!r}")

    # dims and index coordinates
    for dim, size in (("pair", 3), ("species", 2), ("k", N_K), ("kq", len(KQ))):
        if dim not in ds.sizes:
            fail(dim, "missing dimension")
        if ds.sizes[dim] != size:
            fail(dim, f"expected {size} entries, found {ds.sizes[dim]}")
    for dim in ("state", "t"):
        if dim not in ds.sizes:
            fail(dim, "missing dimension")
    if ds.sizes["t"] < 2:
        fail("t", f"expected at least 2 lag times, found {ds.sizes['t']}")
    for name, expected in (("pair", PAIRS), ("species", SPECIES)):
        if name not in ds.coords or tuple(str(v) for v in ds[name].values) != expected:
            fail(name, f"expected coordinate {list(expected)}")
    for name, expected in (("k", K_GRID), ("kq", KQ)):
        if name not in ds.coords:
            fail(name, "missing coordinate")
        if not np.allclose(ds[name].values, expected, rtol=0, atol=1e-9):
            fail(name, f"wrong grid: expected {_describe_grid(name)}")
    if "state" not in ds.coords:
        fail("state", "missing coordinate (state ids)")
    ids = [str(s) for s in ds["state"].values]
    if len(set(ids)) != len(ids):
        dup = sorted({s for s in ids if ids.count(s) > 1})
        fail("state", f"duplicate state ids {dup[:5]}")

    # per-state coordinates
    for name, kind in STATE_COORDS.items():
        if name not in ds.variables:
            fail(name, "missing per-state coordinate")
        if ds[name].dims != ("state",):
            fail(name, f"expected dims ('state',), found {ds[name].dims}")
        values = ds[name].values
        if kind == "float" and name not in ("cpu_seconds", "energy_drift"):
            if not np.issubdtype(values.dtype, np.number) or not np.all(np.isfinite(values)):
                fail(name, "expected finite numbers")
        if kind == "int" and not np.issubdtype(values.dtype, np.integer):
            fail(name, f"expected integers, found dtype {values.dtype}")
    for name in ("rho", "T", "k_peak", "dt"):
        bad = ds[name].values <= 0
        if np.any(bad):
            fail(name, f"expected > 0, state {ids[int(np.argmax(bad))]}")
    for name, allowed in (("potential", POTENTIALS), ("status", STATUSES)):
        for sid, v in zip(ids, ds[name].values, strict=True):
            if str(v) not in allowed:
                fail(name, f"state {sid}: {v!r} is not one of {list(allowed)}")

    # data variables: presence, dims, finiteness
    for name, dims in DATA_VARS.items():
        if name not in ds.data_vars:
            fail(name, "missing variable")
        if ds[name].dims != dims:
            fail(name, f"wrong dims: expected {dims}, found {ds[name].dims}")
        if name in ("k_below_box", "tau_alpha"):
            continue
        values = ds[name].values
        if not np.issubdtype(values.dtype, np.floating):
            fail(name, f"expected floating-point values, found dtype {values.dtype}")
        bad = ~np.isfinite(values)
        if np.any(bad):
            i = np.unravel_index(int(np.argmax(bad)), values.shape)
            fail(name, f"NaN or infinite value at state {ids[i[0]]}, index {tuple(int(j) for j in i[1:])}")
    if ds["k_below_box"].dtype != bool:
        fail("k_below_box", f"expected booleans, found dtype {ds['k_below_box'].dtype}")
    for name in ds.data_vars:  # optional variables: one value per state
        if name not in DATA_VARS and ds[name].dims[:1] != ("state",):
            fail(name, f"optional variable: expected 'state' as first dim, found dims {ds[name].dims}")

    # time: positive, strictly increasing
    time = ds["time"].values
    for i, sid in enumerate(ids):
        if time[i, 0] < 0:
            fail("time", f"state {sid}: negative lag time {time[i, 0]}")
        if np.any(np.diff(time[i]) <= 0):
            j = int(np.argmax(np.diff(time[i]) <= 0))
            fail("time", f"state {sid}: not strictly increasing at index {j + 1}")

    # F_s(0) = 1 (allowing for the ballistic decay exp(-k² T t²/2m) before the first lag time)
    T = ds["T"].values
    kp = ds["k_peak"].values
    t0 = time[:, 0]
    fs0 = ds["Fs"].values[:, :, 0]
    expect = np.exp(-0.5 * (kp**2 * T * t0**2))[:, None]
    bad = np.abs(fs0 - expect) > FS0_TOLERANCE
    if np.any(bad):
        i, a = np.unravel_index(int(np.argmax(bad)), bad.shape)
        fail("Fs", f"state {ids[i]}, species {SPECIES[a]}: F_s(t→0) = {fs0[i, a]:.4f}, "
             f"expected 1 (within {FS0_TOLERANCE} after ballistic decay {expect[i, 0]:.4f})")
    fsk0 = ds["Fs_k"].values[:, :, :, 0]
    expect_k = np.exp(-0.5 * (KQ[None, :] ** 2 * T[:, None] * t0[:, None] ** 2))[:, None, :]
    bad = np.abs(fsk0 - expect_k) > FS0_TOLERANCE
    if np.any(bad):
        i, a, q = np.unravel_index(int(np.argmax(bad)), bad.shape)
        fail("Fs_k", f"state {ids[i]}, species {SPECIES[a]}, k = {KQ[q]}: F_s(t→0) = "
             f"{fsk0[i, a, q]:.4f}, expected 1 (within {FS0_TOLERANCE})")
    for name in ("Fs", "Fs_k"):
        v = ds[name].values
        if np.any(v > 1 + FS0_TOLERANCE) or np.any(v < -0.2):
            fail(name, "values outside [-0.2, 1]: not a normalised self correlator")
    if np.any(ds["msd"].values < 0):
        fail("msd", "negative mean-squared displacement")

    # S(k→∞) = x_α δ_αβ
    tail = ds["S"].values[:, :, -10:].mean(axis=-1)
    expect_s = np.array([X_SPECIES[0], 0.0, X_SPECIES[1]])
    bad = np.abs(tail - expect_s) > S_LARGE_K_TOLERANCE
    if np.any(bad):
        i, p = np.unravel_index(int(np.argmax(bad)), bad.shape)
        fail("S", f"state {ids[i]}, pair {PAIRS[p]}: S(k→∞) ≈ {tail[i, p]:.3f}, expected "
             f"{expect_s[p]} (normalisation N⁻¹⟨ρ_α ρ_β⟩)")

    # τ_α: positive for equilibrated states; NaN allowed for glass
    tau = ds["tau_alpha"].values
    status = [str(s) for s in ds["status"].values]
    for i, sid in enumerate(ids):
        if np.isnan(tau[i]):
            if status[i] != "glass":
                fail("tau_alpha", f"state {sid}: NaN, allowed only for status 'glass'")
        elif tau[i] <= 0:
            fail("tau_alpha", f"state {sid}: expected > 0, found {tau[i]}")
        elif status[i] == "equilibrated" and time[i, -1] < WINDOW_TAU_FACTOR * tau[i]:
            fail("time", f"state {sid}: the lag times end at {time[i, -1]:.4g} < "
                 f"{WINDOW_TAU_FACTOR:g} τ_α = {WINDOW_TAU_FACTOR * tau[i]:.4g}")
    return ds


def _describe_grid(name: str) -> str:
    if name == "k":
        return "0.4 * (arange(100) + 0.5), midpoints of 100 bins on (0, 40]"
    return f"{list(KQ)}"


# --------------------------------------------------------------------------------------------
# I/O
# --------------------------------------------------------------------------------------------


def save_dataset(ds: xr.Dataset, path: str | os.PathLike, *, check: bool = True) -> Path:
    """Validate (unless ``check=False``) and write ``ds`` to ``path`` atomically; return the path."""
    path = Path(path)
    if check:
        validate(ds, path)
    ds = _strings_as_objects(ds)
    encoding = {
        name: {"zlib": True, "complevel": 4}
        for name in ds.data_vars
        if np.issubdtype(ds[name].dtype, np.floating)
    }
    return atomic_write_netcdf(path, ds, encoding=encoding)


def _open(path: Path) -> xr.Dataset:
    try:
        with xr.open_dataset(path, engine="h5netcdf") as f:
            ds = f.load()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except Exception as exc:
        raise InputError(f"{path}: not a readable netCDF file ({type(exc).__name__}: {exc})") from None
    return _strings_as_objects(ds)


def _strings_as_objects(ds: xr.Dataset) -> xr.Dataset:
    """Store every string variable as Python ``str`` objects (netCDF variable-length strings).

    Fixed-width numpy strings (``<U3``) do not round-trip through every netCDF writer.
    """
    changed = {}
    for name, var in ds.variables.items():
        if var.dtype.kind in ("U", "S", "O"):
            values = np.array(
                [v.decode() if isinstance(v, bytes) else str(v) for v in var.values.ravel()],
                dtype=object,
            ).reshape(var.shape)
            changed[name] = (var.dims, values, var.attrs)
    if not changed:
        return ds
    out = ds.assign_coords({n: changed[n] for n in changed if n in ds.coords})
    out = out.assign({n: changed[n] for n in changed if n not in ds.coords})
    return out


def concat_states(datasets: Sequence[xr.Dataset], names: Sequence[str] | None = None) -> xr.Dataset:
    """Concatenate datasets along ``state`` and sort by (potential, ρ, T).

    ``names`` (e.g. file names) are used in error messages.
    """
    if not datasets:
        raise InputError("no states to concatenate")
    names = list(names) if names is not None else [f"<dataset {i}>" for i in range(len(datasets))]
    n_t = datasets[0].sizes.get("t")
    for ds, name in zip(datasets, names, strict=True):
        if ds.sizes.get("t") != n_t:
            raise InputError(
                f"{name}: t: {ds.sizes.get('t')} lag times, the other states have {n_t}"
            )
    first_box = datasets[0]["k_below_box"]
    for ds, name in zip(datasets[1:], names[1:], strict=False):
        if not np.array_equal(ds["k_below_box"].values, first_box.values):
            raise InputError(f"{name}: k_below_box: differs from {names[0]} (different box size)")
    out = xr.concat(
        list(datasets),
        dim="state",
        data_vars="minimal",
        coords="minimal",
        compat="override",
        join="exact",
        combine_attrs="override",
    )
    order = np.lexsort((out["T"].values, out["rho"].values, out["potential"].values.astype(str)))
    return _strings_as_objects(out.isel(state=order))


def _resolve(name_or_path: str | os.PathLike) -> Path:
    p = Path(name_or_path)
    if isinstance(name_or_path, str) and not p.exists() and os.sep not in name_or_path and not p.suffix:
        return dataset_path(name_or_path)
    return p


def dataset_path(name: str = "default") -> Path:
    """Where the registered dataset ``name`` lives (a file, or a directory of per-state files)."""
    from memplug.registry import get_registry

    entry = get_registry().get("datasets", name)
    obj = entry() if isinstance(entry, type) else entry
    return Path(obj.path())


def state_files(directory: str | os.PathLike) -> list[Path]:
    """The per-state ``*.nc`` files of a directory, sorted by name (temp files excluded)."""
    return sorted(p for p in Path(directory).glob("*.nc") if not p.name.startswith("."))


def _consolidated_cache(files: Sequence[Path]) -> Path | None:
    """Where the concatenation of these per-state files is cached, keyed by their content.

    Opening ~100 small netCDF/HDF5 files costs ~0.1-0.3 s each (per-variable HDF5 overhead); one
    consolidated file opens in well under a second. The key is a SHA-256 of every file's name and
    bytes (and the schema), so any change to any state file — a new state, a rewrite, a corruption —
    misses the cache and the files are read and validated one by one again. ``MEMPLUG_DATASET_CACHE``
    names the cache directory (``0`` or ``off`` disables it); default ``$XDG_CACHE_HOME/memplug/datasets``.
    """
    import hashlib

    where = os.environ.get("MEMPLUG_DATASET_CACHE", "")
    if where.lower() in ("0", "off", "no", "false"):
        return None
    if not where:
        where = str(user_cache_dir("datasets"))
    h = hashlib.sha256(SCHEMA.encode())
    try:
        for f in files:
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    except OSError:
        return None
    return Path(where) / f"{h.hexdigest()[:40]}.nc"


#: Consolidated files kept in the cache directory (the most recently written; a growing dataset
#: writes a new one per state added).
CACHE_KEEP = 4


def _prune_cache(directory: Path) -> None:
    files = sorted(directory.glob("*.nc"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[CACHE_KEEP:]:
        old.unlink(missing_ok=True)


def _open_cached(cache: Path) -> xr.Dataset | None:
    if not cache.is_file():
        return None
    try:
        return _open(cache)
    except InputError:
        return None


#: What the time and dynamics variables are, set on every loaded dataset (the files predate it).
VARIABLE_ATTRS: dict[str, dict[str, str]] = {
    "time": {
        "long_name": "lag time",
        "units": "tau_LJ = (m sigma_AA^2 / epsilon_AA)^(1/2); the paper's tau_MD = tau_LJ / sqrt(48)",
    },
    "Fs": {
        "long_name": "self intermediate scattering function F_s^aa(k_peak, t)",
        "normalisation": "unit: F_s(k_peak, 0) = 1 (the self part alone); paper Eq. 1 multiplies it by "
        "S^aa(k_peak) (memplug run --normalisation paper)",
    },
    "Fs_k": {"long_name": "F_s^aa(k, t) at the wave numbers kq", "normalisation": "unit: F_s(k, 0) = 1"},
    "msd": {"long_name": "mean squared displacement", "units": "sigma_AA^2"},
}


def label_variables(ds: xr.Dataset) -> xr.Dataset:
    """Set `VARIABLE_ATTRS` on the variables of a dataset (in place; returned)."""
    for name, attrs in VARIABLE_ATTRS.items():
        if name in ds:
            ds[name].attrs.update(attrs)
    return ds


def load_dataset(
    name_or_path: str | os.PathLike = "default", *, check: bool = True, states: Sequence[str] | None = None
) -> xr.Dataset:
    """Load and validate a dataset.

    ``name_or_path`` is a registered dataset name (``"default"`` is the embedded one), a netCDF
    file, or a directory of per-state netCDF files (concatenated along ``state``). The variables
    carry their meaning and units (`VARIABLE_ATTRS`): ``Fs`` has F_s(0) = 1.

    ``states``: only these state ids are needed. From a directory whose files are named
    ``<state>.nc`` (the campaign's layout) only those files are read (a few files instead of
    hundreds); otherwise the whole dataset is loaded and these states selected. Unknown ids raise
    an InputError.
    """
    if states is not None:
        states = list(dict.fromkeys(map(str, states)))
        path = _resolve(name_or_path)
        files = per_state_files(name_or_path, states)
        if files:
            ds = _concat_files(files, check)
            if set(map(str, ds["state"].values)) == set(states):  # each file holds its state
                if check:
                    validate(ds, path)
                ds.attrs["source"] = str(path)
                return label_variables(ds.sel(state=states))
        ds = _load_dataset(name_or_path, check=check)
        missing = [s for s in states if s not in set(map(str, ds["state"].values))]
        if missing:
            raise InputError(f"{path}: no state {', '.join(missing)} in this dataset")
        return label_variables(ds.sel(state=states))
    return label_variables(_load_dataset(name_or_path, check=check))


def per_state_files(name_or_path: str | os.PathLike, states: Sequence[str]) -> list[Path] | None:
    """The files ``<state>.nc`` of these states if the dataset is a directory holding them all
    (then ``load_dataset(..., states=states)`` reads only those), else None."""
    path = _resolve(name_or_path)
    if not path.is_dir() or not states:
        return None
    files = [path / f"{s}.nc" for s in states]
    return files if all(f.is_file() for f in files) else None


def _concat_files(files: Sequence[Path], check: bool) -> xr.Dataset:
    parts = []
    for f in files:
        part = _open(f)
        if check:
            validate(part, f)
        parts.append(part)
    ds = concat_states(parts, [str(f) for f in files])
    ds.attrs = dict(parts[0].attrs)
    return ds


def _load_dataset(name_or_path: str | os.PathLike, *, check: bool) -> xr.Dataset:
    path = _resolve(name_or_path)
    if path.is_dir():
        files = state_files(path)
        if not files:
            raise InputError(f"{path}: no *.nc state files in this directory")
        cache = _consolidated_cache(files)
        ds = _open_cached(cache) if cache is not None else None
        if ds is None:
            ds = _concat_files(files, check)
            ds.attrs["source"] = str(path)
            try:
                validate(ds, path)  # once: for the caller (check) and so that only valid data is cached
            except InputError:
                if check:
                    raise
                return ds
            if cache is not None:
                try:
                    save_dataset(ds, cache, check=False)
                    _prune_cache(cache.parent)
                except OSError:
                    pass  # an unwritable cache only costs speed
            return ds
        ds.attrs["source"] = str(path)
    else:
        if not path.exists():
            raise InputError(f"{path}: file not found (nor a registered dataset name)")
        ds = _open(path)
    if check:
        validate(ds, path)
    return ds


# --------------------------------------------------------------------------------------------
# selection and statics
# --------------------------------------------------------------------------------------------


def _match(values: np.ndarray, want: Any, numeric: bool) -> np.ndarray:
    if want is None:
        return np.ones(values.shape, bool)
    if isinstance(want, slice):
        lo = -np.inf if want.start is None else want.start
        hi = np.inf if want.stop is None else want.stop
        return (values >= lo - 1e-9) & (values <= hi + 1e-9)
    wants = list(want) if isinstance(want, Iterable) and not isinstance(want, str) else [want]
    if numeric:
        return np.any([np.isclose(values.astype(float), float(w), rtol=0, atol=1e-6) for w in wants], axis=0)
    return np.isin(values.astype(str), [str(w) for w in wants])


def select_states(
    ds: xr.Dataset,
    *,
    potential: str | Sequence[str] | None = None,
    rho: float | Sequence[float] | slice | None = None,
    T: float | Sequence[float] | slice | None = None,
    status: str | Sequence[str] | None = None,
    state: str | Sequence[str] | None = None,
) -> xr.Dataset:
    """The states matching every given criterion.

    Each criterion is a value, a list of values, or (numbers) a ``slice(lo, hi)`` inclusive range;
    numbers match within 1e-6. Raises `InputError` when nothing matches.
    """
    mask = np.ones(ds.sizes["state"], bool)
    mask &= _match(ds["potential"].values, potential, False)
    mask &= _match(ds["rho"].values, rho, True)
    mask &= _match(ds["T"].values, T, True)
    mask &= _match(ds["status"].values, status, False)
    mask &= _match(ds["state"].values, state, False)
    if not mask.any():
        crit = {k: v for k, v in dict(potential=potential, rho=rho, T=T, status=status, state=state).items() if v is not None}
        raise InputError(
            f"no state matches {crit}; the dataset has {ds.sizes['state']} states "
            f"(potentials {sorted(set(map(str, ds['potential'].values)))}, "
            f"rho {sorted(set(np.round(ds['rho'].values, 3).tolist()))})"
        )
    return ds.isel(state=np.nonzero(mask)[0])


def _one_state(ds: xr.Dataset, state: str | int) -> xr.Dataset:
    if isinstance(state, (int, np.integer)):
        if not 0 <= state < ds.sizes["state"]:
            raise InputError(f"state index {state} out of range (0..{ds.sizes['state'] - 1})")
        return ds.isel(state=int(state))
    ids = [str(s) for s in ds["state"].values]
    if state not in ids:
        near = ", ".join(ids[:8]) + (" ..." if len(ids) > 8 else "")
        raise InputError(f"state {state!r} is not in the dataset; states: {near}")
    return ds.isel(state=ids.index(state))


def structure_factor_matrix(S_pairs: np.ndarray) -> np.ndarray:
    """(…, 3, n_k) pairs AA, AB, BB -> (…, n_k, 2, 2) symmetric matrices."""
    S_pairs = np.asarray(S_pairs, float)
    aa, ab, bb = S_pairs[..., 0, :], S_pairs[..., 1, :], S_pairs[..., 2, :]
    row0 = np.stack([aa, ab], axis=-1)
    row1 = np.stack([ab, bb], axis=-1)
    return np.stack([row0, row1], axis=-2)


def context_for(ds: xr.Dataset, state: str | int, *, dynamics: str | None = None):
    """The statics of one state as a `memplug.interfaces.Context`.

    ``dynamics``: ``newtonian`` or ``overdamped`` (default: `memplug.interfaces.DEFAULT_DYNAMICS`).

    k: the 100-point grid; S: (100, 2, 2); x = [0.8, 0.2]; masses = 1; Ω² = diag(k_peak² T)
    (the self part of paper Eq. 5). ``extra`` carries ``state``, ``potential``, ``N``,
    ``status``, ``tau_alpha`` and ``k_below_box`` (the grid points below 2π/L, see the schema).
    """
    from memplug.interfaces import DEFAULT_DYNAMICS, Context

    one = _one_state(ds, state)
    T = float(one["T"])
    kp = float(one["k_peak"])
    return Context(
        n_species=2,
        k=K_GRID.copy(),
        S=structure_factor_matrix(one["S"].values),
        rho=float(one["rho"]),
        x=X_SPECIES.copy(),
        T=T,
        k_peak=kp,
        omega2=np.diag([kp**2 * T, kp**2 * T]),
        masses=np.ones(2),
        dynamics=DEFAULT_DYNAMICS if dynamics is None else dynamics,
        species=SPECIES,
        extra={
            "state": str(one["state"].values),
            "potential": str(one["potential"].values),
            "N": int(one["N"]),
            "status": str(one["status"].values),
            "tau_alpha": float(one["tau_alpha"]),
            "k_below_box": np.asarray(ds["k_below_box"].values, bool).copy(),
        },
    )


def dynamics_for(ds: xr.Dataset, state: str | int) -> tuple[np.ndarray, np.ndarray]:
    """The target dynamics of one state: lag times (n_t,) and F_s^{αα}(k_peak, t) as (n_t, 2)."""
    one = _one_state(ds, state)
    return one["time"].values.copy(), one["Fs"].values.T.copy()


__all__ = [
    "DATA_VARS",
    "KQ",
    "K_GRID",
    "PAIRS",
    "SCHEMA",
    "SPECIES",
    "STATE_COORDS",
    "X_SPECIES",
    "concat_states",
    "context_for",
    "dataset_path",
    "dynamics_for",
    "load_dataset",
    "log_time_grid",
    "parse_state_id",
    "save_dataset",
    "select_states",
    "state_dataset",
    "state_files",
    "state_id",
    "structure_factor_matrix",
    "synthetic_state",
    "tau_alpha_from",
    "validate",
]


def synthetic_state(
    potential: str = "LJ", rho: float = 1.2, T: float = 1.0, *, n_t: int = N_T, seed: int = 0
) -> xr.Dataset:
    """A one-state dataset with *made-up* smooth curves, for tests of code that consumes datasets.

    Not physics: S(k) is a damped oscillation around x_α δ_αβ with a peak near 7.25 ρ^{1/3}/1.2^{1/3},
    F_s a stretched exponential with τ_α = exp(1/T), msd ballistic then diffusive. ``engine`` is
    ``"synthetic"`` so such a state can never be mistaken for simulation data.
    """
    rng = np.random.default_rng(seed)
    k = K_GRID
    kp = 7.25 * (rho / 1.2) ** (1 / 3)
    osc = np.exp(-((k - kp) ** 2) / 4.0) * 2.0 + 0.3 * np.sin(k / kp * 2 * np.pi) * np.exp(-k / 15)
    S = np.stack([0.8 * (1 + osc), 0.1 * osc, 0.2 * (1 + 0.3 * osc)]) + rng.normal(0, 1e-3, (3, N_K))
    tau = float(np.exp(1.0 / T))
    time = log_time_grid(0.005, 20 * tau, n_t)
    ball = np.exp(-0.5 * kp**2 * T * time**2)
    Fs = np.stack([np.maximum(ball, np.exp(-((time / tau) ** 0.8))), np.maximum(ball, np.exp(-((time / (0.7 * tau)) ** 0.8)))])
    kq_scale = (KQ / kp) ** 2
    Fs_k = np.stack([Fs**s for s in kq_scale], axis=1)
    Fs_k[:, :, 0] = np.exp(-0.5 * KQ[None, :] ** 2 * T * time[0] ** 2)
    msd = np.stack([3 * T * time**2 / (1 + time / 0.1) + 6 * time / tau * 0.1] * 2)
    return state_dataset(
        potential=potential, rho=rho, T=T, S=S, time=time, Fs=Fs, Fs_k=Fs_k, msd=msd,
        k_below_box=k < 2 * np.pi / 10.0, N=int(round(rho * 1000)), k_peak=kp, dt=0.005,
        seed=seed, engine="synthetic", engine_version="0", steps=0,
        attrs={"note": "synthetic test data, not a simulation"},
    )
