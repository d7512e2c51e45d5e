"""Structural and dynamical observables of a binary mixture, as pure NumPy functions of arrays.

Conventions (Lennard-Jones reduced units; cubic periodic box of edge ``L``):

- ``positions``: shape ``(n_frames, N, 3)`` (or ``(N, 3)`` for one frame), float64. Static
  quantities accept wrapped or unwrapped positions (both give the same ρ(k) on lattice vectors);
  dynamic ones need **unwrapped** positions.
- ``species``: shape ``(N,)``, integer species index (0 = A, 1 = B, …).
- Partial structure factors use the normalisation of the paper (Eq. 12-13):
  S^{αβ}(k) = N⁻¹ ⟨ρ_α(k) ρ_β(−k)⟩ with ρ_α(k) = Σ_{i∈α} exp(i k·r_i) and N the total number of
  particles, so S^{αβ}(k→∞) = x_α δ_αβ. Wave vectors are the box's reciprocal lattice
  k = 2π n / L; S is averaged over the vectors whose modulus falls in a shell (bin).
- Self intermediate scattering function (paper Eq. 1 normalised so that F_s(k, 0) = 1):
  F_s^{αα}(k, t) = ⟨N_α⁻¹ Σ_{i∈α} exp(i k·[r_i(t₀+t) − r_i(t₀)])⟩, averaged over time origins t₀ and
  over wave-vector directions. ``directions="sphere"`` is the exact average over all directions,
  sin(k Δr)/(k Δr); ``directions="lattice"`` averages over the lattice vectors of the shell.
- Mean-squared displacement ⟨|r_i(t₀+t) − r_i(t₀)|²⟩ per species, averaged over origins.

Grid points below 2π/L cannot be measured in the box. `structure_factor_on_grid` flags them
and by default fills them by a small-k continuation (`continue_below_box`: the mean of S over
the first in-box grid points, a convex combination, so S stays positive definite). The transform
of the radial distribution function, S^{αβ}(k) = x_α δ_αβ + ρ x_α x_β ∫₀^{L/2} 4π r² [g_αβ(r) − 1]
sin(kr)/(kr) dr (`structure_factor_from_gr`, ``below_box="gr"``), is *not* a usable estimate
there: the statistical noise of g(r) at large r, multiplied by the shell volume 4πr²dr, dominates
(measured for KA LJ at ρ = 1.2, N = 1200, 8 frames: S^{AA}(0.2) = 0.37-0.58 depending on the frames
and on the finite-size correction of g(r), against S^{AA} ≈ 0.017 at the first lattice shells), and it
can make the 2×2 matrix S(k) indefinite. Shells above 2π/L without a lattice vector still use g(r).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from memplug.constants import K_EDGES, PAIRS, SPECIES
from memplug.plugins.datasets.schema import tau_alpha_from

#: The species indices (α, β) of each pair of `memplug.constants.PAIRS` (AA, AB, BB).
PAIR_INDICES = tuple((SPECIES.index(p[0]), SPECIES.index(p[1])) for p in PAIRS)


def _frames(positions: np.ndarray) -> np.ndarray:
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim == 2:
        p = p[None]
    if p.ndim != 3 or p.shape[-1] != 3:
        raise ValueError(f"positions: expected shape (n_frames, N, 3) or (N, 3), got {p.shape}")
    return p


# --------------------------------------------------------------------------------------------
# wave vectors
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaveVectors:
    """Reciprocal-lattice vectors k = 2π n / L grouped into shells (bins of |k|).

    Attributes:
        n: integer lattice indices, shape ``(Q, 3)``.
        k: the vectors 2π n / L, shape ``(Q, 3)``.
        bin: the shell index of each vector, shape ``(Q,)``.
        count: number of vectors used per shell, shape ``(n_bins,)``.
        L: box edge.
    """

    n: np.ndarray
    k: np.ndarray
    bin: np.ndarray
    count: np.ndarray
    L: float


def lattice_wave_vectors(
    L: float,
    k_edges: np.ndarray = K_EDGES,
    *,
    max_per_bin: int | None = 400,
    half_space: bool = True,
    seed: int = 0,
) -> WaveVectors:
    """Lattice vectors 2π n/L with |k| in [k_edges[b], k_edges[b+1]) for each bin b.

    ``half_space`` keeps one of each ±k pair (S(k) = S(−k) for real densities). Shells with more
    than ``max_per_bin`` vectors are sub-sampled uniformly at random (reproducibly, ``seed``);
    ``None`` keeps all vectors.
    """
    k_edges = np.asarray(k_edges, float)
    dk = 2.0 * math.pi / L
    n_max = int(math.floor(k_edges[-1] / dk))
    r = np.arange(-n_max, n_max + 1)
    nx, ny, nz = np.meshgrid(r, r, r, indexing="ij")
    n = np.stack([nx.ravel(), ny.ravel(), nz.ravel()], axis=1)
    if half_space:
        keep = (n[:, 0] > 0) | ((n[:, 0] == 0) & ((n[:, 1] > 0) | ((n[:, 1] == 0) & (n[:, 2] > 0))))
        n = n[keep]
    else:
        n = n[np.any(n != 0, axis=1)]
    kmod = dk * np.sqrt(np.sum(n.astype(np.float64) ** 2, axis=1))
    b = np.searchsorted(k_edges, kmod, side="right") - 1
    inside = (b >= 0) & (b < len(k_edges) - 1)
    n, b = n[inside], b[inside]
    rng = np.random.default_rng(seed)
    chosen = []
    n_bins = len(k_edges) - 1
    count = np.zeros(n_bins, dtype=np.int64)
    order = np.argsort(b, kind="stable")
    n, b = n[order], b[order]
    starts = np.searchsorted(b, np.arange(n_bins + 1))
    for i in range(n_bins):
        idx = np.arange(starts[i], starts[i + 1])
        if max_per_bin is not None and idx.size > max_per_bin:
            idx = np.sort(rng.choice(idx, size=max_per_bin, replace=False))
        chosen.append(idx)
        count[i] = idx.size
    sel = np.concatenate(chosen) if chosen else np.zeros(0, int)
    n = n[sel]
    return WaveVectors(n=n, k=dk * n.astype(np.float64), bin=b[sel], count=count, L=float(L))


def density_modes(
    positions: np.ndarray,
    species: np.ndarray,
    n_vectors: np.ndarray,
    L: float,
    n_species: int = 2,
    chunk: int = 2048,
) -> np.ndarray:
    """ρ_α(k) = Σ_{i∈α} exp(i k·r_i) for one frame, k = 2π n/L; shape ``(n_species, Q)``.

    Uses per-axis tables exp(i 2π n_x x/L) so each vector costs one product per particle.
    """
    r = np.asarray(positions, np.float64)
    species = np.asarray(species)
    n_vectors = np.asarray(n_vectors, np.int64)
    n_max = int(np.max(np.abs(n_vectors))) if n_vectors.size else 0
    m = np.arange(-n_max, n_max + 1)
    phase = (2.0 * math.pi / L) * r[:, :, None] * m[None, None, :]  # (N, 3, 2n+1)
    table = np.exp(1j * phase)
    out = np.zeros((n_species, n_vectors.shape[0]), np.complex128)
    onehot = np.stack([species == a for a in range(n_species)], axis=0).astype(np.float64)
    for s in range(0, n_vectors.shape[0], chunk):
        nv = n_vectors[s : s + chunk] + n_max
        e = table[:, 0, nv[:, 0]] * table[:, 1, nv[:, 1]] * table[:, 2, nv[:, 2]]  # (N, q)
        out[:, s : s + chunk] = onehot @ e
    return out


# --------------------------------------------------------------------------------------------
# statics
# --------------------------------------------------------------------------------------------


def structure_factor(
    positions: np.ndarray,
    species: np.ndarray,
    L: float,
    vectors: WaveVectors,
    n_species: int = 2,
) -> np.ndarray:
    """Shell-averaged partial S^{αβ}(k) = N⁻¹ ⟨Re ρ_α(k) ρ_β(k)*⟩ over frames and shell vectors.

    Returns shape ``(n_pairs, n_bins)`` for pairs AA, AB, BB (upper triangle, row-major); bins
    without vectors are NaN.
    """
    frames = _frames(positions)
    N = frames.shape[1]
    pairs = [(a, b) for a in range(n_species) for b in range(a, n_species)]
    n_bins = vectors.count.size
    acc = np.zeros((len(pairs), vectors.n.shape[0]))
    for x in frames:
        rho = density_modes(x, species, vectors.n, L, n_species)
        for p, (a, b) in enumerate(pairs):
            acc[p] += np.real(rho[a] * np.conj(rho[b]))
    acc /= N * frames.shape[0]
    out = np.full((len(pairs), n_bins), np.nan)
    for p in range(len(pairs)):
        total = np.bincount(vectors.bin, weights=acc[p], minlength=n_bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[p] = np.where(vectors.count > 0, total / np.maximum(vectors.count, 1), np.nan)
    return out


def radial_distribution(
    positions: np.ndarray,
    species: np.ndarray,
    L: float,
    *,
    r_max: float | None = None,
    dr: float = 0.02,
    n_species: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Partial g_αβ(r) (minimum image, r < r_max ≤ L/2), averaged over frames.

    Returns ``(r, g)`` with r the bin midpoints, shape ``(n_r,)``, and g shape ``(n_pairs, n_r)``,
    normalised so that g → 1 for an ideal gas: g_αβ(r) = V ⟨Σ_{i∈α} Σ_{j∈β, j≠i} δ(r − r_ij)⟩
    / (N_α N_β 4π r² dr).
    """
    frames = _frames(positions)
    species = np.asarray(species)
    r_max = 0.5 * L if r_max is None else min(r_max, 0.5 * L)
    edges = np.arange(0.0, r_max + 0.5 * dr, dr)
    edges = edges[edges <= r_max + 1e-12]
    n_r = edges.size - 1
    pairs = [(a, b) for a in range(n_species) for b in range(a, n_species)]
    counts = np.zeros((len(pairs), n_r))
    N_a = np.array([np.sum(species == a) for a in range(n_species)], float)
    for x in frames:
        groups = [x[species == a] for a in range(n_species)]
        for p, (a, b) in enumerate(pairs):
            xa, xb = groups[a], groups[b]
            for s in range(0, xa.shape[0], 256):
                d = xa[s : s + 256, None, :] - xb[None, :, :]
                d -= L * np.round(d / L)
                r = np.sqrt(np.sum(d * d, axis=-1)).ravel()
                r = r[(r > 0) & (r < edges[-1])]
                counts[p] += np.histogram(r, bins=edges)[0]
    V = L**3
    shell = 4.0 / 3.0 * math.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    g = np.zeros_like(counts)
    for p, (a, b) in enumerate(pairs):
        norm = N_a[a] * N_a[b] if a != b else N_a[a] * (N_a[a] - 1)
        # ordered pairs: i in a, j in b (j != i)
        g[p] = counts[p] * V / (norm * shell * frames.shape[0])
    return 0.5 * (edges[1:] + edges[:-1]), g


