"""The small abstract interfaces every plugin implements.

- `Closure` builds a memory kernel from parameters θ and a system's statics (a `Context`).
- `Optimizer` proposes populations of θ (ask) and learns from their losses (tell).
- `System` produces statics (S(k), ρ, x_α, T) and, where it has them, target dynamics.
- `Engine` runs molecular dynamics for a system and yields frames.
- `Observable` measures named arrays (S(k), F_s(k,t), MSD, ...) on a `Trajectory`.
- `Surrogate` learns statics -> dynamics (the MLP).
- `DatasetSchema` says what a dataset's variables mean: how it is validated, which statics
  (`Context`) and which target dynamics a state yields.

Options given on the command line as ``name:key=value`` arrive as keyword arguments of ``__init__``;
an unknown option raises `memplug.InputError` listing the valid ones.
"""

from __future__ import annotations

import abc
import hashlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Float

from memplug.errors import InputError
from memplug.kernels import MemoryKernel

if TYPE_CHECKING:
    import xarray as xr

# --------------------------------------------------------------------------------------------
# statics
# --------------------------------------------------------------------------------------------


#: The equation of motion a fit or solve uses unless told otherwise, everywhere (`Context`,
#: `memplug.data.context_for`, the fitting plugin's `FitJob`, ``--dynamics``): ``newtonian``,
#: F'' + Ω²F + M*F' = 0, which MD data obey (ballistic at short times). ``overdamped`` is the
#: paper's Eq. 5, F' + Ω²F + M*F' = 0 (MCT solves and the MLP's training data use it).
DEFAULT_DYNAMICS = "newtonian"


@dataclass(frozen=True, eq=False)
class Context:
    """Statics of one state point, the input every closure may use.

    Units are Lennard-Jones reduced units (σ_AA, ε_AA, m, k_B = 1).

    Attributes:
        k: wave-number grid, shape ``(n_k,)``.
        S: partial structure factors S^{αβ}(k) = N⁻¹⟨ρ_α(k) ρ_β(−k)⟩, shape ``(n_k, s, s)``.
        rho: number density ρ.
        x: species number fractions x_α, shape ``(s,)``.
        T: temperature.
        k_peak: the wave number of the fitted correlators (first peak of S^{AA}).
        omega2: Ω²(k_peak), shape ``(s, s)``; the vibrational term of Eq. 5. When not given it is
            k_peak² T diag(1/x_α) S⁻¹(k_peak) ... for the self part: k² T / m (see `with_defaults`).
        masses: particle masses, shape ``(s,)``.
        dynamics: ``"newtonian"`` (the default, `DEFAULT_DYNAMICS`) or ``"overdamped"`` (paper Eq. 5).
        species: names of the species.
        extra: anything else a plugin wants to carry (e.g. an MCT solution).
    """

    n_species: int = 2
    k: Float[np.ndarray, " n_k"] | None = None
    S: Float[np.ndarray, "n_k s s"] | None = None
    rho: float | None = None
    x: Float[np.ndarray, " s"] | None = None
    T: float | None = None
    k_peak: float | None = None
    omega2: Float[np.ndarray, "s s"] | None = None
    masses: Float[np.ndarray, " s"] | None = None
    dynamics: str = DEFAULT_DYNAMICS
    species: tuple[str, ...] = ("A", "B")
    extra: dict[str, Any] = field(default_factory=dict)

    def require(self, *names: str) -> None:
        missing = [n for n in names if getattr(self, n) is None]
        if missing:
            raise InputError(f"the statics lack {', '.join(missing)}, needed here")

    def omega2_matrix(self) -> Float[np.ndarray, "s s"]:
        """Ω² as an (s, s) matrix; default for the self (tagged) correlators: k_peak² T / m_α on the diagonal."""
        if isinstance(
            self.omega2, jax.Array
        ):  # e.g. traced statics (one compiled fit for all states)
            return self.omega2.reshape(self.n_species, self.n_species)
        if self.omega2 is not None:
            return np.asarray(self.omega2, dtype=float).reshape(self.n_species, self.n_species)
        self.require("k_peak", "T")
        m = np.ones(self.n_species) if self.masses is None else np.asarray(self.masses, float)
        return np.diag(self.k_peak**2 * self.T / m)

    def fingerprint(self) -> str:
        """A digest of the statics (arrays and scalars, not ``extra``): equal for contexts that any
        solve or fit sees as the same, whatever the object identity (contexts copied with
        `dataclasses.replace` share their ``extra`` dict). Keys caches of compiled losses
        and of MCT solutions."""
        h = hashlib.sha256()
        for name in ("k", "S", "x", "omega2", "masses"):
            v = getattr(self, name)
            if v is not None:
                h.update(name.encode() + np.ascontiguousarray(v, dtype=float).tobytes())
        h.update(repr((self.n_species, self.rho, self.T, self.k_peak, self.dynamics)).encode())
        return h.hexdigest()


