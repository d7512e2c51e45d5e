"""Schema ``memplug-dataset/1``: the Kob-Andersen mixtures' statics and dynamics per state.

The schema of the default dataset (and of every state the MD plugin simulates), registered as the
`KobAndersenSchema` through the ``register_schemas`` hook; `memplug.data` loads, saves, caches,
concatenates and selects datasets of any registered schema and hands validation, statics
(`memplug.data.context_for`) and target dynamics (`memplug.data.dynamics_for`) to the schema named
by ``ds.attrs["schema"]``. This module also holds the helpers that build states in this schema
(`state_dataset`, `synthetic_state`, `state_id`, `log_time_grid`, `tau_alpha_from`, ...).

Lennard-Jones reduced units, σ_AA = ε_AA = m = k_B = 1:

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
from typing import Any

import numpy as np
import xarray as xr

from memplug.constants import K_GRID, KQ, N_K, PAIRS, SPECIES
from memplug.data import one_state
from memplug.errors import InputError
from memplug.interfaces import Context, DatasetSchema

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
            raise InputError(
                f"optional variable {name!r}: the schema already has a variable of that name"
            )
        ds[name] = (("state", *dims), np.asarray(values)[None])
    return ds


def default_attrs() -> dict[str, str]:
    """The attributes every dataset of this schema starts with: ``schema`` and ``memplug_version``."""
    from memplug import __version__

    return {"schema": SCHEMA, "memplug_version": __version__}


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
    S = np.stack([0.8 * (1 + osc), 0.1 * osc, 0.2 * (1 + 0.3 * osc)]) + rng.normal(
        0, 1e-3, (3, N_K)
    )
    tau = float(np.exp(1.0 / T))
    time = log_time_grid(0.005, 20 * tau, n_t)
    ball = np.exp(-0.5 * kp**2 * T * time**2)
    Fs = np.stack(
        [
            np.maximum(ball, np.exp(-((time / tau) ** 0.8))),
            np.maximum(ball, np.exp(-((time / (0.7 * tau)) ** 0.8))),
        ]
    )
    kq_scale = (KQ / kp) ** 2
    Fs_k = np.stack([Fs**s for s in kq_scale], axis=1)
    Fs_k[:, :, 0] = np.exp(-0.5 * KQ[None, :] ** 2 * T * time[0] ** 2)
    msd = np.stack([3 * T * time**2 / (1 + time / 0.1) + 6 * time / tau * 0.1] * 2)
    return state_dataset(
        potential=potential,
        rho=rho,
        T=T,
        S=S,
        time=time,
        Fs=Fs,
        Fs_k=Fs_k,
        msd=msd,
        k_below_box=k < 2 * np.pi / 10.0,
        N=int(round(rho * 1000)),
        k_peak=kp,
        dt=0.005,
        seed=seed,
        engine="synthetic",
        engine_version="0",
        steps=0,
        attrs={"note": "synthetic test data, not a simulation"},
    )


# --------------------------------------------------------------------------------------------
# the schema
# --------------------------------------------------------------------------------------------


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
    "Fs_k": {
        "long_name": "F_s^aa(k, t) at the wave numbers kq",
        "normalisation": "unit: F_s(k, 0) = 1",
    },
    "msd": {"long_name": "mean squared displacement", "units": "sigma_AA^2"},
}


def structure_factor_matrix(S_pairs: np.ndarray) -> np.ndarray:
    """(…, 3, n_k) pairs AA, AB, BB -> (…, n_k, 2, 2) symmetric matrices."""
    S_pairs = np.asarray(S_pairs, float)
    aa, ab, bb = S_pairs[..., 0, :], S_pairs[..., 1, :], S_pairs[..., 2, :]
    row0 = np.stack([aa, ab], axis=-1)
    row1 = np.stack([ab, bb], axis=-1)
    return np.stack([row0, row1], axis=-2)


class KobAndersenSchema(DatasetSchema):
    """``memplug-dataset/1``: validation, statics and target dynamics of the Kob-Andersen states."""

    name = SCHEMA
    description = "Kob-Andersen 80:20 mixtures (LJ, WCA): S(k), F_s(k_peak, t), F_s(kq, t), MSD, tau_alpha per state"

    def validate(self, ds: xr.Dataset, where: str) -> xr.Dataset:
        """Check ``ds`` against the schema; return it unchanged or raise `InputError`.

        The message reads ``"<where>: <variable>: <problem>"``.
        """

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
                fail(
                    name,
                    f"NaN or infinite value at state {ids[i[0]]}, index {tuple(int(j) for j in i[1:])}",
                )
        if ds["k_below_box"].dtype != bool:
            fail("k_below_box", f"expected booleans, found dtype {ds['k_below_box'].dtype}")
        for name in ds.data_vars:  # optional variables: one value per state
            if name not in DATA_VARS and ds[name].dims[:1] != ("state",):
                fail(
                    name,
                    f"optional variable: expected 'state' as first dim, found dims {ds[name].dims}",
                )

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
            fail(
                "Fs",
                f"state {ids[i]}, species {SPECIES[a]}: F_s(t→0) = {fs0[i, a]:.4f}, "
                f"expected 1 (within {FS0_TOLERANCE} after ballistic decay {expect[i, 0]:.4f})",
            )
        fsk0 = ds["Fs_k"].values[:, :, :, 0]
        expect_k = np.exp(-0.5 * (KQ[None, :] ** 2 * T[:, None] * t0[:, None] ** 2))[:, None, :]
        bad = np.abs(fsk0 - expect_k) > FS0_TOLERANCE
        if np.any(bad):
            i, a, q = np.unravel_index(int(np.argmax(bad)), bad.shape)
            fail(
                "Fs_k",
                f"state {ids[i]}, species {SPECIES[a]}, k = {KQ[q]}: F_s(t→0) = "
                f"{fsk0[i, a, q]:.4f}, expected 1 (within {FS0_TOLERANCE})",
            )
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
            fail(
                "S",
                f"state {ids[i]}, pair {PAIRS[p]}: S(k→∞) ≈ {tail[i, p]:.3f}, expected "
                f"{expect_s[p]} (normalisation N⁻¹⟨ρ_α ρ_β⟩)",
            )

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
                fail(
                    "time",
                    f"state {sid}: the lag times end at {time[i, -1]:.4g} < "
                    f"{WINDOW_TAU_FACTOR:g} τ_α = {WINDOW_TAU_FACTOR * tau[i]:.4g}",
                )
        return ds

    def context_for(self, ds: xr.Dataset, state: str | int, dynamics: str) -> Context:
        """The statics of one state as a `memplug.interfaces.Context`.

        k: the 100-point grid; S: (100, 2, 2); x = [0.8, 0.2]; masses = 1; Ω² = diag(k_peak² T)
        (the self part of paper Eq. 5). ``extra`` carries ``state``, ``potential``, ``N``,
        ``status``, ``tau_alpha`` and ``k_below_box`` (the grid points below 2π/L, see the schema).
        """
        one = one_state(ds, state)
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
            dynamics=dynamics,
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

    def dynamics_for(self, ds: xr.Dataset, state: str | int) -> tuple[np.ndarray, np.ndarray]:
        """The target dynamics of one state: lag times (n_t,) and F_s^{αα}(k_peak, t) as (n_t, 2)."""
        one = one_state(ds, state)
        return one["time"].values.copy(), one["Fs"].values.T.copy()

    def variable_attrs(self, ds: xr.Dataset) -> xr.Dataset:
        """Set `VARIABLE_ATTRS` on the variables of a dataset (in place; returned)."""
        for name, attrs in VARIABLE_ATTRS.items():
            if name in ds:
                ds[name].attrs.update(attrs)
        return ds


def _describe_grid(name: str) -> str:
    if name == "k":
        return "0.4 * (arange(100) + 0.5), midpoints of 100 bins on (0, 40]"
    return f"{list(KQ)}"


__all__ = [
    "DATA_VARS",
    "FS0_TOLERANCE",
    "N_T",
    "POTENTIALS",
    "SCHEMA",
    "STATE_COORDS",
    "STATUSES",
    "S_LARGE_K_TOLERANCE",
    "VARIABLE_ATTRS",
    "WINDOW_TAU_FACTOR",
    "X_SPECIES",
    "KobAndersenSchema",
    "default_attrs",
    "log_time_grid",
    "parse_state_id",
    "state_dataset",
    "state_id",
    "structure_factor_matrix",
    "synthetic_state",
    "tau_alpha_from",
]
