"""Built-in fit targets: ``data`` (the dataset's measured F_s^{αα}(k_peak, t)) and ``synthetic``
(F of a known kernel plus seeded noise). Registered through the ``register_targets`` hook like any
third-party target; the MCT solution (``mct``) and the MLP surrogate's prediction (``mlp``) come
with their plugins.
"""

from __future__ import annotations

from memplug.hookspecs import hookimpl


@hookimpl
def register_targets(register):
    from memplug.plugins.targets.builtin import data_target, synthetic_target

    register(data_target)
    register(synthetic_target)