# --------------------------------------------------------------------------------------------
# closures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    """One named (possibly array-valued) parameter of a closure.

    ``transform`` maps the physical value to the unconstrained space optimizers work in:
    ``"identity"``, ``"log"`` (positive), ``"logit"`` (strictly inside ``[lower, upper]``), or
    ``"ordered"``: strictly increasing values inside ``(lower, upper)``, ``0 < lower``, on a log
    scale (time constants of channels that must not swap labels). For ``ordered`` the position
    f_i = ln(v_i/lower) / ln(upper/lower) ∈ (0, 1) is built by stick-breaking,
    1 − f_i = Π_{j ≤ i} (1 − σ(u_j)), so any u gives an increasing v and every increasing v inside
    the bounds has exactly one u (z_j = σ(u_j/κ), κ = ln(upper/lower)/4). A scalar ``ordered``
    parameter is a (scaled) logit in ln v.
    """

    name: str
    default: Any
    shape: tuple[int, ...] = ()
    lower: float = -math.inf
    upper: float = math.inf
    transform: str = "identity"
    doc: str = ""

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=int))

    @property
    def _ordered_scale(self) -> float:
        """κ = ln(upper/lower)/4 of the ``ordered`` transform, z_j = σ(u_j/κ): a unit step of u
        changes ln v by about 1 in the middle of the range, as for ``log``."""
        return math.log(self.upper / self.lower) / 4.0

    def to_unconstrained(self, value):
        v = jnp.asarray(value, dtype=float)
        if self.transform == "log":
            return jnp.log(v)
        if self.transform == "logit":
            z = (v - self.lower) / (self.upper - self.lower)
            return jnp.log(z) - jnp.log1p(-z)
        if self.transform == "ordered":
            if v.ndim == 0:
                return self.to_unconstrained(v[None])[0]
            f = jnp.log(v / self.lower) / math.log(self.upper / self.lower)  # (..., n) increasing
            rest = 1.0 - f  # 1 − f_i = Π_{j≤i} (1 − z_j)
            prev = jnp.concatenate([jnp.ones_like(rest[..., :1]), rest[..., :-1]], axis=-1)
            one_minus_z = rest / prev
            return self._ordered_scale * (
                jnp.log1p(-one_minus_z) - jnp.log(one_minus_z)
            )  # κ logit(z)
        return v

    def from_unconstrained(self, u):
        u = jnp.asarray(u, dtype=float)
        if self.transform == "log":
            return jnp.exp(u)
        if self.transform == "logit":
            return self.lower + (self.upper - self.lower) / (1.0 + jnp.exp(-u))
        if self.transform == "ordered":
            if u.ndim == 0:
                return self.from_unconstrained(u[None])[0]
            rest = jnp.cumprod(jax.nn.sigmoid(-u / self._ordered_scale), axis=-1)  # Π (1 − z_j)
            return self.lower * jnp.exp((1.0 - rest) * math.log(self.upper / self.lower))
        return u


class ParameterSpace:
    """Packs a closure's named parameters into one flat vector and back.

    ``pack``/``unpack`` work on physical values; ``to_unconstrained``/``from_unconstrained`` on the
    flat vector optimizers see. All are JAX-traceable, so a whole population can be vmapped.
    """

    def __init__(self, parameters: list[Parameter]):
        self.parameters = list(parameters)
        self.sizes = [p.size for p in self.parameters]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.dim = int(self.offsets[-1])

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def default(self) -> dict[str, Any]:
        return {
            p.name: jnp.broadcast_to(jnp.asarray(p.default, float), p.shape)
            for p in self.parameters
        }

    def pack(self, theta: dict[str, Any]):
        return (
            jnp.concatenate([jnp.ravel(jnp.asarray(theta[p.name], float)) for p in self.parameters])
            if self.parameters
            else jnp.zeros((0,))
        )

    def unpack(self, vector) -> dict[str, Any]:
        out = {}
        for p, a, b in zip(self.parameters, self.offsets[:-1], self.offsets[1:], strict=True):
            out[p.name] = jnp.reshape(vector[..., a:b], vector.shape[:-1] + p.shape)
        return out

    def to_unconstrained(self, vector):
        if not self.parameters:  # a closure without free parameters: nothing to transform
            return jnp.asarray(vector, dtype=float)
        parts = [
            p.to_unconstrained(vector[..., a:b])
            for p, a, b in zip(self.parameters, self.offsets[:-1], self.offsets[1:], strict=True)
        ]
        return jnp.concatenate(parts, axis=-1)

    def from_unconstrained(self, u):
        if not self.parameters:
            return jnp.asarray(u, dtype=float)
        parts = [
            p.from_unconstrained(u[..., a:b])
            for p, a, b in zip(self.parameters, self.offsets[:-1], self.offsets[1:], strict=True)
        ]
        return jnp.concatenate(parts, axis=-1)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = (
            np.concatenate([np.full(p.size, p.lower) for p in self.parameters])
            if self.parameters
            else np.zeros(0)
        )
        hi = (
            np.concatenate([np.full(p.size, p.upper) for p in self.parameters])
            if self.parameters
            else np.zeros(0)
        )
        return lo, hi

    def describe(self) -> tuple:
        """What the u → θ map depends on (names, shapes, bounds, transforms; not the defaults):
        spaces with equal descriptions transform alike."""
        return tuple(
            (p.name, tuple(p.shape), float(p.lower), float(p.upper), p.transform)
            for p in self.parameters
        )

    def labels(self) -> list[str]:
        out = []
        for p in self.parameters:
            if p.size == 1 and p.shape == ():
                out.append(p.name)
            else:
                out.extend(f"{p.name}[{','.join(map(str, idx))}]" for idx in np.ndindex(*p.shape))
        return out


class Configurable:
    """A named plugin object configured by ``name:key=value,...`` options (closures, optimizers,
    systems).

    Subclasses set ``name`` (kebab-case), ``description`` and ``options`` (the accepted keyword
    options with their defaults) and may check values in `validate_options`. ``kind`` names the
    sort of object in error messages. An unknown option raises `InputError` listing the valid
    ones; ``self.config`` holds the defaults updated by the given options.
    """

    kind: ClassVar[str] = "plugin"
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[dict[str, Any]] = {}

    def __init__(self, **options: Any):
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            valid = ", ".join(f"{k}={v!r}" for k, v in self.options.items()) or "none"
            raise InputError(
                f"{self.kind} {self.name!r} has no option {', '.join(unknown)}; valid options: {valid}"
            )
        self.config = {**self.options, **options}
        self.validate_options()

    def validate_options(self) -> None:  # noqa: B027 (optional hook, empty by default)
        """Check ``self.config``; raise `InputError` naming the option and what was expected."""

    def option_error(self, key: str, expected: str) -> InputError:
        """The error for a bad option value: names the object, the option, what was expected and
        every valid option with its default (raise it from `validate_options`)."""
        valid = ", ".join(f"{k}={v!r}" for k, v in self.options.items()) or "none"
        return InputError(
            f"{self.kind} {self.name!r}: option {key}={self.config.get(key)!r}; expected {expected} "
            f"(options: {valid})"
        )

    def spec(self) -> str:
        """The ``name:key=value`` string that re-creates this object."""
        changed = {k: v for k, v in self.config.items() if self.options.get(k) != v}
        if not changed:
            return self.name
        return self.name + ":" + ",".join(f"{k}={v!r}" for k, v in changed.items())


class Closure(Configurable, abc.ABC):
    """A memory-kernel closure: M(t; θ) (explicit) or M[F](t; θ) (functional).

    Subclasses set ``name`` (kebab-case), ``description``, ``options`` (accepted keyword options with
    defaults), implement `parameters` and `kernel`, and may override `initial`.
    """

    kind: ClassVar[str] = "closure"

    @abc.abstractmethod
    def parameters(self, context: Context) -> list[Parameter]:
        """The free parameters for this context (shapes may depend on the number of species)."""

    @abc.abstractmethod
    def kernel(self, theta: dict[str, Any], context: Context) -> MemoryKernel:
        """The memory kernel for parameters ``theta`` (a dict of arrays, JAX-traceable)."""

    def space(self, context: Context) -> ParameterSpace:
        return ParameterSpace(self.parameters(context))

    #: Explicit closures that can be fitted to a given M(t) set this: `initial` then starts from
    #: ``context.extra["memory"] = (t, M)`` (e.g. M_mct, the paper's start) when present.
    starts_from_memory: ClassVar[bool] = False

    def initial(self, context: Context) -> dict[str, Any]:
        """Initial θ for a fit: the closure fitted to ``context.extra["memory"]`` where the closure
        `starts_from_memory` and the context has one (`memplug.memory_fit.fit_memory`), else the
        parameters' defaults."""
        memory = context.extra.get("memory") if self.starts_from_memory else None
        if memory is None:
            return self.space(context).default()
        from memplug.memory_fit import fit_memory

        t, M = memory
        return fit_memory(self, context, t, M)


