"""Inputs of the statics → dynamics MLP (paper sec. II A, IV B).

One *state* contributes 303 static features, the same for all its times:

    S^{AA}(k_1..k_100), S^{AB}(k_1..k_100), S^{BB}(k_1..k_100), T, ρ, potential label

and one row per lag time t_i adds ``log10 t_i`` → 304 inputs. The potential label is 0 for LJ and
1 for WCA. The outputs are (F_s^{AA}(k_p, t_i), F_s^{BB}(k_p, t_i)).

`Standardizer` holds the per-feature mean and standard deviation; it is fitted on the
training states only (`Standardizer.fit`) and stored with the model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from memplug.constants import K_GRID, N_K, PAIRS, SPECIES
from memplug.constants import t_mct as _t_mct
from memplug.errors import InputError

N_STATIC = 3 * N_K + 3
N_INPUTS = N_STATIC + 1
POTENTIALS = {"LJ": 0.0, "WCA": 1.0}


def t_mct(potential: str, rho: float) -> float:
    """T_mct from Table I; linear interpolation in ρ between the tabulated densities, NaN outside
    (the MLP's T/T_mct feature: `memplug.constants.t_mct` with ``interpolation="linear"``)."""
    return _t_mct(potential, rho, source="paper", interpolation="linear")


@dataclass(frozen=True)
class Statics:
    """Static input of one state.

    Attributes:
        S: partial structure factors on `K_GRID`, shape ``(3, 100)`` in the order AA, AB, BB.
        T: temperature (reduced units).
        rho: number density.
        potential: ``"LJ"`` or ``"WCA"``.
        name: a label for messages and outputs.
        k_peak: position of the main peak of S^{AA}, where F_s is measured; ``None``: computed from
            ``S`` like the dataset does (`peak_of`).
    """

    S: np.ndarray
    T: float
    rho: float
    potential: str
    name: str = "state"
    k_peak: float | None = None

    def peak(self) -> float:
        """k_p: the given ``k_peak`` or the main peak of S^{AA} on the grid (`peak_of`)."""
        return float(self.k_peak) if self.k_peak is not None else peak_of(self.S[0])

    def features(self) -> np.ndarray:
        """The 303 static features (unstandardised), float64."""
        return np.concatenate(
            [np.asarray(self.S, float).reshape(-1), [self.T, self.rho, POTENTIALS[self.potential]]]
        )


def peak_of(S_AA: np.ndarray) -> float:
    """k_p of a state from S^{AA} on `K_GRID`: the maximum in 2 ≤ k ≤ 15 refined by a parabola,
    the same function the simulation uses for the dataset's ``k_peak`` (identical on the default
    dataset's states)."""
    from memplug.plugins.md.observables import k_peak

    return k_peak(K_GRID, np.asarray(S_AA, float))


def ballistic_u(k_peak: np.ndarray, T: np.ndarray, time: np.ndarray) -> np.ndarray:
    """u = k_p² T t² / (2 m), m = 1, per state and time: the free-particle (ballistic) limit of
    paper Eq. 1 is F_s = exp(−u). ``k_peak``, ``T``: ``(n,)``; ``time``: ``(n, n_t)``."""
    k_peak, T = np.asarray(k_peak, float), np.asarray(T, float)
    return 0.5 * (k_peak**2 * T)[:, None] * np.asarray(time, float) ** 2


def check_statics(
    source: str,
    k: np.ndarray | None,
    S: np.ndarray,
    T: float | None,
    rho: float | None,
    potential: str | None,
) -> None:
    """Raise `InputError` naming ``source`` and the field if the statics are unusable."""
    if k is not None:
        k = np.asarray(k, float)
        if k.shape != (N_K,) or not np.allclose(k, K_GRID, rtol=1e-6, atol=1e-6):
            got = f"{k.size} points from {k.min():.4g} to {k.max():.4g}" if k.size else "no points"
            raise InputError(
                f"{source}: k: expected the 100-point grid 0.4*(i+0.5), i=0..99 (0.2 ... 39.8), got {got}"
            )
    S = np.asarray(S, float)
    if S.shape != (3, N_K):
        raise InputError(
            f"{source}: S: expected 3 partial structure factors (AA, AB, BB) × 100 k values, got shape {S.shape}"
        )
    bad = ~np.isfinite(S)
    if bad.any():
        p, i = np.argwhere(bad)[0]
        raise InputError(
            f"{source}: S: non-finite value (NaN/inf) in S^{PAIRS[p]} at k = {K_GRID[i]:.3g}"
        )
    for name, v in (("T", T), ("rho", rho)):
        if v is None:
            raise InputError(f"{source}: {name}: missing; expected a positive number")
        if not np.isfinite(v) or v <= 0:
            raise InputError(f"{source}: {name}: expected a positive finite number, got {v}")
    if potential not in POTENTIALS:
        raise InputError(
            f"{source}: potential: expected one of {', '.join(POTENTIALS)}, got {potential!r}"
        )


# ------------------------------------------------------------------------------------------------
# dataset → arrays
# ------------------------------------------------------------------------------------------------


@dataclass
class StateTable:
    """The states of a dataset as plain arrays (what training and evaluation use).

    Attributes:
        ids: state ids, shape ``(n,)``.
        static: unstandardised static features, ``(n, 303)``.
        time: lag times, ``(n, n_t)``.
        Fs: targets F_s^{AA}, F_s^{BB}, ``(n, n_t, 2)`` (NaN where missing).
        T, rho: ``(n,)``; potential: ``(n,)`` strings; tmct: T_mct from Table I, ``(n,)``.
        k_peak: k_p of each state, ``(n,)`` (the dataset's ``k_peak``, else computed from S^{AA}).
    """

    ids: np.ndarray
    static: np.ndarray
    time: np.ndarray
    Fs: np.ndarray
    T: np.ndarray
    rho: np.ndarray
    potential: np.ndarray
    tmct: np.ndarray
    k_peak: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, idx) -> StateTable:
        idx = np.asarray(idx, dtype=int)
        return StateTable(*(getattr(self, f.name)[idx] for f in dataclasses.fields(self)))

    def index(self, state: str) -> int:
        hits = np.flatnonzero(self.ids == state)
        if hits.size == 0:
            raise InputError(f"state {state!r} is not in the dataset (it has {len(self)} states)")
        return int(hits[0])

    def statics(self, i: int) -> Statics:
        return Statics(
            self.static[i, : 3 * N_K].reshape(3, N_K),
            float(self.T[i]),
            float(self.rho[i]),
            str(self.potential[i]),
            str(self.ids[i]),
            float(self.k_peak[i]),
        )


