"""Short-time sum rule of the self memory kernel: M(0) = 2 Ω² + Ω_E².

Derivation. Newtonian self memory equation (unit mass, Ω² = k² T/m):
F'' + Ω² F + ∫₀ᵗ M(t−s) F'(s) ds = 0, F(0) = 1, F'(0) = 0. Differentiating, F''(0) = −Ω²,
F'''(0) = −(Ω² + M(0)) F'(0) = 0 and, since d²/dt² ∫₀ᵗ M(t−s)F'(s) ds = M(0) F''(t) + M'(0) F'(t)
+ ∫₀ᵗ M''(t−s) F'(s) ds, F''''(0) = −Ω² F''(0) − M(0) F''(0) = Ω² (Ω² + M(0)). Hence

    F(t) = 1 − Ω² t²/2 + Ω² (Ω² + M(0)) t⁴/24 + O(t⁶).

The same coefficient from the microscopic definition F_s(k, t) = ⟨exp(i k·(r(t) − r(0)))⟩ of a
stationary process is the fourth frequency moment ⟨|d²/dt² e^{ik·r}|²⟩ = ⟨|(i k·a − (k·v)²)|²⟩ =
⟨(k·a)²⟩ + ⟨(k·v)⁴⟩ (the cross term is imaginary and averages out). With Maxwell velocities
⟨(k·v)⁴⟩ = 3 (k² T/m)² = 3 Ω⁴, and ⟨(k·a)²⟩ = k² ⟨|∇_i V|²⟩ / (3 m²) = Ω² Ω_E² with the Einstein
frequency

    Ω_E,α² = ⟨|∇_i V|²⟩ / (3 m T) = ⟨∇_i² V⟩ / (3 m) = (ρ / 3m) Σ_β x_β ∫ g_αβ(r) ∇²V_αβ(r) d³r,

(the middle equality is ⟨|∇V|²⟩ = T ⟨∇²V⟩, integration by parts against exp(−V/T)). Equating,
Ω² (Ω² + M(0)) = Ω² (3 Ω² + Ω_E²):  M(0) = 2 Ω² + Ω_E².

Truncated potentials. For V(r) = [V_LJ(r) − V_LJ(r_c)] Θ(r_c − r) (paper Eq. 9) V is continuous but
V' jumps at r_c, so ∇²V = (V_LJ'' + 2 V_LJ'/r) Θ(r_c − r) − V_LJ'(r_c) δ(r − r_c): the surface term
−4π r_c² g(r_c) V_LJ'(r_c) belongs to the integral (zero for WCA, cut at the minimum). Configurations
never sample the δ, so a configurational average of Σ_j ∇²V(r_ij) misses it; the mean squared
force does not, which makes the two routes an independent check of each other
(`mean_squared_force_frequency2`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memplug.errors import InputError


@dataclass(frozen=True)
class LennardJonesPair:
    """One truncated and shifted Lennard-Jones pair (ε, σ, r_c): the V of paper Eq. 9."""

    epsilon: float
    sigma: float
    r_cut: float

    def derivative(self, r: np.ndarray) -> np.ndarray:
        """V'(r) for r < r_c (the untruncated expression)."""
        sr6 = (self.sigma / np.asarray(r, float)) ** 6
        return 4.0 * self.epsilon * (-12.0 * sr6 * sr6 + 6.0 * sr6) / r

    def laplacian(self, r: np.ndarray) -> np.ndarray:
        """∇²V = V'' + 2V'/r for r < r_c, 0 beyond (the δ at r_c is `surface`)."""
        r = np.asarray(r, float)
        sr6 = (self.sigma / r) ** 6
        v2 = 4.0 * self.epsilon * (156.0 * sr6 * sr6 - 42.0 * sr6) / r**2
        return np.where(r < self.r_cut, v2 + 2.0 * self.derivative(r) / r, 0.0)

    @property
    def surface(self) -> float:
        """Weight of δ(r − r_c) in ∇²V: −V'(r_c⁻)."""
        return -float(self.derivative(np.asarray(self.r_cut)))

    def force(self, r: np.ndarray) -> np.ndarray:
        """−V'(r) for r < r_c, 0 beyond (the radial force, positive = repulsive)."""
        r = np.asarray(r, float)
        return np.where(r < self.r_cut, -self.derivative(r), 0.0)


def kob_andersen_pairs(potential: str = "LJ") -> dict[tuple[int, int], LennardJonesPair]:
    """The Kob-Andersen pairs (species indices 0 = A, 1 = B) from `memplug.plugins.systems.ka`."""
    from memplug.plugins.systems.ka import KobAndersenLJ, KobAndersenWCA

    systems = {"LJ": KobAndersenLJ, "WCA": KobAndersenWCA}
    if potential not in systems:
        raise InputError(f"potential {potential!r}: expected LJ or WCA")
    coeffs = systems[potential]().pair_coefficients()
    index = {"A": 0, "B": 1}
    out = {}
    for (a, b), c in coeffs.items():
        pair = LennardJonesPair(c.epsilon, c.sigma, c.r_cut)
        out[(index[a], index[b])] = out[(index[b], index[a])] = pair
    return out


