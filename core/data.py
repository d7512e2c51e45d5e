"""The dataset protocol: load, save, cache, concatenate and select datasets of simulated states.

A dataset is an `xarray.Dataset` holding many *states* along the dimension ``state`` (e.g. one
per potential, ρ and T), saved as netCDF (engine ``h5netcdf``) and always written atomically (temp
file in the same directory + `os.replace`). A dataset may also be a directory of per-state files,
concatenated along ``state`` on loading (the shipped default dataset is stored that way) and
cached as one consolidated file.

What the variables mean is the business of the *schema* named by ``ds.attrs["schema"]``: a
`memplug.interfaces.DatasetSchema` registered by a plugin (hook ``register_schemas``). `validate`,
`context_for`, `dynamics_for` and `label_variables` dispatch to it; a dataset whose schema is
missing or not registered is an `InputError` naming the file, ``attrs.schema`` and the registered
schemas. The default dataset's schema, ``memplug-dataset/1``, is registered by a plugin like any
other; ``memplug plugins --kind schema`` lists the registered ones.

The per-state conventions this module relies on: per-state coordinates ``potential``, ``rho``,
``T`` and ``status`` (selection and the sort order of concatenated states), a lag-time dimension
``t`` of equal length and a ``k_below_box`` variable equal in every concatenated state.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from memplug.errors import InputError
from memplug.io import atomic_write_netcdf, user_cache_dir

if TYPE_CHECKING:
    from memplug.interfaces import Context, DatasetSchema

#: Salt of the consolidated-cache key (the tag of the first schema; fixed, so that existing cache
#: files stay valid).
_CACHE_SALT = b"memplug-dataset/1"


# --------------------------------------------------------------------------------------------
# schemas
# --------------------------------------------------------------------------------------------


def _where(ds: xr.Dataset, path: str | os.PathLike | None) -> str:
    if path is not None:
        return str(path)
    return str(ds.attrs.get("source", "<dataset>"))


def schema_of(ds: xr.Dataset, path: str | os.PathLike | None = None) -> DatasetSchema:
    """The registered `memplug.interfaces.DatasetSchema` named by ``ds.attrs["schema"]``.

    A missing or unregistered schema raises `InputError` reading ``"<file>: attrs.schema: ..."``
    with the registered schema names.
    """
    from memplug.registry import get_registry

    registry = get_registry()
    name = ds.attrs.get("schema")
    if not isinstance(name, str) or name not in registry.names("schemas"):
        found = "missing" if name is None else f"unknown schema {name!r}"
        known = ", ".join(repr(n) for n in registry.names("schemas")) or "(none installed)"
        raise InputError(f"{_where(ds, path)}: attrs.schema: {found}; registered schemas: {known}")
    entry = registry.get("schemas", name)
    return entry() if isinstance(entry, type) else entry


def validate(ds: xr.Dataset, path: str | os.PathLike | None = None) -> xr.Dataset:
    """Check ``ds`` against its schema (`schema_of`); return it unchanged or raise `InputError`.

    The message reads ``"<file>: <variable>: <problem>"``.
    """
    where = str(path) if path is not None else "<dataset>"
    return schema_of(ds, where).validate(ds, where)


def context_for(ds: xr.Dataset, state: str | int, *, dynamics: str | None = None) -> Context:
    """The statics of one state (an id or an index) as a `memplug.interfaces.Context`, built by
    the dataset's schema.

    ``dynamics``: ``newtonian`` or ``overdamped`` (default: `memplug.interfaces.DEFAULT_DYNAMICS`).
    """
    from memplug.interfaces import DEFAULT_DYNAMICS

    schema = schema_of(ds)
    return schema.context_for(ds, state, DEFAULT_DYNAMICS if dynamics is None else dynamics)


def dynamics_for(ds: xr.Dataset, state: str | int) -> tuple[np.ndarray, np.ndarray]:
    """The target dynamics of one state, from the dataset's schema: lag times ``(n_t,)`` and the
    correlators ``(n_t, s)`` (for ``memplug-dataset/1``: F_s^{αα}(k_peak, t))."""
    return schema_of(ds).dynamics_for(ds, state)


def label_variables(ds: xr.Dataset) -> xr.Dataset:
    """Set the schema's labels and units on the variables of a dataset (in place; returned).
    A dataset of an unregistered schema (loaded with ``check=False``) is returned as it is."""
    try:
        schema = schema_of(ds)
    except InputError:
        return ds
    return schema.variable_attrs(ds)


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
        raise InputError(
            f"{path}: not a readable netCDF file ({type(exc).__name__}: {exc})"
        ) from None
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
    if (
        isinstance(name_or_path, str)
        and not p.exists()
        and os.sep not in name_or_path
        and not p.suffix
    ):
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
    bytes (and a fixed salt), so any change to any state file — a new state, a rewrite, a corruption —
    misses the cache and the files are read and validated one by one again. ``MEMPLUG_DATASET_CACHE``
    names the cache directory (``0`` or ``off`` disables it); default ``$XDG_CACHE_HOME/memplug/datasets``.
    """
    import hashlib

    where = os.environ.get("MEMPLUG_DATASET_CACHE", "")
    if where.lower() in ("0", "off", "no", "false"):
        return None
    if not where:
        where = str(user_cache_dir("datasets"))
    h = hashlib.sha256(_CACHE_SALT)
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


def load_dataset(
    name_or_path: str | os.PathLike = "default",
    *,
    check: bool = True,
    states: Sequence[str] | None = None,
) -> xr.Dataset:
    """Load and validate a dataset.

    ``name_or_path`` is a registered dataset name (``"default"`` is the embedded one), a netCDF
    file, or a directory of per-state netCDF files (concatenated along ``state``), validated by
    its schema; the variables carry the schema's labels and units (`label_variables`).

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
                validate(
                    ds, path
                )  # once: for the caller (check) and so that only valid data is cached
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
        return np.any(
            [np.isclose(values.astype(float), float(w), rtol=0, atol=1e-6) for w in wants], axis=0
        )
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
        crit = {
            k: v
            for k, v in dict(potential=potential, rho=rho, T=T, status=status, state=state).items()
            if v is not None
        }
        raise InputError(
            f"no state matches {crit}; the dataset has {ds.sizes['state']} states "
            f"(potentials {sorted(set(map(str, ds['potential'].values)))}, "
            f"rho {sorted(set(np.round(ds['rho'].values, 3).tolist()))})"
        )
    return ds.isel(state=np.nonzero(mask)[0])


def one_state(ds: xr.Dataset, state: str | int) -> xr.Dataset:
    """The one state ``state`` (an id, or an index along ``state``) of ``ds``, without the
    ``state`` dimension; an unknown id or an index out of range raises `InputError`."""
    if isinstance(state, (int, np.integer)):
        if not 0 <= state < ds.sizes["state"]:
            raise InputError(f"state index {state} out of range (0..{ds.sizes['state'] - 1})")
        return ds.isel(state=int(state))
    ids = [str(s) for s in ds["state"].values]
    if state not in ids:
        near = ", ".join(ids[:8]) + (" ..." if len(ids) > 8 else "")
        raise InputError(f"state {state!r} is not in the dataset; states: {near}")
    return ds.isel(state=ids.index(state))


__all__ = [
    "concat_states",
    "context_for",
    "dataset_path",
    "dynamics_for",
    "label_variables",
    "load_dataset",
    "one_state",
    "per_state_files",
    "save_dataset",
    "schema_of",
    "select_states",
    "state_files",
    "validate",
]