def state_table(ds, source: str = "dataset") -> StateTable:
    """Arrays of a dataset in the shared schema (``S``, ``Fs``, ``time``, coords ``T``, ``rho``, ``potential``)."""
    for var in ("S", "Fs", "time"):
        if var not in ds:
            raise InputError(
                f"{source}: {var}: missing variable; the dataset schema memplug-dataset/1 needs it"
            )
    for coord in ("T", "rho", "potential"):
        if coord not in ds.coords and coord not in ds:
            raise InputError(f"{source}: {coord}: missing per-state coordinate")
    S = ds["S"].transpose("state", "pair", "k")
    pairs = [str(p) for p in S["pair"].values]
    missing = [p for p in PAIRS if p not in pairs]
    if missing:
        raise InputError(f"{source}: S: pair(s) {', '.join(missing)} missing; expected AA, AB, BB")
    S = S.sel(pair=list(PAIRS)).values.astype(float)
    Fs = ds["Fs"].transpose("state", "t", "species")
    species = [str(s) for s in Fs["species"].values]
    missing = [s for s in SPECIES if s not in species]
    if missing:
        raise InputError(f"{source}: Fs: species {', '.join(missing)} missing; expected A and B")
    Fs = Fs.sel(species=list(SPECIES)).values.astype(float)
    k = ds["k"].values if "k" in ds.coords else None
    ids = np.array([str(s) for s in ds["state"].values])
    T = np.asarray(ds["T"].values, float)
    rho = np.asarray(ds["rho"].values, float)
    pot = np.array([str(p) for p in ds["potential"].values])
    for i, sid in enumerate(ids):
        check_statics(f"{source}: state {sid}", k, S[i], T[i], rho[i], pot[i])
    static = np.concatenate(
        [
            S.reshape(len(ids), -1),
            T[:, None],
            rho[:, None],
            np.array([POTENTIALS[p] for p in pot])[:, None],
        ],
        axis=1,
    )
    time = np.asarray(ds["time"].transpose("state", "t").values, float)
    tm = np.array([t_mct(p, r) for p, r in zip(pot, rho, strict=True)])
    if "k_peak" in ds.coords or "k_peak" in ds:
        kp = np.asarray(ds["k_peak"].values, float).reshape(len(ids))
        if not np.all(np.isfinite(kp) & (kp > 0)):
            raise InputError(f"{source}: k_peak: expected positive finite values")
    else:
        kp = np.array([peak_of(S[i, 0]) for i in range(len(ids))])
    return StateTable(ids, static, time, Fs, T, rho, pot, tm, kp)


# ------------------------------------------------------------------------------------------------
# standardisation
# ------------------------------------------------------------------------------------------------


@dataclass
class Standardizer:
    """Per-feature affine map x → (x − mean) / scale for the 304 inputs.

    Fitted on the *training* states only; features that do not vary in the training set (e.g. the
    potential label when training on LJ only) get scale 1.
    """

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, static: np.ndarray, time: np.ndarray) -> Standardizer:
        """From training states: ``static`` ``(n, 303)`` and their lag times ``(n, n_t)``."""
        logt = np.log10(time[np.isfinite(time) & (time > 0)])
        mean = np.concatenate([static.mean(axis=0), [logt.mean()]])
        scale = np.concatenate([static.std(axis=0), [logt.std()]])
        scale = np.where(scale > 1e-12 * np.maximum(1.0, np.abs(mean)), scale, 1.0)
        return cls(mean, scale)

    def rows(self, static: np.ndarray, time: np.ndarray) -> np.ndarray:
        """Standardised input rows ``(n * n_t, 304)`` for states ``(n, 303)`` × times ``(n, n_t)``."""
        n, nt = time.shape
        x = np.concatenate(
            [np.repeat(static, nt, axis=0), np.log10(np.maximum(time, 1e-300)).reshape(-1, 1)],
            axis=1,
        )
        return (x - self.mean) / self.scale

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Standardizer:
        return cls(np.asarray(d["mean"], float), np.asarray(d["scale"], float))
