"""What a kernels scan fits: the experiments (closure × dynamics × target × Lasso), the states,
the T_mct each state is measured against, and the fit jobs.

The paper's experiments (sec. II B, IV D; SI Figs. S4-S7), each fitted to F_s^{AA} and F_s^{BB}
at k_peak of every selected state:

- Eq. 6, ``stretched:n_exp=1…4``, Newtonian dynamics (Fig. 7, S4, S7);
- Eq. 8, ``double-stretched``, Newtonian;
- ``stretched:n_exp=2`` and ``double-stretched`` with overdamped dynamics (paper Eq. 5). Overdamped
  dynamics cannot follow the ballistic start F ≈ 1 − Ω²t²/2 of MD data, so these fits start past
  it: only target times t ≥ ``OVERDAMPED_T_MIN_VIBRATIONS`` / Ω are fitted (Ω² = k_peak² T, the
  vibrational frequency; 3/Ω ≈ 0.1-0.45 in LJ units), recorded per fit as ``t_min``;
- optional: ``stretched:n_exp=2`` fitted to the MCT solution F_mct (SI Figs. S5-S6) on states with
  1.02 ≤ T/T_mct ≤ 1.3 where F_mct decays, and ``stretched:n_exp=2`` with the Lasso term of
  Eq. 7 (Fig. S7 with and without it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from memplug.constants import T_MCT_MEMPLUG, T_MCT_PAPER, t_mct
from memplug.errors import InputError

#: Overdamped fits skip the ballistic start: t_min = this many vibrational times 1/Ω.
OVERDAMPED_T_MIN_VIBRATIONS = 3.0
#: The paper's experiments, as ``--closures`` text (``SPEC@DYNAMICS``; Newtonian by default).
PAPER_CLOSURES = (
    "stretched:n_exp=1;stretched:n_exp=2;stretched:n_exp=3;stretched:n_exp=4;double-stretched;"
    "stretched:n_exp=2@overdamped;double-stretched@overdamped"
)
#: The closure of the optional parts (MCT recovery, Lasso): Eq. 6 with the paper's N_exp = 2.
PART_CLOSURE = "stretched:n_exp=2"
#: T/T_mct window of the MCT-recovery fits (MCT still ergodic and its F decays in the window).
MCT_RECOVERY_WINDOW = (1.02, 1.3)
#: λ₁ of the Lasso variant: ~5 % of the data term of a good Eq. 6 fit (Σ|θ| ~ 2e3, loss ~ 5e-3).
DEFAULT_LASSO = 1e-7
DYNAMICS = ("newtonian", "overdamped")
STATE_SELECTIONS = ("all", "equilibrated")

TMCT_SOURCES = ("memplug", "paper")


@dataclass(frozen=True)
class Experiment:
    """One column ``fit`` of the kernels dataset: a closure spec fitted with one dynamics to one
    target, with λ₁ of the Lasso term (0: none)."""

    closure: str
    dynamics: str = "newtonian"
    target: str = "data"
    lasso: float = 0.0

    @property
    def part(self) -> str:
        """``main`` (the paper's fits to the data), ``mct-recovery`` or ``lasso``."""
        if self.target == "mct":
            return "mct-recovery"
        return "lasso" if self.lasso > 0 else "main"

    def label(self) -> str:
        """The ``fit`` coordinate: ``closure|dynamics`` (+ ``|target=mct``, ``|lasso=λ``)."""
        out = f"{self.closure}|{self.dynamics}"
        if self.target != "data":
            out += f"|target={self.target}"
        if self.lasso > 0:
            out += f"|lasso={self.lasso:g}"
        return out

    def slug(self) -> str:
        """A directory name for this experiment's result files."""
        return re.sub(r"[^A-Za-z0-9.=+-]+", "_", self.label())

    def n_exp(self) -> int:
        """N_exp of Eq. 6 (0 for other closures)."""
        from memplug.registry import parse_spec

        name, options = parse_spec(self.closure)
        return int(options.get("n_exp", 2)) if name == "stretched" else 0


def mct_recovery_experiment() -> Experiment:
    """The MCT-recovery experiment: Eq. 6 (N_exp = 2), Newtonian, fitted to F_mct (SI Figs. S5-S6)."""
    return Experiment(PART_CLOSURE, "newtonian", "mct")


def result_path(job) -> Path:
    """Where a scan fit's result file lives: ``<job.out>/<job.stem()>.nc``."""
    return Path(job.out) / f"{job.stem()}.nc"


def parse_experiments(text: str, option: str = "--closures") -> list[Experiment]:
    """``"stretched:n_exp=2;double-stretched@overdamped"`` → experiments (Newtonian by default);
    each closure spec must create (unknown names and options are an `InputError`)."""
    from memplug.registry import get_registry

    out: list[Experiment] = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        spec, _, dyn = part.partition("@")
        dyn = dyn.strip() or "newtonian"
        if dyn not in DYNAMICS:
            raise InputError(
                f"{option} {part!r}: dynamics {dyn!r}; expected {' or '.join(DYNAMICS)}"
            )
        try:
            get_registry().create("closures", spec.strip())
        except InputError as exc:
            raise InputError(f"{option} {part!r}: {exc}") from None
        out.append(Experiment(spec.strip(), dyn))
    if not out:
        raise InputError(
            f"{option} {text!r}: expected SPEC[@DYNAMICS];SPEC... (one or more closures)"
        )
    labels = [e.label() for e in out]
    twice = sorted({lab for lab in labels if labels.count(lab) > 1})
    if twice:
        raise InputError(f"{option} {text!r}: {', '.join(twice)} given more than once")
    return out


# --------------------------------------------------------------------------------------------
# T_mct
# --------------------------------------------------------------------------------------------


def tmct(potential: str, rho: float, source: str = "memplug") -> tuple[float, str]:
    """(T_mct, where it comes from) for (potential, ρ).

    ``memplug``: our own bisection (docs/mct.md) at ρ = 1.2, 1.4, 1.6, 1.8, interpolated in
    ln T – ln ρ in between; ``paper``: Table I (`memplug.constants.T_MCT_PAPER`), same interpolation.
    """
    if source not in TMCT_SOURCES:
        raise InputError(f"--tmct {source!r}: expected {' or '.join(TMCT_SOURCES)}")
    name = "memplug (docs/mct.md)" if source == "memplug" else "paper Table I"
    table = (T_MCT_PAPER if source == "paper" else T_MCT_MEMPLUG).get(potential, {})
    if not table:
        return math.nan, f"{name}: no value for {potential}"
    value = t_mct(potential, float(rho), source=source, interpolation="loglog")
    if not math.isfinite(value):
        return value, f"{name}: no value for {potential} at rho {rho:g}"
    interpolated = all(abs(r - float(rho)) >= 1e-6 for r in table)
    return value, name + (", interpolated in ln T-ln rho" if interpolated else "")


# --------------------------------------------------------------------------------------------
# states
# --------------------------------------------------------------------------------------------


def select_states(ds, states: str = "equilibrated") -> list[str]:
    """State ids of ``--states``: ``all``, ``equilibrated`` (the default) or a comma list of ids
    (each must be in the dataset), in the dataset's order (or the list's)."""
    ids = [str(s) for s in ds["state"].values]
    text = (states or "").strip()
    if text in STATE_SELECTIONS:
        if text == "all":
            return ids
        status = ds["status"].values.astype(str)
        chosen = [s for s, st in zip(ids, status, strict=True) if st == "equilibrated"]
        if not chosen:
            raise InputError("--states equilibrated: the dataset has no equilibrated state")
        return chosen
    wanted = list(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    if not wanted:
        raise InputError(
            f"--states {states!r}: expected all, equilibrated or a comma list of state ids"
        )
    missing = [s for s in wanted if s not in ids]
    if missing:
        sample = ", ".join(ids[:4])
        raise InputError(
            f"--states: {', '.join(missing)} not in the dataset ({len(ids)} states, e.g. {sample})"
        )
    return wanted


def vibrational_time(ds, state: str) -> float:
    """1/Ω with Ω² = k_peak² T (unit mass): the time of the ballistic start of F_s(k_peak, t)."""
    one = ds.sel(state=state)
    return 1.0 / (float(one["k_peak"]) * math.sqrt(float(one["T"])))


def fit_t_min(ds, state: str, experiment: Experiment, vibrations: float) -> float | None:
    """The fit window's start: None (all target times) for Newtonian fits, ``vibrations`` / Ω for
    overdamped ones (rounded to 4 significant digits so the job's inputs are stable text)."""
    if experiment.dynamics != "overdamped" or vibrations <= 0:
        return None
    return float(f"{vibrations * vibrational_time(ds, state):.4g}")


def closure_dim(closure: str, context) -> int:
    """Number of free parameters of ``closure`` for ``context`` (the default budget's unit)."""
    from memplug.registry import get_registry

    return int(get_registry().create("closures", closure).space(context).dim)
