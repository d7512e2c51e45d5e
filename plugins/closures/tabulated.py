"""Tabulated closure: a memory kernel read from a file, e.g. the model-free M(t) of ``memplug kernel invert``.

    --closure tabulated:file=memory.nc[,state=LJ-rho1.20-T0.810][,tail=zero|last]

M^{αα}(t) is interpolated linearly in ln t between the file's nodes (the representation the
inversion itself uses), constant (the first node's value) below the first node, and past the last
node zero (``tail=zero``, default: the memory is unknown there and a constant would freeze F into a
glass) or the last value (``tail=last``). The self memory is diagonal. The closure has no free
parameters, so ``memplug solve`` and fits just propagate it.

The file is a ``memplug-memory/1`` netCDF (`memplug.plugins.inversion.files`); ``state`` picks
one state when it holds several. Its dynamics must be the context's, since M has units of
1/time² (Newtonian) or 1/time (overdamped). The equation's Ω² comes from the statics: a memory
inverted with a fitted Ω² (``memplug kernel invert --omega2 fit``) reproduces F best with that Ω².
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from memplug.errors import InputError
from memplug.interfaces import Closure, Context
from memplug.kernels import ExplicitKernel


class TabulatedKernel(ExplicitKernel):
    """M^{αα}(t) linear in ln t between nodes; constant before the first, ``right`` after the last.

    Attributes:
        log_t: ln of the node times, shape ``(n,)``.
        values: M at the nodes, shape ``(n, s)``.
        right: values past the last node, shape ``(s,)``.
    """

    log_t: jax.Array
    values: jax.Array
    right: jax.Array

    def __init__(self, t_nodes, values, right):
        self.log_t = jnp.log(jnp.asarray(t_nodes, dtype=float))
        self.values = jnp.asarray(values, dtype=float)
        self.right = jnp.asarray(right, dtype=float)

    def __call__(self, t):
        t = jnp.asarray(t, dtype=float)
        lt = jnp.log(jnp.maximum(t, jnp.exp(self.log_t[0] - 1.0)))  # t = 0 → the first node's value

        def one(col, right):
            return jnp.interp(lt, self.log_t, col, left=col[0], right=right)

        diag = jax.vmap(one, in_axes=(1, 0), out_axes=1)(self.values, self.right)  # (m, s)
        return diag[:, :, None] * jnp.eye(self.values.shape[1])


class TabulatedClosure(Closure):
    """A memory kernel tabulated in a file (no free parameters); see the module docstring.

    Options: ``file`` (required), ``state`` (when the file holds several), ``tail`` (``zero`` or
    ``last``).
    """

    name = "tabulated"
    description = (
        "M(t) read from a memplug-memory/1 file (e.g. memplug kernel invert), linear in ln t"
    )
    options = {"file": None, "state": None, "tail": "zero"}

    def validate_options(self) -> None:
        from memplug.plugins.inversion.files import read_memory

        if self.config["file"] is None:
            raise self.option_error(
                "file", "the path of a memplug-memory/1 file (memplug kernel invert --out)"
            )
        if self.config["tail"] not in ("zero", "last"):
            raise self.option_error("tail", "zero or last")
        state = self.config["state"]
        self._table = read_memory(str(self.config["file"]), None if state is None else str(state))

    def _check(self, context: Context, dynamics: bool = True) -> None:
        tab = self._table
        s = tab["M"].shape[1]
        if context.n_species != s:
            raise InputError(
                f"closure 'tabulated': file {self.config['file']!r} has {s} species, the statics {context.n_species}"
            )
        if dynamics and tab["dynamics"] and tab["dynamics"] != context.dynamics:
            flag = " (add --newtonian)" if tab["dynamics"] == "newtonian" else ""
            raise InputError(
                f"closure 'tabulated': file {self.config['file']!r} holds a memory for {tab['dynamics']} "
                f"dynamics, the equation is {context.dynamics}{flag}"
            )

    def parameters(self, context: Context) -> list:
        self._check(context, dynamics=False)  # callers may set the dynamics after asking
        return []

    def kernel(self, theta, context: Context) -> TabulatedKernel:
        self._check(context)
        tab = self._table
        right = tab["M"][-1] if self.config["tail"] == "last" else np.zeros(tab["M"].shape[1])
        return TabulatedKernel(tab["t_M"], tab["M"], right)
