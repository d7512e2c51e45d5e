"""Structure factors below 2π/L: replace unreliable grid points by a small-k continuation.

A periodic box of side L has no wave vectors with 0 < |k| < 2π/L. The dataset flags its grid
points below 2π/L (k = 0.2 and 0.6 for L = 10) in ``k_below_box``; what a file stores there is an
estimate (the first release: a g(r) transform truncated at L/2, dominated by noise, S^AA(0.2) = 0.37
or even negative where S^AA(1.0) = 0.015, which made S(k) indefinite; later files: the mean of S
over the first in-box points). MCT replaces whatever is stored by its own continuation of the
**direct correlation functions** from the first reliable grid points (used by ``memplug mct`` on
dataset statics and by every MCT solve of a simulated state's ``Context``). By the Ornstein-Zernike
relation S⁻¹_αβ(k) = δ_αβ/x_α − ρ c_αβ(k), and c_αβ(r) is short-ranged (it decays like the pair potential),
so c_αβ(k) is an analytic, even function of k:

    c_αβ(k) = c_αβ(0) + c₂_αβ k² + O(k⁴).

``method="quadratic"`` fits a + b k² by least squares to the first ``n_fit`` reliable points (default
3: k = 1.0, 1.4, 1.8 on the dataset grid); ``method="constant"`` holds c at the mean of those points
(b = 0). S at the flagged points is then S = (diag(1/x) − ρ c)⁻¹. The two methods bracket the
uncertainty of the continuation; the MCT critical temperature hardly depends on it because the
bipolar weights q·p make the smallest wave numbers contribute little to every memory integral
(docs/mct.md quotes the difference).
"""

from __future__ import annotations

import math

import numpy as np

from memplug.errors import InputError

METHODS = ("quadratic", "constant", "keep")


def below_box(k, box_length: float) -> np.ndarray:
    """Grid points with 0 < k < 2π/L (no lattice wave vector of the periodic box)."""
    if not box_length > 0:
        raise InputError(
            f"small-k continuation: box length {box_length}; expected a positive number"
        )
    return np.asarray(k, float) < 2.0 * math.pi / box_length


def box_length(N: float, rho: float) -> float:
    """L = (N/ρ)^(1/3) of a cubic box."""
    return float((N / rho) ** (1.0 / 3.0))


def continue_small_k(
    k, S, flagged, rho: float, x, *, method: str = "quadratic", n_fit: int = 3, where: str = "S"
):
    """S(k) with the ``flagged`` points replaced by a continuation of c(k) from the first reliable ones.

    ``k`` (n_k,) ascending; ``S`` (n_k, s, s) or (n_states, n_k, s, s); ``flagged`` (n_k,) bool, which
    must be a leading block (the smallest wave numbers). ``where`` names the input in error messages.
    Returns a new array of the same shape (``method="keep"`` returns ``S`` unchanged).
    """
    if method not in METHODS:
        raise InputError(
            f"small-k continuation: method {method!r}; expected one of {', '.join(METHODS)}"
        )
    S = np.asarray(S, float)
    flagged = np.asarray(flagged, bool)
    k = np.asarray(k, float)
    if method == "keep" or not flagged.any():
        return S.copy()
    n_flag = int(flagged.sum())
    if not flagged[:n_flag].all():
        raise InputError(
            f"{where}: k_below_box: flagged points must be the smallest wave numbers, got k = {k[flagged].tolist()}"
        )
    if n_fit < 1 or n_flag + n_fit > k.size:
        raise InputError(
            f"small-k continuation: need n_fit >= 1 reliable points after the {n_flag} flagged ones"
        )
    single = S.ndim == 3
    Sb = S[None] if single else S
    s = Sb.shape[-1]
    x = np.asarray(x, float).reshape(s)
    fit = slice(n_flag, n_flag + n_fit)
    S_fit = 0.5 * (Sb[:, fit] + np.swapaxes(Sb[:, fit], -1, -2))
    eig = np.linalg.eigvalsh(S_fit)
    if np.any(eig <= 0):
        i_state, i_k = np.argwhere(np.any(eig <= 0, axis=-1))[0]
        raise InputError(
            f"{where}: S(k) is not positive definite at k = {k[fit][i_k]:g}, a reliable point the small-k "
            f"continuation starts from{'' if single else f' (state index {i_state})'}"
        )
    c_fit = (np.diag(1.0 / x) - np.linalg.inv(S_fit)) / rho  # (n_states, n_fit, s, s)
    if method == "constant" or n_fit == 1:
        c_new = np.broadcast_to(c_fit.mean(axis=1, keepdims=True), (Sb.shape[0], n_flag, s, s))
    else:
        A = np.stack([np.ones(n_fit), k[fit] ** 2], axis=1)  # (n_fit, 2)
        coef = np.linalg.lstsq(A, c_fit.transpose(1, 0, 2, 3).reshape(n_fit, -1), rcond=None)[0]
        B = np.stack([np.ones(n_flag), k[:n_flag] ** 2], axis=1)
        c_new = (B @ coef).reshape(n_flag, Sb.shape[0], s, s).transpose(1, 0, 2, 3)
    Sinv_new = np.diag(1.0 / x) - rho * c_new
    out = Sb.copy()
    eig_new = np.linalg.eigvalsh(0.5 * (Sinv_new + np.swapaxes(Sinv_new, -1, -2)))
    if np.any(eig_new <= 0):
        i_state, i_k = np.argwhere(np.any(eig_new <= 0, axis=-1))[0]
        raise InputError(
            f"{where}: the {method} small-k continuation of c(k) gives an S(k) that is not positive definite "
            f"at k = {k[i_k]:g}{'' if single else f' (state index {i_state})'}; try --small-k constant"
        )
    out[:, :n_flag] = np.linalg.inv(Sinv_new)
    return out[0] if single else out
