"""The multi-layer perceptron (paper sec. IV B) as an equinox module, and its loss."""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

ACTIVATIONS = {"relu": jax.nn.relu, "gelu": jax.nn.gelu, "tanh": jnp.tanh, "silu": jax.nn.silu}
OUTPUTS = {"none": lambda x: x, "sigmoid": jax.nn.sigmoid}
LOSSES = ("l1", "l2", "huber")
SHORT_TIME = ("ballistic", "ballistic_linear", "none")


def ballistic_output(z: Array, u: Array) -> Array:
    """F_s from the raw network output ``z`` with the exact free-particle short-time limit built in.

    ``u = k_p² T t² / (2m)`` per row (broadcast over the species axis of ``z``): the free-particle
    (ballistic) limit of paper Eq. 1 is F_s = exp(−u). w = 1 − exp(−u) = 1 − exp(−t²/τ_0²),
    τ_0 = √2 / (k_p √(T/m)), is the fraction of that decay completed by t, and

        F = exp(−w e^{w z}).

    For t → 0: −ln F = w (1 + w z + …) = u + O(t⁴), so F(0) = 1 and 1 − F = k_p² T t² / 2m + O(t⁴)
    for *any* z: the network changes F only from order t⁴ on, where the interparticle forces
    first enter the exact short-time expansion. For t ≫ τ_0 (w = 1): F = exp(−e^z), i.e. the
    network predicts z = ln(−ln F), which is linear in ln t for a stretched exponential
    exp(−(t/τ)^β). 0 < F ≤ 1 for every z (the sigmoid output is not needed and not allowed).
    """
    w = -jnp.expm1(-u)[..., None]
    return jnp.exp(-w * jnp.exp(jnp.minimum(w * z, 30.0)))


def ballistic_linear_output(z: Array, u: Array, output: str) -> Array:
    """The additive variant (``short_time="ballistic_linear"``), w as in `ballistic_output`:

    - ``output="none"``:    F = 1 − w + w² z = exp(−u) + w² z
    - ``output="sigmoid"``: F = 1 − w / (1 + w e^z) = 1 − w σ(−z − ln w)

    Both give F(0) = 1 and 1 − F = u + O(t⁴) for any z, and reduce to F = z, F = σ(z) (the plain
    network) for t ≫ τ_0. The sigmoid form keeps exp(−u) < F < 1 for every z.
    """
    w = -jnp.expm1(-u)[..., None]
    if output == "sigmoid":
        return 1.0 - w * jax.nn.sigmoid(-z - jnp.log(w))
    return 1.0 - w + w * w * z


class MLP(eqx.Module):
    """Fully connected feed-forward network: ``n_in → hidden[0] → … → hidden[-1] → n_out``.

    Hidden layers use ``activation``; the output uses ``output`` (``"none"`` as in the paper, or
    ``"sigmoid"`` to keep F_s in (0, 1)). Parameters are float32 (training speed on CPU), independent
    of JAX's float64 default.
    """

    layers: tuple[eqx.nn.Linear, ...]
    activation: str = eqx.field(static=True)
    output: str = eqx.field(static=True)

    def __init__(
        self,
        n_in: int,
        hidden: Sequence[int],
        n_out: int,
        *,
        key: jax.Array,
        activation: str = "relu",
        output: str = "none",
    ):
        sizes = [n_in, *hidden, n_out]
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(
            eqx.nn.Linear(a, b, key=k, dtype=jnp.float32)
            for a, b, k in zip(sizes[:-1], sizes[1:], keys, strict=True)
        )
        self.activation = activation
        self.output = output

    def __call__(self, x: Float[Array, " n_in"]) -> Float[Array, " n_out"]:
        act = ACTIVATIONS[self.activation]
        for layer in self.layers[:-1]:
            x = act(layer(x))
        return OUTPUTS[self.output](self.layers[-1](x))

    def batch(self, x: Float[Array, "rows n_in"]) -> Float[Array, "rows n_out"]:
        return jax.vmap(self)(x)


def weight_l1(model: MLP) -> Float[Array, ""]:
    """Σ |W| over the weight matrices (biases excluded): the Lasso penalty."""
    return sum(jnp.sum(jnp.abs(layer.weight)) for layer in model.layers)


def data_loss(kind: str, pred, y, w) -> Float[Array, ""]:
    """Weighted mean of the per-entry loss; ``w`` (rows,) is 0 for padding / missing targets."""
    d = pred - y
    if kind == "l1":
        e = jnp.abs(d)
    elif kind == "l2":
        e = d**2
    else:  # huber with δ = 0.01 (F_s errors are ≪ 1)
        e = jnp.where(jnp.abs(d) < 0.01, 0.5 * d**2 / 0.01, jnp.abs(d) - 0.005)
    return jnp.sum(e * w[:, None]) / jnp.maximum(jnp.sum(w) * y.shape[-1], 1.0)