def structure_factor_from_gr(
    r: np.ndarray, g: np.ndarray, rho: float, x: np.ndarray, k: np.ndarray, dr: float | None = None
) -> np.ndarray:
    """S^{αβ}(k) = x_α δ_αβ + ρ x_α x_β ∫ 4π r² [g_αβ(r) − 1] sin(kr)/(kr) dr (pairs AA, AB, BB).

    The integral is truncated at the largest r given (L/2), so values at small k are estimates;
    shape ``(n_pairs, n_k)``.
    """
    r = np.asarray(r, float)
    k = np.asarray(k, float)
    x = np.asarray(x, float)
    dr = float(r[1] - r[0]) if dr is None else dr
    kr = k[:, None] * r[None, :]
    sinc = np.sinc(kr / math.pi)  # sin(kr)/(kr)
    n_species = x.size
    pairs = [(a, b) for a in range(n_species) for b in range(a, n_species)]
    out = np.zeros((len(pairs), k.size))
    for p, (a, b) in enumerate(pairs):
        h = 4.0 * math.pi * r**2 * (g[p] - 1.0) * dr
        out[p] = (x[a] if a == b else 0.0) + rho * x[a] * x[b] * (sinc @ h)
    return out


@dataclass(frozen=True)
class GridStructureFactor:
    """S^{αβ} on the k grid and where each value came from.

    Attributes:
        k: grid, shape ``(n_k,)``; S: shape ``(n_pairs, n_k)``;
        below_box: grid points with k < 2π/L (filled from g(r));
        from_gr: all points filled from g(r) (below the box, or shells without lattice vectors);
        count: lattice vectors per shell.
    """

    k: np.ndarray
    S: np.ndarray
    below_box: np.ndarray
    from_gr: np.ndarray
    count: np.ndarray