# --------------------------------------------------------------------------------------------
# optimizers
# --------------------------------------------------------------------------------------------


class Optimizer(Configurable, abc.ABC):
    """Minimises a loss over a flat, unconstrained parameter vector.

    Population methods implement `ask`/`tell`; the fitting loop evaluates each population
    in one vmapped, jitted call. Gradient methods set ``uses_gradient = True`` and receive
    ``(loss, grad)`` of single candidates through `tell`. The state must be picklable
    (`state`/`restore`) so that a fit can be checkpointed and resumed.
    """

    kind: ClassVar[str] = "optimizer"
    uses_gradient: ClassVar[bool] = False

    @abc.abstractmethod
    def start(self, x0: np.ndarray, *, sigma0: float, seed: int, budget: int) -> None:
        """Initialise around ``x0`` (unconstrained space) with step ``sigma0``."""

    @abc.abstractmethod
    def ask(self) -> np.ndarray:
        """Candidates to evaluate, shape ``(population, dim)``."""

    @abc.abstractmethod
    def tell(
        self, candidates: np.ndarray, losses: np.ndarray, grads: np.ndarray | None = None
    ) -> None:
        """Report the losses (and gradients, for gradient methods) of the asked candidates."""

    @abc.abstractmethod
    def best(self) -> tuple[np.ndarray, float]:
        """Best candidate so far and its loss."""

    def stop(self) -> bool:
        return False

    @abc.abstractmethod
    def state(self) -> Any:
        """Picklable state for a checkpoint."""

    @abc.abstractmethod
    def restore(self, state: Any) -> None:
        """Restore from `state`."""


