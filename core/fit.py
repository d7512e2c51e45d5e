"""Fitting a closure to target dynamics: the loss of paper Eq. 7, population evaluation, the
optimizer loop with checkpoint/resume.

    L(θ) = Σ_{t_i, α} [F_target^{αα}(k_p, t_i) − F_θ^{αα}(t_i)]² + λ₁ Σ_j |θ_j|          (Eq. 7)

F_θ is the solution of the memory equation (paper Eq. 5: overdamped, F(0) = 1, γ = Ω²) with the
closure's kernel M(t; θ), solved by the time-doubling solver and interpolated onto the target's own
times t_i (optionally restricted to a window t_min ≤ t_i ≤ t_max). The Lasso term λ₁ Σ|θ| acts on the
*physical* parameter values (default λ₁ = 0). Optimizers work on the closure's unconstrained vector
u (``Closure.space(context)``); a whole population of u is scored in one ``jax.jit(jax.vmap(...))``
call. A solve that diverges or is flagged (``Solution.status != 0``) or gives a non-finite loss
scores +inf, which optimizers rank last: a fit never crashes on a bad candidate.

`run_fit` drives an `Optimizer` (ask/tell) until the loss reaches
the target, the evaluation budget is spent, or the optimizer stops. After every generation it
writes a checkpoint (pickle of the optimizer state, the loop's history and numpy's global RNG
state) atomically, so a fit killed at any moment resumes from its last generation and ends with
exactly the same θ and loss as an uninterrupted run with the same seed.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import pickle
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from memplug.errors import InputError
from memplug.fit_results import HISTORY_COLUMNS
from memplug.interfaces import Closure, Context, Optimizer
from memplug.io import atomic_write_bytes
from memplug.model import equation_for
from memplug.solvers import TimeDoublingSolver
from memplug.targets import Target


def r2_score(prediction: np.ndarray, truth: np.ndarray) -> float:
    """R² = 1 − SS_res / SS_tot (paper Eq. 2-4) over all entries.

    SS_tot is taken around the mean of the truth (the usual definition; the paper's Eq. 4 prints
    the mean of the predictions, which coincides for an unbiased fit).
    """
    p, y = np.asarray(prediction, float).ravel(), np.asarray(truth, float).ravel()
    ss_res = float(np.sum((p - y) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan


def rmse_eq_s1(prediction: np.ndarray, truth: np.ndarray) -> float:
    """RMSE of paper SI Eq. S1 over states, times t_x and species α:

        RMSE = sqrt( Σ_states Σ_{t_x} Σ_α [F_sim^{αα}(k_p, t_x) − F^{αα}(k_p, t_x)]² / N_states )

    ``prediction`` and ``truth`` have shape ``(n_t, n_species)`` (one state, N_states = 1) or
    ``(N_states, n_t, n_species)``. As printed, Eq. S1 divides the sum over states, times *and*
    species by the number of states only, so for one state it is sqrt(SSR), not a per-point root
    mean square (that would be sqrt(SSR / n) with n = n_t · n_species).
    """
    p, y = np.asarray(prediction, float), np.asarray(truth, float)
    if p.shape != y.shape or p.ndim not in (2, 3):
        raise InputError(
            f"rmse_eq_s1: expected two arrays (n_t, s) or (states, n_t, s) of one shape, "
            f"got {p.shape} and {y.shape}"
        )
    n_states = 1 if p.ndim == 2 else p.shape[0]
    return math.sqrt(float(np.sum((p - y) ** 2)) / n_states)


def information_criteria(ssr: float, n: int, k: int) -> tuple[float, float]:
    """(AIC, BIC) of a least-squares fit with Gaussian residuals of unknown variance σ̂² = SSR/n:

        AIC = n ln(SSR/n) + 2k,        BIC = n ln(SSR/n) + k ln n

    (additive constants dropped), for ``ssr`` the sum of squared residuals, ``n`` fitted points and
    ``k`` free parameters. SSR = 0 gives −inf.

    The residuals of MD correlation functions are correlated in time (neighbouring t_i of one F_s
    are not independent draws), so n overstates the number of independent observations and the
    absolute values (and the penalty's weight against the n ln σ̂² term) are not calibrated. Only
    differences ΔAIC, ΔBIC between closures fitted to the same points (same n) are meant to be
    compared, and then as a ranking, not as likelihood-ratio probabilities.
    """
    counts = isinstance(n, int | np.integer) and isinstance(k, int | np.integer)
    if not (counts and n >= 1 and k >= 0):
        raise InputError(
            f"information_criteria: expected n >= 1 points and k >= 0 parameters, got n={n}, k={k}"
        )
    if not ssr >= 0:
        raise InputError(
            f"information_criteria: expected a sum of squared residuals >= 0, got {ssr}"
        )
    fit_term = n * math.log(ssr / n) if ssr > 0 else -math.inf
    return fit_term + 2 * k, fit_term + k * math.log(n)


# --------------------------------------------------------------------------------------------
# the loss
# --------------------------------------------------------------------------------------------


#: Fits solve a multiple of this many blocks (see `solver_for`).
BLOCK_STEP = 4


def solver_for(t: np.ndarray, context: Context, N: int = 16) -> TimeDoublingSolver:
    """A time-doubling solver covering ``t``: dt0 resolves both the first target time and the
    vibrational time 1/Ω², t_max is the last target time."""
    w_max = float(np.max(np.abs(np.diag(context.omega2_matrix()))))
    dt0 = min(float(t[0]) / 4.0, 0.05 / max(w_max, 1e-12), 1e-2)
    solver = TimeDoublingSolver(N=int(N), dt0=dt0, t_max=float(t[-1]))
    # the block count, rounded up to a multiple of BLOCK_STEP, is all of the state a compiled fit
    # depends on: the states of a dataset (8-20 blocks) share 4 compilations per closure instead of
    # one each; the extra blocks lie past the last target time (the solve is causal: F at the
    # target times is unchanged) and cost ~15 % more per solve on average
    return dataclasses.replace(solver, blocks=-(-solver.n_blocks // BLOCK_STEP) * BLOCK_STEP)


#: Compiled (population loss, population loss + gradient, outputs) per problem key, least recently
#: used first. Bounded: each entry keeps its first problem (target arrays, closure) and XLA
#: executables alive, so a long ``compare`` or Dask worker would otherwise grow without limit.
_COMPILED: OrderedDict[tuple, tuple[Callable, Callable, Callable]] = OrderedDict()
#: How many compiled problems stay in memory (a few states × closures of one run).
COMPILED_CACHE_SIZE = 8

#: Environment variable naming a directory for JAX's persistent compilation cache (opt-in).
COMPILATION_CACHE_ENV = "MEMPLUG_COMPILATION_CACHE"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Keep compiled losses on disk in ``path`` (default: ``$MEMPLUG_COMPILATION_CACHE``; neither
    set: nothing happens, returns None).

    JAX's persistent compilation cache stores each XLA executable under a hash of the program,
    its constants (the state's statics) and the compiler version, so a later process fitting the
    same (state, closure, solver) — a re-run, ``--resume`` after a kill, a Dask worker — loads it
    instead of compiling: measured 27 s → 6 s wall for the first loss + gradient of Eq. 8 on a
    real state (docs/performance.md). The environment variable is set too, so worker processes
    started afterwards use the same directory.
    """
    path = path if path is not None else os.environ.get(COMPILATION_CACHE_ENV) or None
    if path is None:
        return None
    path = Path(path).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".probe.")
        probe.close()
    except OSError as exc:
        raise InputError(
            f"--compile-cache {path}: not a writable directory ({exc.strerror or exc})"
        ) from None
    jax.config.update("jax_compilation_cache_dir", str(path))
    os.environ[COMPILATION_CACHE_ENV] = str(path)
    return path