def structure_factor_on_grid(
    positions: np.ndarray,
    species: np.ndarray,
    L: float,
    *,
    k_edges: np.ndarray = K_EDGES,
    max_per_bin: int | None = 400,
    seed: int = 0,
    gr_frames: int = 4,
    below_box: str = "continue",
) -> GridStructureFactor:
    """Partial S^{αβ}(k) on the bins ``k_edges`` (default: the 100-point grid on (0, 40]).

    Bins whose midpoint is below 2π/L are flagged (``below_box``) and filled by
    `continue_below_box` (``below_box="continue"``, the default) or from g(r)
    (``below_box="gr"``, from the last ``gr_frames`` frames; unreliable, see the module notes).
    Bins above 2π/L that contain no lattice vector are filled from g(r) and flagged in ``from_gr``.
    """
    if below_box not in ("continue", "gr"):
        raise ValueError(f"below_box: expected 'continue' or 'gr', got {below_box!r}")
    frames = _frames(positions)
    species = np.asarray(species)
    k_edges = np.asarray(k_edges, float)
    k = 0.5 * (k_edges[1:] + k_edges[:-1])
    vectors = lattice_wave_vectors(L, k_edges, max_per_bin=max_per_bin, seed=seed)
    S = structure_factor(frames, species, L, vectors)
    below = k < 2.0 * math.pi / L
    from_gr = (
        (below | (vectors.count == 0)) if below_box == "gr" else (~below & (vectors.count == 0))
    )
    if np.any(from_gr):
        n_species = int(species.max()) + 1
        N = species.size
        x = np.array([np.sum(species == a) for a in range(n_species)]) / N
        r, g = radial_distribution(frames[-gr_frames:], species, L)
        S[:, from_gr] = structure_factor_from_gr(r, g, N / L**3, x, k[from_gr])
    if below_box == "continue":
        S = continue_below_box(S, below)
    return GridStructureFactor(k=k, S=S, below_box=below, from_gr=from_gr, count=vectors.count)


