"""Hard spheres with the analytic Percus-Yevick structure factor: the standard MCT test bed.

Units: the diameter of the largest species is 1 unless ``diameters`` say otherwise; k in 1/length.

- One component (Wertheim 1963, Thiele 1963): c(r) = −λ₁ − 6φλ₂ r − ½φλ₁ r³ for r < 1, 0 beyond, with
  λ₁ = (1+2φ)²/(1−φ)⁴ and λ₂ = −(1+φ/2)²/(1−φ)⁴; ĉ(k) is its Fourier transform and S = 1/(1 − ρĉ).
- Mixtures (Lebowitz 1964) through Baxter's factorisation (Baxter 1970): with ρ_i = ρ x_i,
  σ_ij = (σ_i+σ_j)/2, λ_ij = (σ_i−σ_j)/2 and ξ_n = (π/6) Σ ρ_i σ_i^n,

      Q̂_ij(k) = δ_ij − 2π √(ρ_i ρ_j) ∫_{λ_ij}^{σ_ij} dr e^{ikr} Q_ij(r),
      Q_ij(r) = ½ a_i (r² − σ_ij²) + b_i (r − σ_ij),
      a_i = (1 − ξ₃ + 3 σ_i ξ₂)/(1 − ξ₃)²,   b_i = −(3/2) σ_i² ξ₂ / (1 − ξ₃)²,

  and δ_ij − √(ρ_iρ_j) ĉ_ij(k) = [Q̂ᵀ(−k) Q̂(k)]_ij. The r-integrals are done by Gauss-Legendre
  quadrature (exact to rounding for these polynomials times e^{ikr} at the k used here).

Structure factors use the normalisation S^{αβ}(k) = N⁻¹⟨ρ_α ρ_β⟩ = x_α δ_αβ + ρ x_α x_β ĥ_αβ(k).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memplug.errors import InputError
from memplug.interfaces import Context, System

_GL_X, _GL_W = np.polynomial.legendre.leggauss(128)


def _check_phi(phi: float) -> float:
    phi = float(phi)
    if not 0.0 < phi < 0.7:
        raise InputError(f"hard spheres: packing fraction phi = {phi}; expected 0 < phi < 0.7")
    return phi


def percus_yevick_c(k, phi: float) -> np.ndarray:
    """ĉ(k) of one-component PY hard spheres of diameter 1 at packing fraction φ."""
    phi = _check_phi(phi)
    k = np.asarray(k, float)
    l1 = (1 + 2 * phi) ** 2 / (1 - phi) ** 4
    l2 = -((1 + phi / 2) ** 2) / (1 - phi) ** 4
    r = 0.5 * (_GL_X + 1.0)  # nodes on [0, 1]
    w = 0.5 * _GL_W
    c_r = -l1 - 6 * phi * l2 * r - 0.5 * phi * l1 * r**3
    kr = np.multiply.outer(k, r)
    sinc = np.sinc(kr / np.pi)  # sin(kr)/(kr)
    return 4 * np.pi * np.sum(w * r**2 * c_r * sinc, axis=-1)


def percus_yevick_S(k, phi: float) -> np.ndarray:
    """S(k) = 1/(1 − ρ ĉ(k)) of one-component PY hard spheres (diameter 1), ρ = 6φ/π."""
    rho = 6 * phi / np.pi
    return 1.0 / (1.0 - rho * percus_yevick_c(k, phi))


def mixture_density(phi: float, diameters, x) -> float:
    """Total number density ρ of a mixture at packing fraction φ = (π/6) ρ Σ x_i σ_i³."""
    d = np.asarray(diameters, float)
    x = np.asarray(x, float)
    return 6 * phi / (np.pi * np.sum(x * d**3))


def percus_yevick_mixture_S(k, phi: float, diameters, x) -> np.ndarray:
    """Partial S^{αβ}(k), shape ``(n_k, s, s)``, of a PY hard-sphere mixture (Baxter factorisation)."""
    phi = _check_phi(phi)
    k = np.asarray(k, float)
    d = np.asarray(diameters, float).reshape(-1)
    x = np.asarray(x, float).reshape(-1)
    s = d.size
    if x.shape != (s,) or np.any(x <= 0) or not np.isclose(x.sum(), 1.0) or np.any(d <= 0):
        raise InputError(
            f"hard spheres: diameters {d.tolist()} and fractions {x.tolist()}: expected positive "
            "diameters and as many positive fractions summing to 1"
        )
    rho = mixture_density(phi, d, x)
    rho_i = rho * x
    xi2 = np.pi / 6 * np.sum(rho_i * d**2)
    xi3 = np.pi / 6 * np.sum(rho_i * d**3)
    a = (1 - xi3 + 3 * d * xi2) / (1 - xi3) ** 2
    b = -1.5 * d**2 * xi2 / (1 - xi3) ** 2
    Qp = np.zeros((k.size, s, s), complex)  # Q̂(k)
    Qm = np.zeros((k.size, s, s), complex)  # Q̂(−k)
    for i in range(s):
        for j in range(s):
            hi = 0.5 * (d[i] + d[j])
            lo = 0.5 * (d[i] - d[j])
            r = lo + (hi - lo) * 0.5 * (_GL_X + 1.0)
            w = (hi - lo) * 0.5 * _GL_W
            Q = 0.5 * a[i] * (r**2 - hi**2) + b[i] * (r - hi)
            phase = np.exp(1j * np.multiply.outer(k, r))
            integral_p = np.sum(w * Q * phase, axis=-1)
            integral_m = np.sum(w * Q * np.conj(phase), axis=-1)
            pref = 2 * np.pi * np.sqrt(rho_i[i] * rho_i[j])
            Qp[:, i, j] = (i == j) - pref * integral_p
            Qm[:, i, j] = (i == j) - pref * integral_m
    one_minus_C = np.einsum("kji,kjl->kil", Qm, Qp)  # Q̂ᵀ(−k) Q̂(k)
    one_minus_C = one_minus_C.real
    # S⁻¹ = x^{-1/2} (1 − C) x^{-1/2}  (our normalisation)
    isx = 1.0 / np.sqrt(x)
    Sinv = isx[None, :, None] * one_minus_C * isx[None, None, :]
    S = np.linalg.inv(Sinv)
    return 0.5 * (S + np.swapaxes(S, 1, 2))


class HardSpheres(System):
    """Percus-Yevick hard spheres, one component or an additive mixture.

    Options: ``diameters`` (one per species, default ``(1.0,)``), ``x`` (number fractions, default
    equal), ``n_k`` and ``k_max`` (the midpoint grid, default 100 points on (0, 40]), ``dynamics``
    (``overdamped`` or ``newtonian``). State: ``phi`` (packing fraction), ``T`` (default 1).
    """

    name = "hard-spheres"
    description = "Percus-Yevick hard spheres (one component or mixture), analytic S(k)"
    options: dict[str, Any] = {
        "diameters": (1.0,),
        "x": None,
        "n_k": 100,
        "k_max": 40.0,
        "dynamics": "overdamped",
    }

    def __init__(self, **options: Any):
        super().__init__(**options)
        d = np.atleast_1d(np.asarray(self.config["diameters"], float))
        x = self.config["x"]
        x = np.full(d.size, 1.0 / d.size) if x is None else np.atleast_1d(np.asarray(x, float))
        if x.shape != d.shape:
            raise InputError(
                f"system 'hard-spheres': x has {x.size} entries but diameters has {d.size}"
            )
        self.diameters, self.x = d, x
        if self.config["dynamics"] not in ("overdamped", "newtonian"):
            raise InputError(
                f"system 'hard-spheres': dynamics={self.config['dynamics']!r}; expected overdamped or newtonian"
            )

    @property
    def n_species(self) -> int:
        return int(self.diameters.size)

    def grid(self) -> np.ndarray:
        from memplug.plugins.mct.grid import midpoint_grid

        return midpoint_grid(int(self.config["n_k"]), float(self.config["k_max"]))

    def statics(self, phi: float) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
        """(k, S (n_k, s, s), ρ, x) at packing fraction φ."""
        k = self.grid()
        if self.n_species == 1:
            S = percus_yevick_S(k, phi)[:, None, None]
            rho = 6 * _check_phi(phi) / (np.pi * self.diameters[0] ** 3)
            if self.diameters[0] != 1.0:  # scale lengths: S(k; d) = S_1(k d)
                S = percus_yevick_S(k * self.diameters[0], phi)[:, None, None]
        else:
            S = percus_yevick_mixture_S(k, phi, self.diameters, self.x)
            rho = mixture_density(phi, self.diameters, self.x)
        return k, S, rho, self.x.copy()

    def context(self, phi: float | None = None, T: float = 1.0, **state: Any) -> Context:
        if phi is None:
            raise InputError("system 'hard-spheres': the state needs phi (packing fraction)")
        if state:
            raise InputError(
                f"system 'hard-spheres': unknown state variables {sorted(state)}; expected phi, T"
            )
        k, S, rho, x = self.statics(phi)
        kp = float(k[np.argmax(S[:, 0, 0])])
        s = self.n_species
        names = tuple("ABCDEFGH"[:s])
        return Context(
            n_species=s,
            k=k,
            S=S,
            rho=rho,
            x=x,
            T=float(T),
            k_peak=kp,
            omega2=np.diag(np.full(s, kp**2 * T)),
            masses=np.ones(s),
            dynamics=self.config["dynamics"],
            species=names,
            extra={"phi": float(phi), "system": self.name},
        )