@functools.cache
def _compilation_cache_from_env() -> Path | None:
    """Once per process: honour ``$MEMPLUG_COMPILATION_CACHE`` (a bad value is an InputError)."""
    return enable_compilation_cache(None)


#: Whether problems of a key (closure, space, solver configuration, statics' shapes) can take
#: their statics as traced arguments (found once per key by `FitProblem._probe`).
_TRACEABLE: dict[tuple, bool] = {}
#: Time arrays entering compiled functions are padded to a multiple of this length.
PAD_TIMES = 64


def _pad_rows(a: np.ndarray, n: int, fill: float | None = None) -> np.ndarray:
    """``a`` with rows appended up to ``n``: copies of its last row, or ``fill``."""
    a = np.asarray(a, float)
    if len(a) >= n:
        return a
    extra = (
        np.repeat(a[-1:], n - len(a), axis=0)
        if fill is None
        else np.full((n - len(a),) + a.shape[1:], fill)
    )
    return np.concatenate([a, extra])


def pad_times(t) -> jax.Array:
    """Times padded (repeating the last one) to the next multiple of `PAD_TIMES`."""
    t = np.atleast_1d(np.asarray(t, float))
    return jnp.asarray(_pad_rows(t, -(-len(t) // PAD_TIMES) * PAD_TIMES))


#: Context fields passed as arrays into compiled functions (when not None).
CONTEXT_ARRAYS = ("k", "S", "rho", "x", "T", "k_peak", "omega2", "masses")


class _NoExtra(dict):
    """``Context.extra`` inside a compiled fit: the first state's plugin data must not leak into
    the others', so any read fails (and the problem keeps its statics as constants instead)."""

    def _fail(self, *args, **kwargs):
        raise LookupError("Context.extra is not available to a kernel traced with its statics")

    __getitem__ = get = __contains__ = __iter__ = __len__ = keys = values = items = _fail


_NO_EXTRA = _NoExtra()


def _context_arrays(context: Context) -> dict[str, Any]:
    """The context's array and scalar statics as float64 JAX arrays (Ω² as its matrix)."""
    out = {}
    for name in CONTEXT_ARRAYS:
        value = context.omega2_matrix() if name == "omega2" else getattr(context, name)
        if value is not None:
            out[name] = jnp.asarray(np.asarray(value, float))
    return out


def compiled_for(
    key: tuple, build: Callable[[], Any], cache: OrderedDict | None = None, size: int | None = None
):
    """The compiled functions of ``key`` from a bounded LRU cache (default: the fits' own,
    `COMPILED_CACHE_SIZE` entries), built on a miss."""
    cache = _COMPILED if cache is None else cache
    size = COMPILED_CACHE_SIZE if size is None else size
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    fns = cache[key] = build()
    while len(cache) > size:
        cache.popitem(last=False)
    return fns


NORMALISATIONS = ("unit", "paper")


def normalisation_scale(context: Context, normalisation: str) -> np.ndarray:
    """F_s^{αα}(0) of a normalisation, shape ``(s,)``: ``unit`` → 1 (the dataset's F_s, F(0) = 1);
    ``paper`` → S^{αα}(k_p) (paper Eq. 1 multiplies the self part by S^{αα}(k_p)), interpolated
    on the statics' k grid. The memory equation is linear in F, so the scaled F is the solution
    with F(0) = S^{αα}(k_p) and the same kernel."""
    s = context.n_species
    if normalisation == "unit":
        return np.ones(s)
    if normalisation != "paper":
        raise InputError(f"--normalisation: expected unit or paper, got {normalisation!r}")
    if context.S is None or context.k is None or context.k_peak is None:
        raise InputError(
            "--normalisation paper: the statics have no S(k) and k_peak to take S^{αα}(k_p) from"
        )
    S = np.asarray(context.S, float).reshape(len(context.k), s, s)
    return np.array([float(np.interp(context.k_peak, context.k, S[:, a, a])) for a in range(s)])


class FitProblem:
    """Loss (Eq. 7) of a closure against a target, on the unconstrained parameter vector u.

    Args:
        closure: the closure to fit.
        target: what to reproduce.
        lasso: λ₁ of the L1 term on the physical parameters.
        t_min: keep only target times ≥ t_min (None: no limit).
        t_max: keep only target times ≤ t_max (None: no limit).
        N: the solver's half-block size (blocks of 4N points; 16 is accurate to ~1e-5 in F).
    """

    def __init__(
        self,
        closure: Closure,
        target: Target,
        *,
        lasso: float = 0.0,
        t_min: float | None = None,
        t_max: float | None = None,
        N: int = 16,
        normalisation: str = "unit",
    ):
        if lasso < 0 or not math.isfinite(lasso):
            raise InputError(f"--lasso: expected a finite value >= 0, got {lasso}")
        if isinstance(N, bool) or not isinstance(N, int | np.integer) or N < 1:
            raise InputError(f"--solver-n: expected a positive integer, got {N!r}")
        self.normalisation = normalisation
        self.scale = normalisation_scale(target.context, normalisation)
        if normalisation != "unit":
            target = dataclasses.replace(
                target, F=np.asarray(target.F, float) * self.scale,
                info=target.info | {"normalisation": normalisation, "F0": self.scale.tolist()},
            )  # fmt: skip
        self.closure, self.target, self.lasso = closure, target, float(lasso)
        self.context = target.context
        keep = np.ones(len(target.t), bool)
        if t_min is not None:
            keep &= target.t >= t_min
        if t_max is not None:
            keep &= target.t <= t_max
        if keep.sum() < 2:
            raise InputError(
                f"--t-min/--t-max: the window [{t_min}, {t_max}] keeps {int(keep.sum())} of the "
                f"target's times ({target.t[0]:.3g} … {target.t[-1]:.3g}); expected at least 2"
            )
        self.window = keep
        self.t = np.asarray(target.t[keep], float)
        self.F_target = np.asarray(target.F[keep], float)
        self.space = closure.space(self.context)
        # the solver covers every target time (also outside the window, for plots of the fit)
        self.solver = solver_for(np.asarray(target.t, float), self.context, N=N)
        self.dim = self.space.dim
        # padded to a common length (a multiple of PAD_TIMES; padded rows are NaN in the target
        # and count zero), so targets of different lengths share compiled code
        self._t = pad_times(self.t)
        self._F = jnp.asarray(_pad_rows(np.asarray(self.F_target, float), len(self._t), np.nan))
        self._batch_size: dict[str, int] = {}
        # The statics (the context's arrays, dt0, F(0)) are arguments of the compiled functions, as
        # are the target's times and values: one compilation serves every state of a dataset that
        # has the same block count (and another target, window or resumed fit of the same state).
        # A closure whose kernel needs concrete statics (e.g. MCT's vertices from S(k)) is found
        # by one trace and gets them as constants instead: one compilation per state.
        self.statics = {
            "context": _context_arrays(self.context), "dt0": jnp.asarray(float(self.solver.dt0)),
            "scale": jnp.asarray(self.scale, float),
        }  # fmt: skip
        shared = (
            closure.spec(), type(closure).__qualname__, self.lasso, self.context.n_species,
            tuple(self.context.species), self.context.dynamics, self.space.describe(),
            dataclasses.replace(self.solver, dt0=0.0, t_max=0.0),  # static configuration (fixed block count)
            tuple((k, v.shape) for k, v in sorted(self.statics["context"].items())),
        )  # fmt: skip
        verdict = _TRACEABLE.get(shared)
        if verdict is None:
            verdict = _TRACEABLE[shared] = self._probe()
        self.traced = verdict
        #: Problems with equal keys share compiled code (`compiled_for`).
        self.compile_key = shared + (
            ("traced",) if self.traced else (self.context.fingerprint(), self.solver)
        )
        _compilation_cache_from_env()
        self._batch_loss, self._batch_value_and_grad, self._outputs_jit = compiled_for(
            self.compile_key,
            lambda: (
                jax.jit(jax.vmap(self._loss, in_axes=(0, None, None, None))),
                jax.jit(jax.vmap(jax.value_and_grad(self._loss), in_axes=(0, None, None, None))),
                jax.jit(self._outputs),
            ),
        )

    def _probe(self) -> bool:
        """Whether the loss can be traced with the statics as arguments (one trace, no compile)."""
        self.traced = True
        try:
            jax.eval_shape(self._loss, jnp.zeros(self.dim), self._t, self._F, self.statics)
        except Exception:  # noqa: BLE001 - any failure to trace means: keep the statics constant
            return False
        return True

    def bind(self, statics=None) -> tuple[Context, Any, Any]:
        """(context, solver, F(0) scale) of ``statics`` (default: this problem's); the traced
        versions inside a compiled function of a traceable problem, this problem's own otherwise."""
        if not self.traced:
            return self.context, self.solver, jnp.asarray(self.scale, float)
        st = self.statics if statics is None else statics
        ctx = dataclasses.replace(self.context, **st["context"], extra=_NO_EXTRA)
        return ctx, dataclasses.replace(self.solver, dt0=st["dt0"]), st["scale"]

    # -- JAX-traceable pieces ------------------------------------------------------------------
    def theta(self, u) -> dict[str, Any]:
        """Physical parameters (dict of arrays) of the unconstrained vector ``u``."""
        return self.space.unpack(self.space.from_unconstrained(u))

    def solve(self, u, statics=None):
        context, solver, _ = self.bind(statics)
        return solver.solve(equation_for(self.closure, self.theta(u), context))

    def predict(self, u, t=None, statics=None):
        """F_θ^{αα} at times ``t`` (default: the target's windowed times), shape ``(n_t, s)``, and
        the solve status."""
        sol = self.solve(u, statics)
        F = sol.interpolate(self._t if t is None else t)
        return jnp.diagonal(F, axis1=-2, axis2=-1) * self.bind(statics)[2], sol.status

    def _loss(self, u, t, F_target, statics=None):
        F, status = self.predict(u, t, statics)
        sq = jnp.sum(jnp.where(jnp.isnan(F_target), 0.0, F - F_target) ** 2)  # NaN: padding
        if self.lasso:
            sq = sq + self.lasso * jnp.sum(jnp.abs(self.space.from_unconstrained(u)))
        bad = (status != 0) | ~jnp.isfinite(sq)
        return jnp.where(bad, jnp.inf, sq)

    def loss(self, u):
        """Eq. 7 for one vector ``u``; +inf for a flagged or non-finite solve."""
        return self._loss(u, self._t, self._F)

    def _outputs(self, u, t, t_M, statics=None):
        sol = self.solve(u, statics)
        F = jnp.diagonal(sol.interpolate(t), axis1=-2, axis2=-1) * self.bind(statics)[2]
        return F, sol.interpolate(t_M, which="M"), sol.status

    def outputs(self, x: np.ndarray, t: np.ndarray | None = None, t_M: np.ndarray | None = None):
        """NumPy (F^{αα}(t) of shape (n_t, s), M(t_M) of shape (n_M, s, s), status) for one vector
        (jit-compiled once); t defaults to the windowed target times, t_M to t."""
        t = self.t if t is None else np.asarray(t, float)
        t_M = t if t_M is None else np.asarray(t_M, float)
        F, M, status = self._outputs_jit(
            jnp.asarray(x, float), pad_times(t), pad_times(t_M), self.statics
        )
        return np.asarray(F)[: len(t)], np.asarray(M)[: len(t_M)], int(status)

    # -- NumPy-facing --------------------------------------------------------------------------
    def _chunked(self, fn, U: np.ndarray, kind: str):
        """``fn`` over the rows of ``U`` in batches of one fixed size (the first population size
        seen for ``kind``), the last one padded by repeating its first row: a population that grows
        (IPOP restarts double it) reuses the compiled code instead of compiling a new shape."""
        U = np.atleast_2d(np.asarray(U, float))
        size = self._batch_size.setdefault(kind, U.shape[0])
        outs = []
        for a in range(0, U.shape[0], size):
            part = U[a : a + size]
            n = part.shape[0]
            if n < size:
                part = np.concatenate([part, np.repeat(part[:1], size - n, axis=0)])
            out = fn(jnp.asarray(part), self._t, self._F, self.statics)
            outs.append(jax.tree.map(lambda v, n=n: np.asarray(v)[:n], out))
        return jax.tree.map(lambda *v: np.concatenate(v), *outs)

    def evaluate(self, U: np.ndarray) -> np.ndarray:
        """Losses of a population ``U`` of shape ``(P, dim)``: jitted, vmapped calls of one batch size."""
        return self._chunked(self._batch_loss, U, "loss")

    def evaluate_with_grad(self, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f, g = self._chunked(self._batch_value_and_grad, U, "grad")
        return f, g

    def vector(self, theta: dict[str, Any]) -> np.ndarray:
        """The unconstrained vector of physical parameters ``theta``."""
        return np.asarray(self.space.to_unconstrained(self.space.pack(theta)), float)

    def initial_vector(self) -> np.ndarray:
        return self.vector(self.closure.initial(self.context))


# --------------------------------------------------------------------------------------------
# the optimizer loop
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitSettings:
    """Stopping rules and the optimizer's start.

    ``budget`` counts loss evaluations (a loss + gradient evaluation counts as one); ``sigma0`` is
    the initial step in the unconstrained space (paper: 5e-4).
    """

    budget: int = 20_000
    target_loss: float = 1e-6
    seed: int = 0
    sigma0: float = 5e-4

    def __post_init__(self):
        if not isinstance(self.budget, int | np.integer) or self.budget <= 0:
            raise InputError(
                f"--budget: expected a positive number of evaluations, got {self.budget}"
            )
        if not self.sigma0 > 0:
            raise InputError(f"--sigma0: expected a positive step, got {self.sigma0}")
        if self.target_loss < 0:
            raise InputError(f"--target-loss: expected >= 0, got {self.target_loss}")
        if not 0 <= int(self.seed) < 2**32:
            raise InputError(f"--seed: expected an integer in [0, 2^32), got {self.seed}")


@dataclass
class Progress:
    """What the loop reports after each generation (for progress bars and tests)."""

    generation: int
    evaluations: int
    best_loss: float
    elapsed: float


@dataclass
class FitOutcome:
    """The result of `run_fit`.

    ``history`` has one row per generation: generation, evaluations, best loss so far, best loss
    of the generation, elapsed seconds.
    """

    x: np.ndarray
    loss: float
    evaluations: int
    generations: int
    history: np.ndarray
    stop_reason: str
    elapsed: float
    resumed: bool = False
    #: one dict per stage of the fit (name, loss, evaluations, stop reason), e.g. CMA-ES + polish
    stages: list[dict[str, Any]] = field(default_factory=list)


CHECKPOINT_FORMAT = "memplug-checkpoint/1"


def _load_checkpoint(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        with open(path, "rb") as fh:
            ck = pickle.load(fh)
    except Exception as exc:
        raise InputError(
            f"{path}: checkpoint is unreadable ({type(exc).__name__}); delete it or run without --resume"
        ) from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path}: not a memplug checkpoint ({CHECKPOINT_FORMAT})")
    if ck.get("key") != key:
        diff = sorted(
            k for k in set(key) | set(ck.get("key", {})) if key.get(k) != ck.get("key", {}).get(k)
        )
        raise InputError(
            f"{path}: checkpoint was written for other inputs (differs in {', '.join(diff)}); "
            "delete it or run without --resume"
        )
    return ck


def run_fit(
    problem: FitProblem,
    optimizer: Optimizer,
    x0: np.ndarray,
    settings: FitSettings = FitSettings(),
    *,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    key: dict[str, Any] | None = None,
    callback: Callable[[Progress], None] | None = None,
) -> FitOutcome:
    """Minimise ``problem``'s loss with ``optimizer`` from ``x0`` (unconstrained).

    Stops when the best loss ≤ ``settings.target_loss``, when ``settings.budget`` evaluations are
    spent, or when the optimizer stops. With ``checkpoint`` a pickle is written atomically after
    every generation; with ``resume`` an existing checkpoint (written for the same ``key``) is
    continued. ``key`` identifies the inputs (closure, optimizer, target, settings).
    """
    key = dict(key or {}) | {
        "optimizer": type(optimizer).__name__,
        "seed": int(settings.seed),
        "sigma0": float(settings.sigma0),
        "dim": problem.dim,
        "target": problem.target.fingerprint(),
        "lasso": problem.lasso,
        "window": (float(problem.t[0]), float(problem.t[-1]), len(problem.t)),
    }
    ck_path = Path(checkpoint) if checkpoint is not None else None
    ck = _load_checkpoint(ck_path, key) if (resume and ck_path is not None) else None
    if ck is not None:
        optimizer.restore(ck["optimizer_state"])
        np.random.set_state(ck["numpy_rng"])
        gen, evals = ck["generation"], ck["evaluations"]
        best_x, best_f = ck["best_x"], ck["best_loss"]
        history = list(ck["history"])
        elapsed0 = ck["elapsed"]
    else:
        x0 = np.asarray(x0, float)
        if x0.shape != (problem.dim,):
            raise InputError(
                f"initial vector has shape {x0.shape}; the closure has {problem.dim} parameters"
            )
        optimizer.start(x0, sigma0=settings.sigma0, seed=int(settings.seed), budget=settings.budget)
        gen, evals, best_x, best_f, history, elapsed0 = 0, 0, x0, math.inf, [], 0.0
    t_start = time.perf_counter()

    def stop_reason() -> str | None:
        if best_f <= settings.target_loss:
            return "target loss reached"
        if evals >= settings.budget:
            return "budget spent"
        if optimizer.stop():
            why = getattr(optimizer, "stop_reason", "")
            return f"optimizer stopped ({why})" if why else "optimizer stopped"
        return None

    reason = stop_reason() if gen > 0 else None
    while reason is None:
        X = np.atleast_2d(np.asarray(optimizer.ask(), float))
        if optimizer.uses_gradient:
            losses, grads = problem.evaluate_with_grad(X)
            optimizer.tell(X, losses, grads)
        else:
            losses = problem.evaluate(X)
            optimizer.tell(X, losses)
        gen += 1
        evals += len(X)
        i = int(np.argmin(np.where(np.isfinite(losses), losses, np.inf)))
        gen_best = float(losses[i]) if np.isfinite(losses[i]) else math.inf
        if gen_best < best_f:
            best_x, best_f = X[i].copy(), gen_best
        elapsed = elapsed0 + time.perf_counter() - t_start
        history.append((gen, evals, best_f, gen_best, elapsed))
        if ck_path is not None:
            atomic_write_bytes(
                ck_path,
                pickle.dumps(
                    {
                        "format": CHECKPOINT_FORMAT,
                        "key": key,
                        "optimizer_state": optimizer.state(),
                        "numpy_rng": np.random.get_state(),
                        "generation": gen,
                        "evaluations": evals,
                        "best_x": best_x,
                        "best_loss": best_f,
                        "history": history,
                        "elapsed": elapsed,
                    }
                ),
            )
        if callback is not None:
            callback(Progress(gen, evals, best_f, elapsed))
        reason = stop_reason()
    elapsed = elapsed0 + time.perf_counter() - t_start
    note = optimizer.note() if callable(getattr(optimizer, "note", None)) else ""
    if note:
        reason = f"{reason}; {note}"
    return FitOutcome(
        x=np.asarray(best_x, float),
        loss=float(best_f),
        evaluations=int(evals),
        generations=int(gen),
        history=np.asarray(history, float).reshape(-1, len(HISTORY_COLUMNS)),
        stop_reason=reason,
        elapsed=float(elapsed),
        resumed=ck is not None,
    )