#: How `continue_below_box` fills grid points below 2π/L (recorded in dataset files).
BELOW_BOX_METHOD = (
    "mean of S over the first 3 grid points above 2*pi/L (positive-definite continuation)"
)


def continue_below_box(S: np.ndarray, below: np.ndarray, n: int = 3) -> np.ndarray:
    """Fill the grid points ``below`` (k < 2π/L) with the mean of S over the first ``n`` points above.

    S(k) of a dense liquid is flat at small k to within the noise of the first lattice shells, and a
    mean of positive-definite partial-structure-factor matrices is positive definite, so the
    continuation never makes S(k) indefinite (an extrapolation with negative weights could).
    ``S``: ``(..., n_k)`` with the k axis last (e.g. ``(n_pairs, n_k)``); returns a copy.
    """
    S = np.array(S, float, copy=True)
    below = np.asarray(below, bool)
    inside = np.flatnonzero(~below)
    if not below.any():
        return S
    if inside.size < n:
        raise ValueError(
            f"continue_below_box: need {n} grid points above 2π/L, found {inside.size}"
        )
    S[..., below] = S[..., inside[:n]].mean(axis=-1, keepdims=True)
    return S


def k_peak(k: np.ndarray, S_AA: np.ndarray, *, k_min: float = 2.0, k_max: float = 15.0) -> float:
    """Position of the main (first) peak of S^{AA}: the grid maximum in [k_min, k_max], refined by a
    parabola through it and its two neighbours."""
    k = np.asarray(k, float)
    s = np.asarray(S_AA, float)
    window = np.nonzero((k >= k_min) & (k <= k_max) & np.isfinite(s))[0]
    i = int(window[np.argmax(s[window])])
    if i == 0 or i == k.size - 1 or not np.all(np.isfinite(s[i - 1 : i + 2])):
        return float(k[i])
    y0, y1, y2 = s[i - 1], s[i], s[i + 1]
    denom = y0 - 2 * y1 + y2
    if denom >= 0:
        return float(k[i])
    h = k[i + 1] - k[i]
    return float(k[i] + 0.5 * h * (y0 - y2) / denom)


# --------------------------------------------------------------------------------------------
# dynamics
# --------------------------------------------------------------------------------------------


def quasi_log_lags(l_min: int, l_max: int, n: int) -> np.ndarray:
    """``n`` distinct integer lags from ``l_min`` to ``l_max``, log-spaced where integers allow.

    Lags are rounded from a geometric sequence whose ratio is chosen so that, after forcing each
    lag to exceed the previous one, the last equals ``l_max`` (linear at the start when the ratio
    is too small to separate integers).
    """
    l_min, l_max = int(l_min), int(l_max)
    if l_max - l_min + 1 < n:
        raise ValueError(f"cannot place {n} distinct integer lags in [{l_min}, {l_max}]")

    def build(ratio: float) -> np.ndarray:
        out = np.empty(n, np.int64)
        out[0] = l_min
        for j in range(1, n):
            out[j] = max(out[j - 1] + 1, int(round(l_min * ratio**j)))
        return out

    lo, hi = 1.0, (l_max / l_min) ** (1.0 / (n - 1)) * 1.0000001
    if build(lo)[-1] > l_max:
        raise ValueError("lag grid: unreachable")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if build(mid)[-1] <= l_max:
            lo = mid
        else:
            hi = mid
    lags = build(lo)
    lags[-1] = l_max
    return lags


