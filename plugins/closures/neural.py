"""A neural memory kernel: positive and decaying by construction.

An equinox MLP g gives the relaxation spectrum of the memory over a fixed log-spaced grid of rates,

    M_αα(t) = Σ_{j=1}^{J} A_{jα} r_{jα} exp(−r_{jα} t),     A_{jα} = softplus(g(u_j))_α / J,
    r_{jα} = Ω²_αα 10^{x_j},   x_j evenly spaced on [rate_min, rate_max] decades,  u_j ∈ [−1, 1],

a superposition of Debye relaxations with non-negative weights; A_{jα} is mode j's share of the
dimensionless memory area ∫M dt. Such an M is positive, decreasing and convex for every set of
weights (completely monotone), and it is a sum of exponentials, so both solvers apply. The MLP weights are the closure's parameters: one flat vector ``weights`` that
`ParameterSpace` handles like any other, so the same optimizers (and
``jax.grad`` through the solver) can train it.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from memplug.interfaces import Closure, Context, Parameter
from memplug.kernels import ExponentialSumKernel


class NeuralClosure(Closure):
    """Memory from an MLP relaxation spectrum (positive, decaying, a sum of exponentials).

    Options: ``width`` and ``depth`` of the MLP (tanh), ``n_modes`` J, ``rate_min``/``rate_max``
    (decades of the rate grid relative to Ω²), ``seed`` of the initial weights.
    Parameters: ``weights``, all MLP weights and biases as one flat vector (identity transform).
    """

    starts_from_memory = True

    name = "neural"
    description = (
        "MLP relaxation spectrum: M(t) = sum_j A_j r_j exp(-r_j t), A_j = softplus(mlp(u_j))/J"
    )
    options = {"width": 16, "depth": 2, "n_modes": 16, "rate_min": -3.0, "rate_max": 1.0, "seed": 0}

    def validate_options(self) -> None:
        c = self.config
        for key in ("width", "depth", "n_modes"):
            v = c[key]
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise self.option_error(key, "a positive integer")
        if not isinstance(c["seed"], int | np.integer) or isinstance(c["seed"], bool):
            raise self.option_error("seed", "an integer")
        for key in ("rate_min", "rate_max"):
            if isinstance(c[key], bool) or not isinstance(c[key], int | float):
                raise self.option_error(key, "a number (decades relative to Omega^2)")
        if not c["rate_min"] < c["rate_max"]:
            raise self.option_error("rate_max", f"a number above rate_min={c['rate_min']!r}")

    def _split(self, n_species: int):
        """(flat initial weights, unravel, static part) of the MLP, built once per species count.

        The initial weights follow equinox's default law for ``Linear`` (uniform in ±1/√fan_in) but
        are drawn with NumPy from ``seed``: no JAX computation happens until the kernel is used.
        """
        cache = self.__dict__.setdefault("_split_cache", {})
        if n_species not in cache:
            c = self.config
            shape = eqx.filter_eval_shape(
                eqx.nn.MLP,
                1,
                n_species,
                int(c["width"]),
                int(c["depth"]),
                activation=jnp.tanh,
                key=jax.random.PRNGKey(0),
            )
            rng = np.random.default_rng(int(c["seed"]))
            values = []
            for layer in shape.layers:
                lim = 1.0 / np.sqrt(layer.in_features)
                values += [
                    rng.uniform(-lim, lim, layer.weight.shape),
                    rng.uniform(-lim, lim, layer.bias.shape),
                ]
            leaves = lambda m: [x for layer in m.layers for x in (layer.weight, layer.bias)]  # noqa: E731
            mlp = eqx.tree_at(leaves, shape, [np.asarray(v, dtype=np.float64) for v in values])
            params, static = eqx.partition(mlp, eqx.is_array)
            flat = np.concatenate([np.ravel(v) for v in jax.tree_util.tree_leaves(params)])
            _, unravel = ravel_pytree(jax.tree_util.tree_map(jnp.asarray, params))
            cache[n_species] = (flat, unravel, static)
        return cache[n_species]

    def parameters(self, context: Context) -> list[Parameter]:
        flat, _, _ = self._split(context.n_species)
        return [Parameter("weights", flat, (flat.size,), doc="MLP weights and biases, flattened")]

    def kernel(self, theta, context: Context) -> ExponentialSumKernel:
        s = context.n_species
        _, unravel, static = self._split(s)
        mlp = eqx.combine(unravel(jnp.asarray(theta["weights"], dtype=float)), static)
        J = int(self.config["n_modes"])
        u = jnp.linspace(-1.0, 1.0, J)
        lo, hi = self.config["rate_min"], self.config["rate_max"]
        om = jnp.asarray(np.abs(np.diag(context.omega2_matrix())), dtype=float)
        rates = om[None, :] * 10.0 ** (lo + (hi - lo) * (u[:, None] + 1) / 2)  # (J, s)
        area = jax.nn.softplus(jax.vmap(mlp)(u[:, None])) / J  # (J, s), mode shares of ∫M dt
        eye = jnp.eye(s)
        weights = (area * rates)[:, :, None] * eye  # (J, s, s), diagonal
        return ExponentialSumKernel(weights, rates[:, :, None] * eye + (1.0 - eye))
