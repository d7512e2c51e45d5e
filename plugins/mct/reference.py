"""Plain NumPy reference of the collective and tagged MCT kernels (tests and benchmarks only).

Written straight from the definitions, independently of `memplug.plugins.mct.kernels`: the
full vertex tensor V_{αμν}(k, q, p) with an O(s⁴) contraction, and the bipolar triangle sums by the
sequential Bengtzelius recurrence T_i = T_{i−1} + (diagonals |j−l| = i) − (anti-diagonal j+l = i−1).
"""

from __future__ import annotations

import numpy as np


def bengtzelius(A: np.ndarray) -> np.ndarray:
    """T_i = Σ_{|j−l| ≤ i ≤ j+l} A[j, l] by the recurrence (0-based midpoint grid)."""
    n = A.shape[0]
    T = np.zeros((n,) + A.shape[2:])
    T[0] = sum(A[j, j] for j in range(n))
    for i in range(1, n):
        t = T[i - 1].copy()
        for j in range(n - i):
            t += A[j, j + i] + A[j + i, j]
        for j in range(i):
            t -= A[j, i - 1 - j]
        T[i] = t
    return T


def collective_kernel(F, k, c, rho, x, D) -> np.ndarray:
    """K_αβ(k) = D_α ρ/(2 x_β (2π)³) ∫ d³q Σ V_{αμν} F_{μμ'}(q) F_{νν'}(p) V_{βμ'ν'}, NumPy loops."""
    n, s, _ = F.shape
    dk = k[1] - k[0]
    eye = np.eye(s)
    out = np.zeros((n, s, s))
    for i in range(n):
        ki = k[i]
        acc = np.zeros((s, s))
        for j in range(n):
            lo, hi = abs(i - j), min(i + j, n - 1)
            if lo > hi:
                continue
            ls = np.arange(lo, hi + 1)
            q, p = k[j], k[ls]
            a = (ki**2 + q**2 - p**2) / (2 * ki)
            b = (ki**2 + p**2 - q**2) / (2 * ki)
            # V[l, α, μ, ν] = a c_αμ(q) δ_αν + b c_αν(p) δ_αμ
            V = a[:, None, None, None] * c[j][None, :, :, None] * eye[None, :, None, :]
            V = V + b[:, None, None, None] * c[ls][:, :, None, :] * eye[None, :, :, None]
            VFFV = np.einsum("lamn,mM,lnN,lbMN->lab", V, F[j], F[ls], V)
            acc += np.sum((q * p)[:, None, None] * VFFV, axis=0)
        out[i] = acc * 2 * np.pi / ki * dk**2
    D = np.broadcast_to(np.asarray(D, float), (s,))
    return D[None, :, None] * rho / (2 * x[None, None, :] * (2 * np.pi) ** 3) * out


def collective_kernel_bengtzelius(F, k, c, rho, x, D) -> np.ndarray:
    """The same kernel with the vertex expanded in powers of k and the recurrence (the fast NumPy way)."""
    n, s, _ = F.shape
    dk = k[1] - k[0]
    q = k[:, None]
    p = k[None, :]
    eye = np.eye(s)
    # vertex parts without k: V = a c(q)δ + b c(p)δ with a = (k²+q²−p²)/2k, b = (k²−q²+p²)/2k
    # Σ V F F V = [k⁴ (.)₁ + 2k²(q²−p²)(.)₃ + (q²−p²)² (.)₂] / 4k², contracted over all s⁴ indices.
    Cq = np.einsum("jam,an->jamn", c, eye)  # c_αμ(q) δ_αν
    Cp = np.einsum("lan,am->lamn", c, eye)  # c_αν(p) δ_αμ
    Pqq = np.einsum("jamn,jmM,lnN,jbMN->jlab", Cq, F, F, Cq, optimize=True)
    Ppp = np.einsum("lamn,jmM,lnN,lbMN->jlab", Cp, F, F, Cp, optimize=True)
    Pqp = np.einsum("jamn,jmM,lnN,lbMN->jlab", Cq, F, F, Cp, optimize=True)
    Pqp = Pqp + np.einsum("lamn,jmM,lnN,jbMN->jlab", Cp, F, F, Cq, optimize=True)
    w = (q * p)[:, :, None, None]
    d = (q**2 - p**2)[:, :, None, None]
    T1 = bengtzelius(w * (Pqq + Ppp + Pqp))
    T2 = bengtzelius(w * d**2 * (Pqq + Ppp - Pqp))
    T3 = bengtzelius(w * d * (Pqq - Ppp))
    kk = k[:, None, None]
    integral = 2 * np.pi * dk**2 / 4 * (kk * T1 + T2 / kk**3 + 2 * T3 / kk)
    D = np.broadcast_to(np.asarray(D, float), (s,))
    return D[None, :, None] * rho / (2 * x[None, None, :] * (2 * np.pi) ** 3) * integral


def tagged_kernel(Fs, F, k, c, rho, D) -> np.ndarray:
    """K_s^σ(k) = D_σ ρ ∫ d³q/(2π)³ (k̂·q)² Σ c_σα c_σβ F_αβ(q) F_s^σ(p), NumPy loops; Fs (n, s)."""
    n, s, _ = F.shape
    dk = k[1] - k[0]
    X = np.einsum("jsa,jab,jsb->js", c, F, c)
    out = np.zeros((n, s))
    for i in range(n):
        for j in range(n):
            lo, hi = abs(i - j), min(i + j, n - 1)
            if lo > hi:
                continue
            ls = np.arange(lo, hi + 1)
            a = (k[i] ** 2 + k[j] ** 2 - k[ls] ** 2) / (2 * k[i])
            out[i] += np.sum((k[j] * k[ls] * a**2)[:, None] * X[j][None] * Fs[ls], axis=0)
        out[i] *= 2 * np.pi / k[i] * dk**2
    D = np.broadcast_to(np.asarray(D, float), (s,))
    return D[None, :] * rho / (2 * np.pi) ** 3 * out