def origin_lag_pairs(
    frame_steps: np.ndarray, origins: np.ndarray, lags: np.ndarray
) -> list[np.ndarray]:
    """For each lag, the (origin frame, later frame) index pairs present in ``frame_steps``.

    Returns a list (one per lag) of int arrays of shape ``(n_pairs, 2)``.
    """
    index = {int(s): i for i, s in enumerate(np.asarray(frame_steps))}
    out = []
    for lag in np.asarray(lags):
        pairs = [
            (index[int(o)], index[int(o) + int(lag)])
            for o in np.asarray(origins)
            if int(o) in index and int(o) + int(lag) in index
        ]
        out.append(np.asarray(pairs, np.int64).reshape(-1, 2))
    return out


def _species_means(values: np.ndarray, species: np.ndarray, n_species: int) -> np.ndarray:
    """Per-species mean over the last axis (particles): (..., N) -> (..., n_species)."""
    return np.stack([values[..., species == a].mean(axis=-1) for a in range(n_species)], axis=-1)


def self_dynamics(
    unwrapped: np.ndarray,
    species: np.ndarray,
    frame_steps: np.ndarray,
    origins: np.ndarray,
    lags: np.ndarray,
    k: np.ndarray | float,
    *,
    directions: str = "sphere",
    L: float | None = None,
    n_directions: int = 48,
    n_species: int = 2,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """F_s^{αα}(k, lag) and MSD_α(lag), averaged over time origins and wave-vector directions.

    Args:
        unwrapped: unwrapped positions, ``(n_frames, N, 3)``.
        frame_steps: the step (or time) of each frame, ``(n_frames,)`` integers.
        origins, lags: time origins and lags in the same units as ``frame_steps``; each lag is
            averaged over the origins t₀ for which frames at t₀ and t₀ + lag exist.
        k: wave number(s), scalar or ``(n_k,)``.
        directions: ``"sphere"`` (exact average over all directions, sin(kΔr)/(kΔr)) or
            ``"lattice"`` (average over up to ``n_directions`` reciprocal-lattice vectors of the
            shell |k| ± π/L; needs ``L``).

    Returns:
        ``(Fs, msd, n_origins)``: Fs shape ``(n_species, n_k, n_lags)``, msd shape
        ``(n_species, n_lags)``, and the number of origins per lag ``(n_lags,)``; lags without any
        origin give NaN.
    """
    frames = _frames(unwrapped)
    species = np.asarray(species)
    k = np.atleast_1d(np.asarray(k, float))
    pairs = origin_lag_pairs(frame_steps, origins, lags)
    n_lags = len(pairs)
    Fs = np.full((n_species, k.size, n_lags), np.nan)
    msd = np.full((n_species, n_lags), np.nan)
    n_orig = np.array([p.shape[0] for p in pairs])
    vecs = None
    if directions == "lattice":
        if L is None:
            raise ValueError("directions='lattice' needs the box edge L")
        vecs = [_shell_vectors(L, kk, n_directions) for kk in k]
    elif directions != "sphere":
        raise ValueError(f"directions: expected 'sphere' or 'lattice', got {directions!r}")
    for j, p in enumerate(pairs):
        if p.shape[0] == 0:
            continue
        d = frames[p[:, 1]] - frames[p[:, 0]]  # (n_o, N, 3)
        d2 = np.sum(d * d, axis=-1)  # (n_o, N)
        msd[:, j] = _species_means(d2, species, n_species).mean(axis=0)
        if vecs is None:
            dist = np.sqrt(d2)
            for q, kk in enumerate(k):
                f = np.sinc(kk * dist / math.pi)
                Fs[:, q, j] = _species_means(f, species, n_species).mean(axis=0)
        else:
            for q, kv in enumerate(vecs):
                f = np.cos(d @ kv.T).mean(axis=-1)  # (n_o, N)
                Fs[:, q, j] = _species_means(f, species, n_species).mean(axis=0)
    return Fs, msd, n_orig


def _shell_vectors(L: float, k: float, n_max: int) -> np.ndarray:
    """Up to ``n_max`` lattice vectors (one of each ±k pair) with |k'| closest to ``k``."""
    dk = 2.0 * math.pi / L
    vectors = lattice_wave_vectors(
        L, np.array([max(k - 0.5 * dk, 0.0), k + 0.5 * dk]), max_per_bin=None
    )
    kv = vectors.k
    if kv.shape[0] == 0:
        raise ValueError(f"no lattice vector with |k| near {k} for L = {L}")
    order = np.argsort(np.abs(np.linalg.norm(kv, axis=1) - k), kind="stable")
    return kv[order[:n_max]]


def non_gaussian(
    unwrapped: np.ndarray,
    species: np.ndarray,
    frame_steps: np.ndarray,
    origins: np.ndarray,
    lags: np.ndarray,
    *,
    n_species: int = 2,
) -> np.ndarray:
    """Non-Gaussian parameter α₂(t) = 3⟨Δr⁴⟩ / (5⟨Δr²⟩²) − 1 per species.

    ⟨·⟩ averages over the particles of a species and the time origins of each lag (as the MSD of
    `self_dynamics`); α₂ = 0 for Gaussian displacements. Returns shape ``(n_species, n_lags)``;
    lags without any origin give NaN.
    """
    frames = _frames(unwrapped)
    species = np.asarray(species)
    pairs = origin_lag_pairs(frame_steps, origins, lags)
    out = np.full((n_species, len(pairs)), np.nan)
    for j, p in enumerate(pairs):
        if p.shape[0] == 0:
            continue
        d2 = np.sum((frames[p[:, 1]] - frames[p[:, 0]]) ** 2, axis=-1)  # (n_o, N)
        r2 = _species_means(d2, species, n_species).mean(axis=0)
        r4 = _species_means(d2 * d2, species, n_species).mean(axis=0)
        out[:, j] = 3.0 * r4 / (5.0 * r2 * r2) - 1.0
    return out


def collective_dynamics(
    positions: np.ndarray,
    species: np.ndarray,
    L: float,
    frame_steps: np.ndarray,
    origins: np.ndarray,
    lags: np.ndarray,
    vectors: WaveVectors,
    *,
    n_species: int = 2,
) -> np.ndarray:
    """Collective intermediate scattering functions F^{αβ}(k, t) = N⁻¹ ⟨ρ_α(k, t₀+t) ρ_β(−k, t₀)⟩.

    N is the total number of particles (the normalisation of `structure_factor`, so
    F^{αβ}(k, 0) = S^{αβ}(k) on the same vectors); ⟨·⟩ averages over the time origins of each lag
    and over ``vectors`` (one of each ±k pair: the real part is the ±k average) shell by shell.
    Static positions may be wrapped or unwrapped. Returns shape ``(n_pairs, n_bins, n_lags)`` for
    pairs AA, AB, BB; bins without vectors or lags without origins are NaN.
    """
    frames = _frames(positions)
    N = frames.shape[1]
    pairs = origin_lag_pairs(frame_steps, origins, lags)
    used = np.unique(np.concatenate([p.ravel() for p in pairs])) if pairs else np.zeros(0, int)
    rho = {int(i): density_modes(frames[i], species, vectors.n, L, n_species) for i in used}
    pair_idx = [(a, b) for a in range(n_species) for b in range(a, n_species)]
    n_bins = vectors.count.size
    out = np.full((len(pair_idx), n_bins, len(pairs)), np.nan)
    for j, p in enumerate(pairs):
        if p.shape[0] == 0:
            continue
        for q, (a, b) in enumerate(pair_idx):
            acc = sum(np.real(rho[int(i1)][a] * np.conj(rho[int(i0)][b])) for i0, i1 in p) / (
                N * p.shape[0]
            )
            total = np.bincount(vectors.bin, weights=acc, minlength=n_bins)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[q, :, j] = np.where(
                    vectors.count > 0, total / np.maximum(vectors.count, 1), np.nan
                )
    return out


def tau_alpha(t: np.ndarray, fs: np.ndarray, level: float = math.exp(-1.0)) -> float:
    """First time at which ``fs`` falls to ``level`` (1/e), interpolated linearly in log t; NaN if
    it never does (`memplug.plugins.datasets.schema.tau_alpha_from`)."""
    return tau_alpha_from(t, fs, level)