# --------------------------------------------------------------------------------------------
# systems, engines, observables, surrogates
# --------------------------------------------------------------------------------------------


class System(Configurable, abc.ABC):
    """A physical system: potential, composition, and how to obtain statics at a state point."""

    kind: ClassVar[str] = "system"

    @abc.abstractmethod
    def context(self, **state: Any) -> Context:
        """Statics at a state point (e.g. ``rho=1.2, T=0.8`` or ``phi=0.52``)."""


class Engine(abc.ABC):  # noqa: B024 (how an engine runs is defined by the plugin that drives it)
    """A molecular-dynamics engine: its name, description and availability here. How it runs
    (e.g. opening a session on a system at a state point) is defined by the plugin that drives
    it."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Whether the engine can run here, and why not."""
        return True, ""


@dataclass(frozen=True, eq=False)
class Trajectory:
    """The production run of one state point, as every `Observable` sees it.

    Units are Lennard-Jones reduced units; frames, origins and lags are counted in MD steps.

    Attributes:
        positions: unwrapped positions, shape ``(n_frames, N, 3)``, float64.
        species: species index of each particle (0 = A, 1 = B, ...), shape ``(N,)``.
        L: edge of the cubic periodic box.
        steps: the MD step of each frame, shape ``(n_frames,)``, increasing.
        dt: time per MD step (lag time t = lag × dt).
        origins: time origins of the production plan (steps), shape ``(n_origins,)``.
        lags: lag times of the production plan (steps), shape ``(n_t,)``; the per-state output's
            ``t`` axis.
        k_peak: position of the first peak of S^{AA}(k) measured on this run.
        kq: the extra wave numbers of F_s (the dataset's ``kq`` axis).
        T: temperature.
        seed: the state's random seed (for reproducible sub-sampling of wave vectors).
        settings: the protocol settings of the run (e.g. ``n_sk_frames``, ``max_per_bin``).
        cache: intermediate results observables share (e.g. S(k), F_s computed once).
    """

    positions: np.ndarray
    species: np.ndarray
    L: float
    steps: np.ndarray
    dt: float
    origins: np.ndarray
    lags: np.ndarray
    k_peak: float
    kq: np.ndarray
    T: float = math.nan
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def time(self) -> np.ndarray:
        """The lag times ``lags × dt``, shape ``(n_t,)``."""
        return np.asarray(self.lags) * self.dt

    @property
    def n_species(self) -> int:
        return int(np.max(self.species)) + 1 if np.size(self.species) else 0


