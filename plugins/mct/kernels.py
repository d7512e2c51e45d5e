"""Multi-component MCT memory kernels (collective, tagged, probes) on the midpoint k-grid.

Conventions (stated once, used everywhere in `memplug.plugins.mct`):

- S^{αβ}(k) = N⁻¹⟨ρ_α(k) ρ_β(−k)⟩ (so S^{αβ} → x_α δ_αβ for k → ∞); the direct correlation
  functions follow from S⁻¹_{αβ}(k) = δ_αβ / x_α − ρ c_αβ(k) (paper Eq. 13).
- Collective correlators F^{αβ}(k, t) with F(k, 0) = S(k); tagged F_s^{α}(k, t) with F_s(k, 0) = 1.
- Every equation is written in the memplug form α F'' + β F' + Ω² F + ∫ K(t−τ) F'(τ) dτ = 0 with
  matrices multiplying from the left, and

      Ω²(k)   = k² diag(D_α x_α) S⁻¹(k)                  (collective)
      Ω_s²(k) = k² D_α                                    (tagged, species α)
      K(k, t) = diag(k² D_α x_α) m(k, t)                  (collective memory)

  where m is the (Götze-normalised) mode-coupling functional of paper Eq. 12,

      m_αβ(k,t) = ρ / (2 k² x_α x_β) ∫ d³q/(2π)³ Σ V_{αμν}(k,q,p) F_{μμ'}(q,t) F_{νν'}(p,t) V_{βμ'ν'}(k,q,p),
      V_{αμν}(k,q,p) = (k̂·q) c_αμ(q) δ_αν + (k̂·p) c_αν(p) δ_αμ,   p = k − q,

  and for the tagged particle of species σ

      K_s^σ(k,t) = D_σ ρ ∫ d³q/(2π)³ (k̂·q)² Σ_αβ c_σα(q) c_σβ(q) F_αβ(q,t) F_s^σ(p,t).

- ``D_α`` is the bare mobility: T / ζ_α (friction ζ_α, default 1) for overdamped (Brownian) dynamics,
  paper Eq. 5 (α = 0, β = 1), and T / m_α for Newtonian dynamics (α = 1, β = 0). The critical
  point and the nonergodicity parameters do not depend on D or on the kind of dynamics.

The vertex products reduce to Hadamard (element-wise) products of s×s matrices,

    Σ V F F V = a² X(q)∘F(p) + b² F(q)∘X(p) + a b [Y(q)∘Z(p) + Z(q)∘Y(p)],
    X = cFc, Y = cF, Z = Fc, a = k̂·q, b = k̂·p,

and each class is a sum of outer products g(q) h(p): its bipolar triangle sums are correlations and
convolutions of vectors (`memplug.plugins.mct.grid.bipolar_sums`), so one kernel evaluation costs
O(n_k log n_k s²) (plus O(n_k s³) for X, Y, Z) instead of the O(n_k² s²) of the triangle sums of
the full (q, p) arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from memplug.errors import InputError
from memplug.kernels import ExplicitKernel, FunctionalKernel
from memplug.plugins.mct.grid import bipolar_sums, grid_spacing, probe_weights
from memplug.solution import interpolate

# --------------------------------------------------------------------------------------------
# statics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MCTStatics:
    """What MCT needs of a state point (NumPy arrays, float64).

    Attributes:
        k: midpoint grid, shape ``(n_k,)``.
        S: partial structure factors, shape ``(n_k, s, s)``.
        rho: total number density.
        x: number fractions, shape ``(s,)``.
        c: direct correlation functions c_αβ(k) = (δ_αβ/x_α − S⁻¹_αβ)/ρ, shape ``(n_k, s, s)``.
        dk: grid spacing.
    """

    k: np.ndarray
    S: np.ndarray
    rho: float
    x: np.ndarray
    c: np.ndarray
    dk: float

    @property
    def n_k(self) -> int:
        return int(self.k.shape[0])

    @property
    def n_species(self) -> int:
        return int(self.S.shape[-1])


def make_statics(k, S, rho, x=None) -> MCTStatics:
    """Validate the statics and compute the direct correlation functions.

    ``S`` may be ``(n_k,)`` (one component) or ``(n_k, s, s)``.
    """
    k = np.asarray(k, float)
    dk = grid_spacing(k)
    S = np.asarray(S, float)
    if S.ndim == 1:
        S = S[:, None, None]
    if S.ndim != 3 or S.shape[0] != k.shape[0] or S.shape[1] != S.shape[2]:
        raise InputError(f"statics: S has shape {S.shape}; expected ({k.shape[0]}, s, s)")
    s = S.shape[1]
    x = np.full(s, 1.0 / s) if x is None else np.asarray(x, float).reshape(-1)
    if x.shape != (s,) or np.any(x <= 0) or not np.isclose(x.sum(), 1.0, atol=1e-8):
        raise InputError(f"statics: x = {x.tolist()}; expected {s} positive fractions summing to 1")
    if not np.isfinite(rho) or rho <= 0:
        raise InputError(f"statics: rho = {rho}; expected a positive density")
    if not np.all(np.isfinite(S)):
        raise InputError("statics: S(k) has NaN or inf values")
    S = 0.5 * (S + np.swapaxes(S, 1, 2))
    eig = np.linalg.eigvalsh(S)
    if np.any(eig <= 0):
        bad = k[np.any(eig <= 0, axis=1)]
        raise InputError(f"statics: S(k) is not positive definite at k = {bad[:5].tolist()}")
    Sinv = np.linalg.inv(S)
    c = (np.diag(1.0 / x)[None] - Sinv) / rho
    c = 0.5 * (c + np.swapaxes(c, 1, 2))
    return MCTStatics(k=k, S=S, rho=float(rho), x=x, c=c, dk=dk)


def mobility(T: float, dynamics: str, masses=None, friction=None, n_species: int = 1) -> np.ndarray:
    """D_α: T/ζ_α (overdamped) or T/m_α (Newtonian)."""
    if dynamics == "overdamped":
        z = (
            np.ones(n_species)
            if friction is None
            else np.broadcast_to(np.asarray(friction, float), (n_species,))
        )
        return T / z
    if dynamics == "newtonian":
        m = (
            np.ones(n_species)
            if masses is None
            else np.broadcast_to(np.asarray(masses, float), (n_species,))
        )
        return T / m
    raise InputError(f"dynamics {dynamics!r}; expected overdamped or newtonian")


def bipolar_weights(k) -> np.ndarray:
    """(3, n, n): q p, q p (q² − p²)², q p (q² − p²) with q = k_j, p = k_l."""
    k = np.asarray(k, float)
    q = k[:, None]
    p = k[None, :]
    d = q**2 - p**2
    return np.stack([q * p, q * p * d**2, q * p * d])


# --------------------------------------------------------------------------------------------
# the integrals (pure functions of arrays)
# --------------------------------------------------------------------------------------------


def _mm(a, b):
    return jnp.einsum("kab,kbc->kac", a, b)


def _species_first(F):
    return jnp.transpose(F, (1, 2, 0))  # (n, s, s) -> (s, s, n)


# The collective array Σ V F F V is, per species entry, a sum of three outer products: in the three
# bipolar classes (weights w_0, w_1, w_2) 2P + R, 2P − R and 2P with P = X(q)∘F(p),
# R = Y(q)∘Z(p) + Z(q)∘Y(p): pairs (X, F), (Y, Z), (Z, Y) with these coefficients.
_COLLECTIVE_COEF = np.array([[2.0, 1.0, 1.0], [2.0, -1.0, -1.0], [2.0, 0.0, 0.0]])


def _vertex_factors(Ft, ct):
    """X = cFc, Y = cF, Z = Fc (species first, grid last) and the factors (g, h) of the outer products."""
    X = jnp.einsum("amk,mnk,nbk->abk", ct, Ft, ct)
    Y = jnp.einsum("amk,mbk->abk", ct, Ft)
    Z = jnp.einsum("amk,mbk->abk", Ft, ct)
    return X, jnp.stack([X, Y, Z]), jnp.stack([Ft, Z, Y])


def _combine(T, k):
    """k T¹ + T²/k³ + 2 T³/k from stacked triangle sums T (3, ..., n)."""
    return k * T[0] + T[1] / k**3 + 2.0 * T[2] / k


def collective_integral(F, c, k):
    """I_αβ(k_i) = k T1 + 2 T3 / k + T2 / k³ for the collective vertex (see module docstring).

    With it, ∫ d³q Σ V F F V = (2π Δ² / 4) I, so K = diag(D) ρΔ²/(32π²) I diag(1/x).
    ``F``, ``c``: (n, s, s); returns (n, s, s).
    """
    _, g, h = _vertex_factors(_species_first(F), _species_first(c))
    T = bipolar_sums(g, h, _COLLECTIVE_COEF, k)  # (3, s, s, n)
    return jnp.transpose(_combine(T, k), (2, 0, 1))


def tagged_integral(Xd, Fs, k):
    """I_s^σ(k_i) = k T1 + 2 T3 / k + T2 / k³ for the tagged vertex, Xd = diag(cFc) (n, s), Fs (n, s).

    With it, K_s^σ = D_σ ρ Δ² / (16π²) I_s^σ.
    """
    T = bipolar_sums(Xd.T[None], Fs.T[None], np.ones((3, 1)), k)  # (3, s, n)
    return _combine(T, k).T


def collective_memory(F, statics: MCTStatics):
    """Götze-normalised m_αβ(k) of paper Eq. 12 for a correlator F (n_k, s, s) (NumPy or JAX)."""
    k = jnp.asarray(statics.k)
    I = collective_integral(jnp.asarray(F), jnp.asarray(statics.c), k)
    x = statics.x
    pref = statics.rho * statics.dk**2 / (32 * np.pi**2) / np.outer(x, x)
    return jnp.asarray(pref)[None] * I / k[:, None, None] ** 2


def _diag_embed(v):
    s = v.shape[-1]
    return v[..., :, None] * jnp.eye(s)


# --------------------------------------------------------------------------------------------
# kernels for the solvers
# --------------------------------------------------------------------------------------------


class MCTKernel(FunctionalKernel):
    """Multi-component MCT memory kernel K[F] on the midpoint grid.

    The correlator it acts on stacks, along the first axis,

    - rows ``0 … n_k−1``: the collective F^{αβ}(k_i, t) (always);
    - rows ``n_k … 2n_k−1``: the tagged F_s^{α}(k_i, t) on the diagonal (if ``tagged``);
    - ``n_probe`` more rows: tagged F_s^α(k*, t) at off-grid wave numbers k* (e.g. k_peak),
      which take their memory from the grid rows but feed nothing back.

    The tagged kernel needs the collective F at the same time, which is why both live in one
    equation: the solver then iterates them together at each time point.
    """

    c: Float[Array, "n_k s s"]
    k: Float[Array, " n_k"]
    pref: Float[Array, "s s"]  # K = pref ∘ I
    pref_s: Float[Array, " s"]  # K_s = pref_s I_s
    probe_w: Float[Array, "n_probe n_k n_k"]
    pref_probe: Float[Array, " s"]
    tagged: bool = eqx.field(static=True)

    def __init__(self, statics: MCTStatics, D, tagged: bool = False, k_probe=()):
        s = statics.n_species
        D = np.broadcast_to(np.asarray(D, float), (s,))
        rho, dk, x = statics.rho, statics.dk, statics.x
        self.c = jnp.asarray(statics.c)
        self.k = jnp.asarray(statics.k)
        self.pref = jnp.asarray(D[:, None] * rho * dk**2 / (32 * np.pi**2) / x[None, :])
        self.pref_s = jnp.asarray(D * rho * dk**2 / (16 * np.pi**2))
        k_probe = np.atleast_1d(np.asarray(k_probe, float))
        if k_probe.size and not tagged:
            raise InputError("MCT kernel: probe wave numbers need tagged=True")
        self.probe_w = jnp.asarray(
            probe_weights(k_probe, statics.k)
            if k_probe.size
            else np.zeros((0, statics.n_k, statics.n_k))
        )
        self.pref_probe = jnp.asarray(D * rho * dk**2 / (4 * np.pi**2))
        self.tagged = bool(tagged)

    @property
    def n_k(self) -> int:
        return int(self.k.shape[0])

    def __call__(self, F):
        n, s = self.k.shape[0], F.shape[-1]
        X, g, h = _vertex_factors(_species_first(F[:n]), _species_first(self.c))  # (3, s, s, n)
        if not self.tagged:
            I = _combine(bipolar_sums(g, h, _COLLECTIVE_COEF, self.k), self.k)
            return jnp.transpose(self.pref[:, :, None] * I, (2, 0, 1))
        Xd = jnp.diagonal(X, axis1=0, axis2=1).T  # (s, n): Σ_αβ c_σα F_αβ c_βσ
        Fs = jnp.diagonal(F[n : 2 * n], axis1=1, axis2=2).T  # (s, n)
        # one pass over the collective and tagged products together: the tagged pair Xd(q) Fs(p)
        # takes the slot of (X, F), whose coefficient is 2 in every class, hence the ½
        zero = jnp.zeros((2, s, n))
        g_all = jnp.concatenate(
            [g.reshape(3, s * s, n), jnp.concatenate([0.5 * Xd[None], zero])], 1
        )
        h_all = jnp.concatenate([h.reshape(3, s * s, n), jnp.concatenate([Fs[None], zero])], 1)
        I = _combine(bipolar_sums(g_all, h_all, _COLLECTIVE_COEF, self.k), self.k)  # (s*s + s, n)
        K = jnp.transpose(self.pref[:, :, None] * I[: s * s].reshape(s, s, n), (2, 0, 1))
        Ks = (self.pref_s[:, None] * I[s * s :]).T  # (n, s)
        parts = [K, _diag_embed(Ks)]
        if self.probe_w.shape[0]:
            Kp = self.pref_probe[None] * jnp.einsum("mjl,sj,sl->ms", self.probe_w, Xd, Fs)
            parts.append(_diag_embed(Kp))
        return jnp.concatenate(parts, axis=0)


class TabulatedKernel(ExplicitKernel):
    """An explicit kernel M(t) given on a time grid, interpolated (cubic Lagrange) in between.

    Used for the MSD memory (known once F and F_s are solved) and for the MCT closure (the tagged
    memory at k_peak as an explicit M(t) for the single-wave-number equation of the paper, Eq. 5).
    Times beyond the grid take the last value.
    """

    t: Float[Array, " n_t"]
    values: Array  # (n_t, *shape)

    def __init__(self, t, values):
        self.t = jnp.asarray(t, dtype=float)
        self.values = jnp.asarray(values, dtype=float)

    def __call__(self, t):
        return interpolate(self.t, self.values, jnp.asarray(t, dtype=float))


class ScaledKernel(ExplicitKernel):
    """amplitude ∘ base(t): a tabulated MCT memory with a free per-entry amplitude."""

    base: ExplicitKernel
    amplitude: Array

    def __call__(self, t):
        return self.amplitude * self.base(t)