def einstein_frequency2(
    r: np.ndarray,
    g: np.ndarray,
    rho: float,
    x: np.ndarray,
    pairs: dict[tuple[int, int], LennardJonesPair],
    masses: np.ndarray | None = None,
) -> np.ndarray:
    """Ω_E,α² = (ρ / 3 m_α) Σ_β x_β ∫ g_αβ(r) ∇²V_αβ(r) d³r per species α (1/time²).

    The smooth part is integrated by the trapezoid rule on ``r`` up to r_c (with the end point at
    r_c added, g interpolated linearly); the surface term −4π r_c² g(r_c) V'(r_c⁻) is added.

    Args:
        r: radii, shape ``(n_r,)``, increasing, covering [0, max r_c] (g ≈ 0 at the small end).
        g: radial distribution functions, shape ``(n_r, s, s)`` (or ``(n_r,)`` for one species).
        rho: total number density; x: number fractions, shape ``(s,)``.
        pairs: pair potentials keyed by species indices (both orders).
        masses: shape ``(s,)``, default 1.
    """
    r = np.asarray(r, float)
    g = np.asarray(g, float)
    if g.ndim == 1:
        g = g[:, None, None]
    x = np.atleast_1d(np.asarray(x, float))
    s = x.size
    if r.ndim != 1 or np.any(np.diff(r) <= 0) or g.shape != (r.size, s, s):
        raise InputError(f"g: expected shape ({r.size}, {s}, {s}) on increasing r, got {g.shape}")
    m = np.ones(s) if masses is None else np.asarray(masses, float)
    out = np.zeros(s)
    for a in range(s):
        for b in range(s):
            p = pairs[(a, b)]
            if p.r_cut > r[-1]:
                raise InputError(f"r: expected the grid to reach r_c = {p.r_cut:g} of pair {a}{b}")
            g_c = float(np.interp(p.r_cut, r, g[:, a, b]))
            inside = r < p.r_cut
            rr = np.concatenate([r[inside], [p.r_cut]])
            gg = np.concatenate([g[inside, a, b], [g_c]])
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                f = np.where(gg > 0, gg * p.laplacian(np.maximum(rr, 1e-300)), 0.0)
            f[-1] = gg[-1] * float(p.laplacian(np.asarray(p.r_cut * (1 - 1e-12))))
            smooth = np.trapezoid(4 * np.pi * rr**2 * f, rr)
            surface = 4 * np.pi * p.r_cut**2 * g_c * p.surface
            out[a] += x[b] * (smooth + surface)
    return rho * out / (3.0 * m)


def memory_at_zero(omega2: np.ndarray, omega_e2: np.ndarray) -> np.ndarray:
    """The Newtonian self memory at t = 0: M(0) = 2 Ω² + Ω_E² (module docstring)."""
    return 2.0 * np.asarray(omega2, float) + np.asarray(omega_e2, float)


def pair_forces(
    positions: np.ndarray,
    species: np.ndarray,
    box: float,
    pairs: dict[tuple[int, int], LennardJonesPair],
) -> np.ndarray:
    """Forces on every particle (N, 3) of one configuration in a cubic periodic box (minimum image;
    needs r_c ≤ box/2). O(N²) memory: meant for the small systems of a check."""
    pos = np.asarray(positions, float)
    d = pos[:, None, :] - pos[None, :, :]
    d -= box * np.round(d / box)
    r = np.sqrt(np.sum(d**2, axis=-1))
    np.fill_diagonal(r, np.inf)
    f = np.zeros_like(r)
    for (a, b), p in pairs.items():
        sel = (species[:, None] == a) & (species[None, :] == b)
        f = np.where(sel, p.force(np.where(sel, r, p.r_cut * 2)), f)
    return np.sum((f / r)[:, :, None] * d, axis=1)


def mean_squared_force_frequency2(
    forces: np.ndarray, species: np.ndarray, T: float, masses: np.ndarray | None = None
) -> np.ndarray:
    """Ω_E,α² = ⟨|F_i|²⟩_{i∈α} / (3 m_α T) from forces of equilibrium configurations.

    Args:
        forces: shape ``(n_frames, N, 3)`` or ``(N, 3)``; species: ``(N,)`` indices 0..s−1.
        T: temperature of the (canonical) sampling.
    """
    f = np.asarray(forces, float)
    f = f[None] if f.ndim == 2 else f
    species = np.asarray(species)
    s = int(species.max()) + 1
    m = np.ones(s) if masses is None else np.asarray(masses, float)
    f2 = np.sum(f**2, axis=-1)  # (frames, N)
    return np.array([f2[:, species == a].mean() for a in range(s)]) / (3.0 * m * T)


def radial_distribution(
    frames: np.ndarray, species: np.ndarray, box: float, r_max: float, n_bins: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """g_αβ(r) from configurations of a cubic periodic box: (bin centres (n,), g (n, s, s))."""
    species = np.asarray(species)
    s = int(species.max()) + 1
    edges = np.linspace(0.0, r_max, n_bins + 1)
    counts = np.zeros((n_bins, s, s))
    N = species.size
    n_of = np.array([np.sum(species == a) for a in range(s)])
    for pos in np.asarray(frames, float):
        d = pos[:, None, :] - pos[None, :, :]
        d -= box * np.round(d / box)
        r = np.sqrt(np.sum(d**2, axis=-1))
        for a in range(s):
            for b in range(s):
                rab = r[np.ix_(species == a, species == b)]
                counts[:, a, b] += np.histogram(rab[rab > 0], bins=edges)[0]
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    rho = N / box**3
    n_frames = len(frames)
    ideal = shell[:, None, None] * rho * (n_of[None, :] / N)[:, None, :] * n_of[None, :, None]
    # ideal[., a, b] = (number of a particles) × ρ x_b × shell volume
    g = counts / (n_frames * ideal)
    return 0.5 * (edges[1:] + edges[:-1]), g
