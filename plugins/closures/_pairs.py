"""Species pairs of a mixture: the per-pair parameters of the closures and their symmetric matrices."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from memplug.interfaces import Context


def pairs(context: Context) -> list[tuple[str, int, int]]:
    """``[("AA", 0, 0), ("AB", 0, 1), ("BB", 1, 1)]`` for a binary mixture: α ≤ β, row-major."""
    s = context.n_species
    names = (
        tuple(context.species)
        if len(context.species) == s
        else tuple(chr(65 + i) for i in range(s))
    )
    return [(names[a] + names[b], a, b) for a in range(s) for b in range(a, s)]


def pair_index(s: int) -> np.ndarray:
    """(s, s) table of pair numbers: ``idx[α, β] = idx[β, α]`` = position of (min, max) in `pairs`."""
    idx = np.zeros((s, s), dtype=int)
    n = 0
    for a in range(s):
        for b in range(a, s):
            idx[a, b] = idx[b, a] = n
            n += 1
    return idx


def symmetric(per_pair, s: int):
    """Per-pair values of shape ``(P, *rest)`` to symmetric matrices ``(*rest, s, s)`` (M^{βα} = M^{αβ})."""
    v = jnp.asarray(per_pair, dtype=float)
    m = v[pair_index(s)]  # (s, s, *rest)
    return jnp.moveaxis(jnp.moveaxis(m, 0, -1), 0, -1)


def omega2_per_pair(context: Context) -> np.ndarray:
    """Ω²_αβ of the statics for each pair, shape ``(P,)`` (zero off the diagonal for self correlators)."""
    om = context.omega2_matrix()
    xp = jnp if isinstance(om, jax.Array) else np  # traced statics stay traced
    return xp.stack([om[a, b] for _, a, b in pairs(context)])


def rate_scale_per_pair(context: Context) -> np.ndarray:
    """A positive rate for each pair: Ω²_αα on the diagonal, √(Ω²_αα Ω²_ββ) off it (defaults' scale)."""
    om = context.omega2_matrix()
    xp = jnp if isinstance(om, jax.Array) else np
    d = xp.abs(xp.diag(om))
    return xp.stack([xp.sqrt(d[a] * d[b]) for _, a, b in pairs(context)])
