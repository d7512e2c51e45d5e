"""Markovian-embedding solver (diffrax) for kernels that are sums of exponentials.

For M(t) = Σ_j w_j e^{−r_j t} (element-wise rates), the memory integral is Σ_j w_j ∘ z_j with auxiliary
variables z_{j,ab c}(t) = ∫_0^t e^{−r_{j,ab}(t−τ)} F'_{bc}(τ) dτ that obey ż_j = −r_j z_j + F'.
The integro-differential equation becomes a stiff ODE system solved by an implicit adaptive method:

    overdamped (α = 0):  β F' = −γ F − Σ_j (w_j z_j),        ż_j = −r_j z_j + F'
    Newtonian:           F' = V,  α V' = −β V − γ F − Σ_j (w_j z_j),  ż_j = −r_j z_j + V

with (w_j z_j)_{ac} = Σ_b w_{j,ab} z_{j,abc}. It is the fast path where it applies and an independent
check of the time-doubling solver.
"""

from __future__ import annotations

import diffrax
import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Float

from memplug.equation import MemoryEquation
from memplug.errors import InputError
from memplug.solution import SOLVER_FAILED, Solution, status_from


class DiffraxSolver(eqx.Module):
    """Configuration of the embedding solver (first or second order in time follows
    ``MemoryEquation.newtonian``).

    Attributes:
        t_max: end time.
        ts: output times (default: log-spaced from t_min to t_max, plus t = 0).
        rtol, atol: PID step-size controller tolerances.
        solver: a diffrax solver (default Kvaerno5, L-stable, for the stiff rates).
        max_steps: step limit; exceeding it is reported in the status, never raised.
    """

    t_max: float = eqx.field(static=True, default=1e5)
    t_min: float = eqx.field(static=True, default=1e-6)
    n_out: int = eqx.field(static=True, default=400)
    rtol: float = eqx.field(static=True, default=1e-10)
    atol: float = eqx.field(static=True, default=1e-12)
    max_steps: int = eqx.field(static=True, default=100_000)
    dt0: float = eqx.field(static=True, default=1e-8)
    blowup: float = eqx.field(static=True, default=1e8)
    ts: tuple | None = eqx.field(static=True, default=None)
    solver: diffrax.AbstractSolver = eqx.field(default_factory=diffrax.Kvaerno5)

    def times(self) -> Float[np.ndarray, " n_t"]:
        if self.ts is not None:
            return np.asarray(self.ts, dtype=float)
        return np.concatenate([[0.0], np.geomspace(self.t_min, self.t_max, self.n_out)])

    @eqx.filter_jit
    def solve(self, eq: MemoryEquation, newtonian: bool | None = None) -> Solution:
        """Solve ``eq`` (jit-compiled once per configuration, equation structure and ``newtonian``)."""
        parts = getattr(eq.kernel, "exponential_sum", lambda: None)()
        if parts is None:
            raise InputError(
                f"the diffrax solver needs a sum-of-exponentials kernel; {type(eq.kernel).__name__} is not one"
            )
        w, r = parts
        w = eq.to_canonical(w, lead=1)  # (J, K, s, s)
        r = jnp.broadcast_to(eq.to_canonical(jnp.broadcast_to(r, parts[0].shape), lead=1), w.shape)
        J, K, s, _ = w.shape
        if newtonian is None:
            newtonian = eq.newtonian
        alpha, beta, gamma = eq.alpha, eq.beta, eq.gamma

        def memory(z):
            # (w_j z_j)_{kac} = Σ_{j,b} w_{jkab} z_{jkabc}
            return jnp.einsum("jkab,jkabc->kac", w, z)

        if newtonian:
            ainv = jnp.linalg.inv(alpha)

            def rhs(t, y, args):
                F, V, z = y
                acc = -jnp.einsum("kab,kbc->kac", ainv, _mm(beta, V) + _mm(gamma, F) + memory(z))
                dz = -r[..., None] * z + V[None, :, None, :, :]
                return V, acc, dz

            y0 = (eq.F0, jnp.zeros_like(eq.F0), jnp.zeros((J, K, s, s, s)))
        else:
            binv = jnp.linalg.inv(beta)

            def rhs(t, y, args):
                F, z = y
                dF = -jnp.einsum("kab,kbc->kac", binv, _mm(gamma, F) + memory(z))
                dz = -r[..., None] * z + dF[None, :, None, :, :]
                return dF, dz

            y0 = (eq.F0, jnp.zeros((J, K, s, s, s)))

        ts_np = self.times()
        ts = jnp.asarray(ts_np)
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(rhs),
            self.solver,
            t0=0.0,
            t1=float(ts_np[-1]),
            dt0=self.dt0,
            y0=y0,
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=diffrax.PIDController(rtol=self.rtol, atol=self.atol),
            max_steps=self.max_steps,
            throw=False,
        )
        F = sol.ys[0]
        status = status_from(F, jnp.max(jnp.abs(eq.F0)), self.blowup)
        status = status | jnp.where(sol.result == diffrax.RESULTS.successful, 0, SOLVER_FAILED)
        M = eq.kernel(ts)
        return Solution(
            t=ts,
            F=eq.from_canonical(F, lead=1),
            M=M,
            status=status,
            iterations=jnp.asarray(0),
        )


def _mm(a, b):
    return jnp.einsum("kab,kbc->kac", a, b)
