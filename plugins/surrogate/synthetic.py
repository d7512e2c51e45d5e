"""A synthetic dataset in the shared schema (``memplug-dataset/1``) for tests, benchmarks and demos.

It is *not* physics: S^{αβ}(k) is a sum of Gaussians whose first-peak height grows as T/T_mct
falls, and F_s^{αα}(t) is a two-step relaxation (a Gaussian vibrational decay to a plateau f_α,
then a stretched exponential) whose τ_α is an Arrhenius-like function of the peak height. The map
statics → dynamics is therefore smooth and learnable, which is what the MLP's code paths need.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from memplug.constants import K_GRID, KQ

from .features import t_mct


def _structure(k: np.ndarray, kp: float, h: float, x: float, shift: float) -> np.ndarray:
    w = 0.9
    peaks = h * np.exp(-((k - kp) ** 2) / (2 * w**2)) + 0.35 * h * np.exp(
        -((k - 1.9 * kp - shift) ** 2) / (2 * (1.4 * w) ** 2)
    )
    low = -0.9 * np.exp(-((k / (0.6 * kp)) ** 2))
    return x * (1.0 + peaks + low) * (1.0 + 0.02 * np.cos(k))


def synthetic_dataset(
    n_states: int = 40,
    n_t: int = 150,
    seed: int = 0,
    potentials: tuple[str, ...] = ("LJ", "WCA"),
    rhos: tuple[float, ...] = (1.2, 1.4, 1.6, 1.8),
    t_over_tmct: tuple[float, float] = (0.5, 2.5),
) -> xr.Dataset:
    """``n_states`` states spread over potentials × densities × T/T_mct, each with ``n_t`` lag times."""
    rng = np.random.default_rng(seed)
    k = K_GRID
    ids, pots, rho_v, T_v, kp_v = [], [], [], [], []
    S = np.zeros((n_states, 3, k.size))
    Fs = np.zeros((n_states, 2, n_t))
    times = np.zeros((n_states, n_t))
    tau = np.zeros(n_states)
    combos = [(p, r) for p in potentials for r in rhos]
    for i in range(n_states):
        pot, rho = combos[i % len(combos)]
        tm = t_mct(pot, rho)
        u = rng.uniform(*t_over_tmct)
        T = round(u * tm, 4)
        kp = 2 * np.pi * rho ** (1 / 3) * 0.97
        eps = 0.15 if pot == "WCA" else 0.0
        h = 1.6 + 1.2 * (tm / T) ** 0.8 - eps
        S[i, 0] = _structure(k, kp, h, 0.8, 0.0)
        S[i, 1] = 0.16 * (h - 1.0) * np.exp(-((k - 1.05 * kp) ** 2) / 2.0) * np.sin(k / kp * np.pi)
        S[i, 2] = _structure(k, 1.05 * kp, 0.6 * h, 0.2, 0.3)
        ta = 3.0 * np.exp(3.0 * (h - 2.0) / (1.0 + 0.3 * eps)) / np.sqrt(T)
        t = np.geomspace(0.005, 10 * ta, n_t)
        for a, (f, beta, scale) in enumerate(((0.75, 0.8, 1.0), (0.65, 0.7, 0.6))):
            fa = f * min(1.0, 1.3 * tm / (T + 0.3 * tm))
            Fs[i, a] = (1 - fa) * np.exp(-((t / (0.15 / np.sqrt(T))) ** 2)) + fa * np.exp(
                -((t / (scale * ta)) ** beta)
            )
        ids.append(f"{pot}-rho{rho:.2f}-T{T:.3f}-{i}")
        pots.append(pot)
        rho_v.append(rho)
        T_v.append(T)
        kp_v.append(kp)
        times[i] = t
        tau[i] = ta
    n = n_states
    # F_s at the four kq values: a made-up k scaling, the first point set to the ballistic value
    power = (KQ[None, :] / np.array(kp_v)[:, None]) ** 2
    Fs_k = np.clip(Fs[:, :, None, :], 1e-12, None) ** power[:, None, :, None]
    Fs_k[..., 0] = np.exp(
        -0.5 * KQ[None, None, :] ** 2 * np.array(T_v)[:, None, None] * times[:, None, None, 0] ** 2
    )
    ds = xr.Dataset(
        {
            "S": (("state", "pair", "k"), S),
            "k_below_box": (("k",), k < 2 * np.pi / 10.0),
            "time": (("state", "t"), times),
            "Fs": (("state", "species", "t"), Fs),
            "Fs_k": (("state", "species", "kq", "t"), Fs_k),
            "msd": (("state", "species", "t"), 6 * times[:, None, :] * 0.1 * np.ones((1, 2, 1))),
            "tau_alpha": (("state",), tau),
        },
        coords={
            "state": ids,
            "pair": ["AA", "AB", "BB"],
            "species": ["A", "B"],
            "k": k,
            "kq": KQ,
            "t": np.arange(n_t),
            "potential": ("state", pots),
            "rho": ("state", np.array(rho_v)),
            "T": ("state", np.array(T_v)),
            "N": ("state", np.round(np.array(rho_v) * 1000).astype(int)),
            "k_peak": ("state", np.array(kp_v)),
            "dt": ("state", np.full(n, 0.005)),
            "seed": ("state", np.arange(n)),
            "engine": ("state", ["synthetic"] * n),
            "engine_version": ("state", ["0"] * n),
            "steps": ("state", np.zeros(n, int)),
            "status": ("state", ["equilibrated"] * n),
            "cpu_seconds": ("state", np.zeros(n)),
            "energy_drift": ("state", np.zeros(n)),
        },
        attrs={
            "memplug_version": "0.1.0",
            "schema": "memplug-dataset/1",
            "created_by": "synthetic_dataset",
        },
    )
    return ds
