"""State-wise train / validation / test splits (paper sec. II A and Figs. 4-5).

All times of a state go to the same part: the paper separates 10 % of the {LJ/WCA; T; ρ} states,
not 10 % of the rows, "to avoid training the MLP using data strongly correlated with the test set".
The validation part (for early stopping) is carved out of the *training* states, never the test
states. Every split is a pure function of the state table and a seed.

Split specifications (``--split``):

- ``random`` / ``random:test=0.1`` — seeded random fraction of the states for testing (Figs. 2-3, S1).
- ``temperature:cut=1.0`` — train on T/T_mct > cut, test on T/T_mct ≤ cut (Fig. 4);
  ``temperature:cut=0.8,absolute=True`` compares T itself with the cut.
- ``potential:train=LJ`` — train on LJ, test on the other potential(s) (Fig. 5; ``train=WCA``
  for the reverse).
- ``kfold:folds=5,fold=0`` — seeded k-fold cross-validation by state: fold ``fold`` of ``folds``
  is the test part (``memplug mlp crossval`` trains all folds, so every state is predicted once
  by a model that never saw it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memplug.errors import InputError
from memplug.registry import parse_spec

from .features import POTENTIALS, StateTable

SPLIT_OPTIONS = {
    "random": {"test": 0.1},
    "temperature": {"cut": 1.0, "absolute": False},
    "potential": {"train": "LJ"},
    "kfold": {"folds": 5, "fold": 0},
}


@dataclass(frozen=True)
class Split:
    """State ids of the three parts (disjoint)."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    spec: str
    seed: int

    def to_dict(self) -> dict:
        return {
            "spec": self.spec,
            "seed": self.seed,
            "train": list(self.train),
            "val": list(self.val),
            "test": list(self.test),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Split:
        return cls(tuple(d["train"]), tuple(d["val"]), tuple(d["test"]), d["spec"], int(d["seed"]))


def _parse(spec: str) -> tuple[str, dict]:
    kind, options = parse_spec(spec)
    if kind not in SPLIT_OPTIONS:
        raise InputError(
            f"--split {spec!r}: expected one of {', '.join(SPLIT_OPTIONS)} (with :key=value options)"
        )
    unknown = sorted(set(options) - set(SPLIT_OPTIONS[kind]))
    if unknown:
        valid = ", ".join(f"{k}={v!r}" for k, v in SPLIT_OPTIONS[kind].items())
        raise InputError(
            f"--split {spec!r}: unknown option(s) {', '.join(unknown)}; valid: {valid}"
        )
    return kind, {**SPLIT_OPTIONS[kind], **options}


def _n_part(n: int, fraction: float) -> int:
    """At least one state in the part (if there are two or more states), rounding otherwise."""
    if n < 2 or fraction <= 0:
        return 0
    return int(min(n - 1, max(1, round(fraction * n))))


def make_split(
    table: StateTable, spec: str = "random", seed: int = 0, val_fraction: float = 0.1
) -> Split:
    """Split the states of ``table`` by ``spec``; validation = ``val_fraction`` of the training states."""
    kind, opt = _parse(spec)
    rng = np.random.default_rng(seed)
    ids = np.asarray(table.ids)
    if kind == "random":
        frac = float(opt["test"])
        if not 0 <= frac < 1:
            raise InputError(f"--split {spec!r}: test must be in [0, 1), got {frac}")
        perm = rng.permutation(len(ids))
        n_test = _n_part(len(ids), frac)
        test_idx, train_idx = perm[:n_test], perm[n_test:]
    elif kind == "kfold":
        folds, fold = int(opt["folds"]), int(opt["fold"])
        if not 2 <= folds <= len(ids) or not 0 <= fold < folds:
            raise InputError(
                f"--split {spec!r}: expected 2 ≤ folds ≤ {len(ids)} states and 0 ≤ fold < folds"
            )
        perm = rng.permutation(len(ids))
        test_idx = perm[fold::folds]
        train_idx = np.setdiff1d(perm, test_idx)
        rng = np.random.default_rng([seed, fold])
    elif kind == "temperature":
        x = table.T if opt["absolute"] else table.T / table.tmct
        if np.isnan(x).any() and not opt["absolute"]:
            bad = ids[np.isnan(x)][:3]
            raise InputError(
                f"--split {spec!r}: T_mct unknown (Table I covers LJ/WCA, ρ 1.2-1.8) for {', '.join(bad)}; "
                "use absolute=True"
            )
        cut = float(opt["cut"])
        train_idx, test_idx = np.flatnonzero(x > cut), np.flatnonzero(x <= cut)
    else:
        train_pot = str(opt["train"])
        if train_pot not in POTENTIALS:
            raise InputError(f"--split {spec!r}: train must be one of {', '.join(POTENTIALS)}")
        train_idx = np.flatnonzero(table.potential == train_pot)
        test_idx = np.flatnonzero(table.potential != train_pot)
    if len(train_idx) < 2:
        raise InputError(
            f"--split {spec!r}: only {len(train_idx)} training state(s); need at least 2"
        )
    train_idx = rng.permutation(train_idx)
    n_val = _n_part(len(train_idx), val_fraction)
    val_idx, train_idx = train_idx[:n_val], train_idx[n_val:]
    part = lambda idx: tuple(sorted(str(s) for s in ids[idx]))  # noqa: E731
    return Split(part(train_idx), part(val_idx), part(np.asarray(test_idx, int)), spec, seed)