#: One computed variable: ``(dims, values)`` with ``values.shape`` matching ``dims``, as in
#: `xarray.Dataset`; dims exclude ``state`` (the per-state file adds it).
Variable = tuple[tuple[str, ...], np.ndarray]


class Observable(Configurable, abc.ABC):
    """A quantity measured on a `Trajectory`, written into the per-state output file.

    Subclasses set ``name`` (kebab-case), ``description``, ``variables`` (the variables
    `compute` returns and their dims, without ``state``; e.g. ``{"alpha2": ("species", "t")}``)
    and implement `compute`. Dims may be the dataset's (``pair``, ``species``, ``k``, ``kq``,
    ``t``) or new ones; a variable with a ``t`` dim is given on the trajectory's lags. The MD
    protocol runs every registered observable after production, so a plugin's observable lands in
    the per-state files without any change to memplug.
    """

    kind: ClassVar[str] = "observable"
    variables: ClassVar[dict[str, tuple[str, ...]]] = {}

    @abc.abstractmethod
    def compute(self, trajectory: Trajectory) -> dict[str, Variable]:
        """The variables ``{name: (dims, values)}`` measured on ``trajectory``."""

    def __call__(self, trajectory: Trajectory) -> dict[str, Variable]:
        """`compute`, checked: the declared variables with the declared dims, nothing else."""
        out = self.compute(trajectory)
        if set(out) != set(self.variables):
            raise ValueError(
                f"observable {self.name!r}: computed {sorted(out)}, declares {sorted(self.variables)}"
            )
        checked = {}
        for var, (dims, values) in out.items():
            values = np.asarray(values)
            if tuple(dims) != tuple(self.variables[var]) or values.ndim != len(dims):
                raise ValueError(
                    f"observable {self.name!r}: {var} has dims {tuple(dims)} and shape {values.shape}, "
                    f"declared dims {self.variables[var]}"
                )
            checked[var] = (tuple(dims), values)
        return checked


class Surrogate(abc.ABC):
    """A learned map statics (+ log t) -> dynamics, e.g. the paper's MLP."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    @abc.abstractmethod
    def fit(self, dataset: Any, **options: Any) -> Any: ...

    @abc.abstractmethod
    def predict(self, statics: Any, t: Any) -> Any: ...

    @abc.abstractmethod
    def save(self, path: Any) -> None: ...

    @classmethod
    @abc.abstractmethod
    def load(cls, path: Any) -> Surrogate: ...


# --------------------------------------------------------------------------------------------
# dataset schemas
# --------------------------------------------------------------------------------------------


class DatasetSchema(abc.ABC):
    """The meaning of the variables of a dataset whose ``attrs["schema"]`` is `name`.

    `memplug.data` loads, saves, caches, concatenates and selects datasets of simulated states
    (an `xarray.Dataset` with a ``state`` dimension) whatever their schema; it hands everything
    that depends on what the variables mean to the registered schema named by the dataset's
    ``attrs["schema"]`` (hook ``register_schemas``): validation on every load and save
    (`memplug.data.validate`), the statics of a state (`memplug.data.context_for`) and its target
    dynamics (`memplug.data.dynamics_for`).

    Subclasses set ``name`` (the exact value of ``ds.attrs["schema"]``, e.g.
    ``"memplug-dataset/1"``) and ``description``, implement `validate`, `context_for` and
    `dynamics_for`, and may override `variable_attrs`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    @abc.abstractmethod
    def validate(self, ds: xr.Dataset, where: str) -> xr.Dataset:
        """Check ``ds``; return it (unchanged) or raise `InputError` reading
        ``"<where>: <variable>: <problem>"`` (``where`` is the file, or ``"<dataset>"``)."""

    @abc.abstractmethod
    def context_for(self, ds: xr.Dataset, state: str | int, dynamics: str) -> Context:
        """The statics of one state (an id or an index along ``state``) that a closure and a fit
        need, with equation of motion ``dynamics`` (``"newtonian"`` or ``"overdamped"``)."""

    @abc.abstractmethod
    def dynamics_for(self, ds: xr.Dataset, state: str | int) -> tuple[np.ndarray, np.ndarray]:
        """The target of a fit at one state: lag times ``(n_t,)`` and the correlators ``(n_t, s)``."""

    def variable_attrs(self, ds: xr.Dataset) -> xr.Dataset:
        """Set the variables' labels and units (``long_name``, ``units``, ...) on ``ds`` in place
        and return it; called on every loaded dataset. Default: nothing to set."""
        return ds
