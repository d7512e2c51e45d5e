"""Tikhonov-regularised least squares for many λ, and the rules that choose λ.

    minimise |J x − z|² + λ |D x|²     (J: whitened design, z: whitened data, D: penalty)

One SVD and one symmetric eigendecomposition diagonalise both terms at once, so a scan over λ
costs one matrix-vector product per value; the posterior covariance (JᵀJ + λDᵀD)⁻¹ (Tikhonov read
as a Gaussian prior), the sampling covariance and the resolution matrix come from the same factors.
"""

from __future__ import annotations

import numpy as np

#: λ grid of the automatic choice, relative to base = |J|²_F / |D|²_F
LAM_GRID = 10.0 ** np.arange(-14.0, 4.01, 0.25)
RULES = ("evidence", "gcv", "discrepancy", "lcurve")


class Regularised:
    """min |J x − z|² + ℓ·base |D x|² for many ℓ from one generalised eigendecomposition.

    With the SVD [J; √base D] = U S Vᵀ and the eigendecomposition U_Jᵀ U_J = W Γ Wᵀ of its J block,
    the columns of T = V S⁻¹ W diagonalise both terms: Tᵀ JᵀJ T = Γ, base Tᵀ DᵀD T = 1 − Γ, so
    (JᵀJ + ℓ base DᵀD)⁻¹ = T diag(1 / (γ + ℓ (1 − γ))) Tᵀ. Directions that neither term sees
    (singular values of the stack below 1e-13 of the largest) are dropped.

    Args:
        J: design, shape ``(n, p)``; z: data, shape ``(n,)``; D: penalty, shape ``(q, p)``.
    """

    def __init__(self, J: np.ndarray, z: np.ndarray, D: np.ndarray):
        self.J, self.z, self.D = J, z, D
        self.base = float(np.sum(J**2) / np.sum(D**2))
        U, S, Vt = np.linalg.svd(np.concatenate([J, np.sqrt(self.base) * D]), full_matrices=False)
        keep = S > S[0] * 1e-13
        U, S, Vt = U[:, keep], S[keep], Vt[keep]
        Uj = U[: J.shape[0]]
        gam, W = np.linalg.eigh(Uj.T @ Uj)
        self.gamma = np.clip(gam, 0.0, 1.0)
        self.T = (Vt.T / S) @ W
        self.Tinv = W.T @ (S[:, None] * Vt)
        self.JT = J @ self.T
        self.c = self.JT.T @ z

    def _factors(self, ell: float) -> np.ndarray:
        return 1.0 / (self.gamma + ell * (1.0 - self.gamma))

    def solve(self, ell: float) -> tuple[np.ndarray, np.ndarray, float]:
        """(x, residual J x − z, trace of the influence matrix) at relative weight ℓ."""
        f = self._factors(ell)
        w = f * self.c
        return self.T @ w, self.JT @ w - self.z, float(np.sum(self.gamma * f))

    def covariance(self, ell: float, bayesian: bool = True) -> np.ndarray:
        """Times σ²: the posterior covariance (JᵀJ + λDᵀD)⁻¹ (``bayesian``; includes the
        uncertainty the regulariser leaves, hence on average its bias) or the sampling covariance
        (JᵀJ + λDᵀD)⁻¹ JᵀJ (JᵀJ + λDᵀD)⁻¹ of the estimate (noise only)."""
        f = self._factors(ell)
        return (self.T * (f if bayesian else self.gamma * f**2)) @ self.T.T

    def resolution(self, ell: float) -> np.ndarray:
        """R = (JᵀJ + λDᵀD)⁻¹ JᵀJ: the noise-free estimate is R x_true."""
        return (self.T * (self.gamma * self._factors(ell))) @ self.Tinv

    def scan(self, grid: np.ndarray = LAM_GRID) -> dict[str, np.ndarray]:
        """Residual |r|², seminorm |D x|², influence trace and the log-determinant term of the
        marginal likelihood over the λ grid."""
        out = {k: np.empty(grid.size) for k in ("residual2", "seminorm2", "trace", "logdet")}
        pen = self.gamma < 1.0 - 1e-12
        for i, g in enumerate(grid):
            x, r, out["trace"][i] = self.solve(g)
            out["residual2"][i], out["seminorm2"][i] = (
                float(r @ r),
                float(np.sum((self.D @ x) ** 2)),
            )
            out["logdet"][i] = float(
                np.sum(np.log(self.gamma + g * (1 - self.gamma))) - pen.sum() * np.log(g)
            )
        out["lam"] = grid
        out["n_free"] = np.asarray(int(np.sum(~pen)))
        return out

    def penalised(self, ell: float) -> float:
        """The minimum of |J x − z|² + ℓ·base |D x|²."""
        x, r, _ = self.solve(ell)
        return float(r @ r + ell * self.base * np.sum((self.D @ x) ** 2))


def choose(reg: Regularised, scan: dict[str, np.ndarray], rule: str, known_noise: bool) -> float:
    """λ (relative) by one of `RULES`.

    - ``evidence``: maximum marginal likelihood of the data with Tikhonov as a Gaussian prior
      (σ² profiled out unless ``known_noise``). Its Occam factor resists the small-λ solutions
      that fit the noise through the noisy design (the data enter J as well as z), where GCV fails.
    - ``gcv``: generalised cross-validation, n |r|² / (n − tr H)².
    - ``discrepancy``: the largest λ with |r|² ≤ n (needs ``known_noise``: whitened rows of unit
      variance).
    - ``lcurve``: largest curvature of (ln |r|, ln |D x|) in ln λ.
    """
    grid, rr, sn, tr = scan["lam"], scan["residual2"], scan["seminorm2"], scan["trace"]
    n = reg.J.shape[0]
    if rule == "evidence":
        Q = rr + grid * reg.base * sn
        n_free = int(scan["n_free"])
        score = Q + scan["logdet"] if known_noise else (n - n_free) * np.log(Q) + scan["logdet"]
        return float(grid[int(np.argmin(score))])
    if rule == "gcv":
        return float(grid[int(np.argmin(n * rr / np.maximum(n - tr, 1e-12) ** 2))])
    if rule == "discrepancy":
        fits = np.flatnonzero(rr <= n)
        return float(grid[fits[-1]] if fits.size else grid[0])
    x, y, s = 0.5 * np.log(rr), 0.5 * np.log(np.maximum(sn, 1e-300)), np.log(grid)
    dx, dy = np.gradient(x, s), np.gradient(y, s)
    ddx, ddy = np.gradient(dx, s), np.gradient(dy, s)
    kappa = (dx * ddy - ddx * dy) / np.maximum((dx**2 + dy**2) ** 1.5, 1e-300)
    return float(grid[2:-2][int(np.argmax(kappa[2:-2]))])
