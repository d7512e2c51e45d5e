"""Quadrature for the integrated memory equation: a smooth correlator and convolution matrices.

The data enter the inversion only through 1 − F and its integrals. `Correlator` turns lags
``t`` (increasing, > 0) and F(t) into smooth functions of time:

- G(t) = 1 − F(t): a cubic spline of ln G in ln t when G > 0 at every lag (the short-time start
  G ∝ tᵖ is a straight line there), else of G in ln t. Below the first lag the short-time law
  G = a tᵖ − b t²ᵖ is used (p = 2 Newtonian: ballistic; p = 1 overdamped; `_short_time`);
  three ghost points t₁/2, t₁/4, t₁/8 on it are
  added to the spline's nodes, and its slope is imposed at the left end, so that the spline joins
  it smoothly. (A cubic spline rather than PCHIP: 4th instead of 3rd order, which the noise-free
  tests resolve: the interpolation error of G drops from ~2e-6 to ~2e-8.)
- ∫₀ᵗ G and ∫₀ᵗ s G(s) ds: Gauss-Legendre on a fine log grid (30 cells per decade plus every lag),
  analytic below it; Φ(u) = −∫₀ᵘ G is then a cubic Hermite interpolant (values and Φ' = −G).

`convolution_matrix` evaluates Q_ij = ∫₀^{t_i} b_j(r) κ(t_i − r) dr for piecewise-linear
basis functions b_j and a kernel κ (Φ, −G, or the response kernel of the whitening), splitting
[0, t_i] at every knot and at t_i − u for u on the fine grid, so that κ(t_i − r), which varies
over many decades near r = t_i, is resolved whatever the width of the basis functions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.interpolate import CubicSpline

_GL_X, _GL_W = np.polynomial.legendre.leggauss(6)
_GL4_X, _GL4_W = np.polynomial.legendre.leggauss(4)
PER_DECADE = 30


class Correlator:
    """F(t) on lags ``t`` made smooth: G = 1 − F, its integrals and Φ (see the module docstring).

    Args:
        t: lags, shape ``(n,)``, strictly increasing, > 0 (time units of the data).
        F: correlator at the lags, shape ``(n,)``; F(0) = 1 is implied, F(t₁) < 1 required.
        power: p of the short-time law 1 − F ∝ tᵖ: 2 (Newtonian) or 1 (overdamped).
    """

    def __init__(self, t: np.ndarray, F: np.ndarray, power: int = 2):
        self.t = np.asarray(t, float)
        self.G_data = 1.0 - np.asarray(F, float)
        self.p = int(power)
        self.a, self.b = _short_time(self.t, self.G_data, self.p)
        ghosts = self.t[0] * 2.0 ** -np.arange(3, 0, -1)
        tt = np.concatenate([ghosts, self.t])
        gg = np.concatenate([self._short(ghosts), self.G_data])
        self.log_mode = bool(np.all(gg > 0))
        y = np.log(gg) if self.log_mode else gg
        x = np.log(tt)
        if self.log_mode:  # d ln G / d ln t of the short-time law at the left end
            g0 = self._short(ghosts[:1])[0]
            slope = (
                self.p
                * (self.a * ghosts[0] ** self.p - 2 * self.b * ghosts[0] ** (2 * self.p))
                / g0
            )
        else:
            slope = self.p * (self.a * ghosts[0] ** self.p - 2 * self.b * ghosts[0] ** (2 * self.p))
        self._spline = CubicSpline(x, y, bc_type=((1, slope), "not-a-knot"), extrapolate=True)
        self._t_lo = ghosts[0]
        # fine grid for the cumulative integrals
        n_dec = np.log10(self.t[-1] / self._t_lo)
        fine = np.geomspace(self._t_lo, self.t[-1], max(int(np.ceil(n_dec * PER_DECADE)), 2) + 1)
        self.grid = np.unique(np.concatenate([fine, self.t]))
        a, b = self.grid[:-1], self.grid[1:]
        x = 0.5 * (b - a)[:, None] * _GL_X[None, :] + 0.5 * (a + b)[:, None]
        w = 0.5 * (b - a)[:, None] * _GL_W[None, :]
        g = self.G(x.ravel()).reshape(x.shape)
        t0 = self.grid[:1]
        self.cum_G = np.concatenate(
            [self._short_int(t0, 0), self._short_int(t0, 0) + np.cumsum((w * g).sum(1))]
        )
        self.cum_sG = np.concatenate(
            [self._short_int(t0, 1), self._short_int(t0, 1) + np.cumsum((w * x * g).sum(1))]
        )
        self.G_grid = self.G(self.grid)

    def _short(self, t: np.ndarray) -> np.ndarray:
        return self.a * t**self.p - self.b * t ** (2 * self.p)

    def _short_int(self, t: np.ndarray, q: int) -> np.ndarray:
        """∫₀ᵗ s^q (a sᵖ − b s²ᵖ) ds."""
        k1, k2 = self.p + 1 + q, 2 * self.p + 1 + q
        return self.a * t**k1 / k1 - self.b * t**k2 / k2

    def G(self, t: np.ndarray) -> np.ndarray:
        """1 − F(t) at times ``t`` (any shape, ≥ 0)."""
        t = np.asarray(t, float)
        out = self._short(t)
        hi = t >= self._t_lo
        if np.any(hi):
            y = self._spline(np.log(t[hi]))
            out[hi] = np.exp(y) if self.log_mode else y
        return out

    def _cumulative(self, t: np.ndarray, which: str) -> np.ndarray:
        """∫₀ᵗ G (``"G"``) or ∫₀ᵗ s G(s) ds (``"sG"``) at times t ≤ t_n, by Hermite interpolation."""
        t = np.asarray(t, float)
        if which == "G":
            vals, der, low = self.cum_G, self.G_grid, self._short_int(t, 0)
        else:
            vals, der, low = self.cum_sG, self.grid * self.G_grid, self._short_int(t, 1)
        out = low.copy()
        hi = t >= self.grid[0]
        if np.any(hi):
            th = np.minimum(t[hi], self.grid[-1])
            k = np.clip(np.searchsorted(self.grid, th, side="right") - 1, 0, self.grid.size - 2)
            a, b = self.grid[k], self.grid[k + 1]
            h = b - a
            s = (th - a) / h
            h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
            h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
            out[hi] = h00 * vals[k] + h10 * h * der[k] + h01 * vals[k + 1] + h11 * h * der[k + 1]
        return out

    def Phi(self, u: np.ndarray) -> np.ndarray:
        """Φ(u) = ∫₀ᵘ (F − 1) dv, shape of ``u``."""
        return -self._cumulative(u, "G")

    def integral_F(self, t: np.ndarray) -> np.ndarray:
        """∫₀ᵗ F(s) ds."""
        t = np.asarray(t, float)
        return t - self._cumulative(t, "G")

    def integral_tF(self, t: np.ndarray) -> np.ndarray:
        """∫₀ᵗ (t − s) F(s) ds = t²/2 − t ∫₀ᵗ G + ∫₀ᵗ s G."""
        t = np.asarray(t, float)
        return 0.5 * t**2 - t * self._cumulative(t, "G") + self._cumulative(t, "sG")


def _short_time(t: np.ndarray, G: np.ndarray, p: int) -> tuple[float, float]:
    """(a, b) of G ≈ a tᵖ − b t²ᵖ below the first lag, from the first two lags when they are close
    (t₂ ≤ 3 t₁) and give a correction that keeps G increasing up to t₁ (0 ≤ b t₁ᵖ < a/2), else
    b = 0 (G ∝ tᵖ through the first lag)."""
    t1, t2, g1, g2 = t[0], t[1], G[0], G[1]
    if t2 <= 3 * t1:
        b = (g1 / t1**p - g2 / t2**p) / (t2**p - t1**p)
        a = g1 / t1**p + b * t1**p
        if 0 <= b * t1**p < 0.5 * a:
            return float(a), float(b)
    return float(g1 / t1**p), 0.0


def hat_weights(knots: np.ndarray, r: np.ndarray, below: str) -> tuple[np.ndarray, ...]:
    """Piecewise-linear basis on ``knots`` at points ``r``: (left index, left weight, right weight).

    Basis function j is 1 at knot j and falls linearly to 0 at its neighbours: linearly in ln r for
    ``below="flat"`` (the memory nodes), where basis 0 is continued below the first knot as the
    constant 1; linearly in r for ``below="ballistic"`` or ``"linear"`` (the data lags), where
    basis 0 is continued as (r/knot₀)² or r/knot₀ (the short-time law of δF). Beyond the last
    knot every basis function is 0.
    """
    n = knots.size
    k = np.clip(np.searchsorted(knots, r, side="right") - 1, 0, n - 2)
    a, b = knots[k], knots[k + 1]
    if below == "flat":
        with np.errstate(divide="ignore"):
            s = np.log(np.maximum(r, a) / a) / np.log(b / a)
    else:
        s = (r - a) / (b - a)
    s = np.clip(s, 0.0, 1.0)
    wl, wr = 1.0 - s, s
    low = r < knots[0]
    wl = np.where(
        low, 1.0 if below == "flat" else (r / knots[0]) ** (2 if below == "ballistic" else 1), wl
    )
    wr = np.where(low, 0.0, wr)
    high = r > knots[-1]
    return k, np.where(high, 0.0, wl), np.where(high, 0.0, wr)


def convolution_matrix(
    t_rows: np.ndarray,
    knots: np.ndarray,
    kernel: Callable[[np.ndarray], np.ndarray],
    u_breaks: np.ndarray,
    below: str = "flat",
) -> np.ndarray:
    """Q_ij = ∫₀^{t_i} b_j(r) κ(t_i − r) dr, shape ``(len(t_rows), len(knots))``.

    Args:
        t_rows: the times t_i of the rows.
        knots: knots of the piecewise-linear basis b_j (see `hat_weights`).
        kernel: κ(u) for u ≥ 0 (vectorised).
        u_breaks: lags u at which κ varies (the fine grid): [0, t_i] is also split at t_i − u.
        below: continuation of the first basis function below knots[0].
    """
    n = knots.size
    Q = np.zeros((t_rows.size, n))
    for i, ti in enumerate(t_rows):
        br = np.concatenate([[0.0, ti], knots[knots < ti], ti - u_breaks[u_breaks < ti]])
        br = np.unique(br[(br >= 0) & (br <= ti)])
        a, b = br[:-1], br[1:]
        r = (0.5 * (b - a)[:, None] * _GL4_X + 0.5 * (a + b)[:, None]).ravel()
        w = (0.5 * (b - a)[:, None] * _GL4_W).ravel()
        val = w * kernel(ti - r)
        k, wl, wr = hat_weights(knots, r, below)
        row = np.zeros(n)
        np.add.at(row, k, val * wl)
        np.add.at(row, k + 1, val * wr)
        Q[i] = row
    return Q
