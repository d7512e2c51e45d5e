"""The mode-coupling-theory closure (paper Eq. 12-13): M = M_mct from the statics.

For the single-wave-number memory equation of the paper (Eq. 5, F_s^{αα}(k_peak, t), F_s(0) = 1) the
MCT memory is the tagged-particle kernel at k_peak, K_s^α(k_peak, t), which depends on the
collective and tagged correlators at all wave numbers. The closure therefore solves the full
multi-component MCT once per context (collective F^{αβ}(k, t) and tagged F_s^α(k, t) on the
context's k-grid, with a probe exactly at k_peak; see `memplug.plugins.mct`), caches it in
``context.extra``, and returns M(t) as a tabulated explicit kernel. With it, solving Eq. 5
reproduces the MCT tagged correlator at k_peak.

Ω² conventions: overdamped Ω_s² = k_peak² T/ζ (ζ = 1), Newtonian Ω_s² = k_peak² T/m — the same as the
dataset's ``omega2 = diag(k_peak² T)`` for unit friction and mass.

Options: ``free`` — ``none`` (no parameters: M = M_mct) or ``amplitude`` (M^{αα} = A_α M_mct^{αα},
A = 1 initially); ``t_max``, ``N``, ``dt0``, ``tol`` — the time-doubling settings of the MCT solve.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from memplug.errors import InputError
from memplug.interfaces import Closure, Context, Parameter
from memplug.kernels import MemoryKernel
from memplug.plugins.mct.dynamics import default_solver, mct_self_memory, solve_context
from memplug.plugins.mct.kernels import ScaledKernel, TabulatedKernel

__all__ = ["MCTClosure", "mct_self_memory"]


class MCTClosure(Closure):
    """M(t) = M_mct(k_peak, t), the tagged MCT memory from S(k) (optionally with free amplitudes)."""

    name = "mct"
    description = "mode-coupling theory memory from S(k) (multi-component, tagged, at k_peak)"
    options: dict[str, Any] = {"free": "none", "t_max": 1e10, "N": 16, "dt0": 1e-6, "tol": 1e-10}

    def validate_options(self) -> None:
        if self.config["free"] not in ("none", "amplitude"):
            raise InputError(
                f"closure 'mct': option free={self.config['free']!r}; expected none or amplitude"
            )
        for key in ("t_max", "dt0", "tol"):
            if not float(self.config[key]) > 0:
                raise InputError(
                    f"closure 'mct': option {key}={self.config[key]!r}; expected a positive number"
                )
        if int(self.config["N"]) < 2:
            raise InputError(
                f"closure 'mct': option N={self.config['N']!r}; expected an integer >= 2"
            )

    def solver(self):
        c = self.config
        return default_solver(
            t_max=float(c["t_max"]), N=int(c["N"]), dt0=float(c["dt0"]), tol=float(c["tol"])
        )

    def parameters(self, context: Context) -> list[Parameter]:
        if self.config["free"] == "amplitude":
            s = context.n_species
            return [Parameter("amplitude", 1.0, (s,), 0.0, 1e3, "log", "A_α, factor on M_mct^{αα}")]
        return []

    def table(self, context: Context) -> tuple[np.ndarray, np.ndarray]:
        """(t, M) with M (n_t, s, s) diagonal: the MCT tagged memory at k_peak on the solver grid."""
        sol = solve_context(context, self.solver())
        M = sol.Ks_probe[:, 0]
        return sol.t, M[:, :, None] * np.eye(context.n_species)

    def kernel(self, theta: dict[str, Any], context: Context) -> MemoryKernel:
        t, M = self.table(context)
        base = TabulatedKernel(t, M)
        if self.config["free"] == "amplitude":
            amp = jnp.asarray(theta["amplitude"])
            return ScaledKernel(base, amp[:, None] * jnp.eye(context.n_species))
        return base

    def self_memory(self, context: Context, t) -> tuple[np.ndarray, np.ndarray]:
        """(M_mct(t), F_s^mct(t)) at k_peak on times ``t``, each (n_t, s, s): see `mct_self_memory`."""
        return mct_self_memory(context, t, solver=self.solver())
