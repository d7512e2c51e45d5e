"""Plugin discovery through the ``memplug`` entry-point group, with pluggy.

Every plugin, built-in or third-party, is an object (usually a module) named by an entry point of
group ``memplug``::

    [project.entry-points.memplug]
    prony = "memplug_prony"            # or "package.module:object"

Loading is defensive:

- a plugin that fails to import, implements a hook that does not exist (a typo), or whose
  registration hook raises is recorded with its error in `Registry.plugins` and registers
  nothing; every other plugin still loads;
- two plugins registering the same name for the same kind is a *conflict*: both plugins are listed
  with it, and using the name raises `DuplicateNameError` naming both (the other names of both
  plugins keep working).
"""

from __future__ import annotations

import functools
import importlib
import traceback as _traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from memplug import hookspecs
from memplug.errors import InputError

KINDS = (
    "closures", "optimizers", "systems", "engines", "observables", "surrogates", "datasets", "targets",
    "references", "schemas",
)  # fmt: skip
SINGULAR = {k: k[:-1] for k in KINDS}


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin.

    Attributes:
        name: the entry-point name.
        module: the entry-point value (``module`` or ``module:object``).
        distribution, version: the installed distribution that declares the entry point.
        registered: names registered per kind (``{"closures": ["prony"]}``).
        error: why the plugin failed (``None`` if it loaded); a failed plugin registers nothing.
        traceback: the full traceback of ``error``.
        conflicts: names this plugin shares with another plugin (unusable until one is removed).
    """

    name: str
    module: str
    distribution: str
    version: str
    registered: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    conflicts: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.distribution}:{self.name}"

    @property
    def ok(self) -> bool:
        return self.error is None


class DuplicateNameError(InputError):
    """Two plugins registered the same name for the same kind."""


@dataclass
class _EntryPoint:
    name: str
    value: str
    distribution: str
    version: str


def _entry_points() -> list[_EntryPoint]:
    out = []
    for dist in metadata.distributions():
        for ep in dist.entry_points:
            if ep.group == "memplug":
                out.append(
                    _EntryPoint(
                        ep.name, ep.value, dist.metadata["Name"] or "?", dist.version or "?"
                    )
                )
    # A distribution may be visible twice on sys.path (editable + site): keep the first.
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for ep in out:
        key = (ep.distribution, ep.name, ep.value)
        if key not in seen:
            seen.add(key)
            unique.append(ep)
    return unique


def _load_object(value: str) -> Any:
    """Import ``module`` or ``module:attr.attr``."""
    module_name, _, attrs = value.partition(":")
    obj: Any = importlib.import_module(module_name.strip())
    for attr in filter(None, attrs.strip().split(".")):
        obj = getattr(obj, attr)
    return obj


class Registry:
    """What the installed plugins registered, by kind and name.

    ``Registry()`` discovers the installed entry points; ``Registry(entry_points=[...])`` loads an
    explicit list (used by tests).
    """

    def __init__(self, entry_points: Iterable[_EntryPoint] | None = None):
        self.pm = pluggy.PluginManager("memplug")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.items: dict[str, dict[str, Any]] = {k: {} for k in KINDS}
        self.owner: dict[str, dict[str, PluginInfo]] = {k: {} for k in KINDS}
        self.conflicts: dict[str, dict[str, list[str]]] = {k: {} for k in KINDS}
        self._objects: dict[str, Any] = {}
        eps = _entry_points() if entry_points is None else list(entry_points)
        for ep in eps:
            self._load(ep)

    # -- loading ------------------------------------------------------------------------------
    def _load(self, ep: _EntryPoint) -> None:
        info = PluginInfo(ep.name, ep.value, ep.distribution, ep.version)
        self.plugins.append(info)
        try:
            plugin = _load_object(ep.value)
            self.pm.register(plugin, name=info.label)
        except Exception as exc:  # a broken plugin never breaks the others
            self._fail(info, f"load: {type(exc).__name__}: {exc}")
            return
        self._objects[info.label] = plugin
        unknown = [hc.name for hc in (self.pm.get_hookcallers(plugin) or []) if hc.spec is None]
        if unknown:
            self.pm.unregister(plugin)
            self._fail(
                info,
                f"implements {', '.join(sorted(unknown))}, which is not a memplug hook; "
                f"hooks are: {', '.join(_hook_names())}",
                with_traceback=False,
            )
            return
        staged: list[tuple[str, Any]] = []
        try:
            for kind in KINDS:
                for impl in self._impls(f"register_{kind}", plugin):
                    impl.function(
                        **_args(impl, register=lambda obj, k=kind: staged.append((k, obj)))
                    )
            for kind, obj in staged:
                _check_named(kind, obj)
        except Exception as exc:
            self.pm.unregister(plugin)
            self._fail(info, f"registration: {type(exc).__name__}: {exc}")
            return
        for kind, obj in staged:
            self._add(kind, info, obj)

    def _impls(self, hook_name: str, plugin: Any) -> list[Any]:
        caller = getattr(self.pm.hook, hook_name)
        return [impl for impl in caller.get_hookimpls() if impl.plugin is plugin]

    @staticmethod
    def _fail(info: PluginInfo, message: str, with_traceback: bool = True) -> None:
        info.error = message
        info.traceback = _traceback.format_exc() if with_traceback else None

    def _add(self, kind: str, info: PluginInfo, obj: Any) -> None:
        name = obj.name
        if name in self.items[kind]:
            first = self.owner[kind][name]
            owners = self.conflicts[kind].setdefault(name, [first.label])
            owners.append(info.label)
            for p in (first, info):
                if name not in p.conflicts:
                    p.conflicts.append(name)
            info.registered.setdefault(kind, []).append(name)
            return
        self.items[kind][name] = obj
        self.owner[kind][name] = info
        info.registered.setdefault(kind, []).append(name)

    # -- lookup -------------------------------------------------------------------------------
    @property
    def failures(self) -> list[PluginInfo]:
        return [p for p in self.plugins if not p.ok]

    def names(self, kind: str) -> list[str]:
        return sorted(self.items[kind])

    def get(self, kind: str, name: str) -> Any:
        """The class registered as ``name``; an unknown or ambiguous name raises `InputError`."""
        if name in self.conflicts[kind]:
            owners = self.conflicts[kind][name]
            raise DuplicateNameError(
                f"{SINGULAR[kind]} name {name!r} is registered by more than one plugin: "
                f"{' and '.join(owners)}; uninstall or rename one of them"
            )
        try:
            return self.items[kind][name]
        except KeyError:
            available = ", ".join(self.names(kind)) or "(none installed)"
            raise InputError(f"unknown {SINGULAR[kind]} {name!r}; available: {available}") from None

    def create(self, kind: str, spec: str | Spec) -> Any:
        """Instantiate ``name`` or ``name:key=value,key=value`` (values parsed as Python literals),
        or a `Spec` of ``kind``."""
        if isinstance(spec, Spec):
            name, options = spec.name, spec.kwargs()
        else:
            name, options = parse_spec(spec)
        cls = self.get(kind, name)
        return cls(**options)

    def check(self) -> None:
        """Raise `DuplicateNameError` if any name is registered twice (strict mode)."""
        for kind in KINDS:
            for name in self.conflicts[kind]:
                self.get(kind, name)

    def commands(self, app: Any) -> None:
        """Let every loaded plugin add its sub-commands to ``app``."""
        by_label = {p.label: p for p in self.plugins}
        for impl in self.pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(**_args(impl, app=app))
            except Exception as exc:
                info = by_label.get(impl.plugin_name)
                if info is not None:
                    self._fail(info, f"register_commands: {type(exc).__name__}: {exc}")


def _hook_names() -> list[str]:
    return sorted(n for n in dir(hookspecs) if n.startswith("register_"))


def _args(impl: Any, **available: Any) -> dict[str, Any]:
    """The keyword arguments a hook implementation asked for (pluggy passes only those)."""
    return {name: available[name] for name in impl.argnames}


def _check_named(kind: str, obj: Any) -> None:
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{obj!r} registered as a {SINGULAR[kind]} has no string `name`")


def _spec_items(spec: str) -> tuple[str, dict[str, tuple[str, bool]]]:
    """``NAME`` and ``{key: (value as written, written without a key)}`` of ``NAME[:key=value,...]``
    (stripped; empty items skipped; a key given twice keeps its last value)."""
    name, _, rest = spec.partition(":")
    name = name.strip()
    if not name:
        raise InputError(f"{spec!r}: expected NAME or NAME:key=value,...")
    items: dict[str, tuple[str, bool]] = {}
    if rest:
        for item in rest.split(","):
            item = item.strip()
            if not item:
                continue
            key, eq, value = item.partition("=")
            if not eq:
                items["variant"] = (key, True)
                continue
            items[key.strip()] = (value.strip(), False)
    return name, items


def _literal(text: str) -> Any:
    """An option's value: a Python literal where it parses as one, else the text itself."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``"stretched:n_exp=2,foo=bar"`` into ``("stretched", {"n_exp": 2, "foo": "bar"})``.

    A single option without ``=`` (``nevergrad:NGOpt``) is passed as ``{"variant": "NGOpt"}``.
    """
    name, items = _spec_items(spec)
    return name, {key: _literal(text) for key, (text, _) in items.items()}


@dataclass(frozen=True)
class Spec:
    """A plugin named on the command line, ``NAME[:key=value,...]``, parsed and checked once.

    ``kind`` is a registry kind (``"closures"``, ``"optimizers"``, ...), ``options`` the
    ``(key, value as written)`` pairs in the given order (whitespace stripped, a key given twice
    keeps its last value; values become Python literals in `kwargs`). ``str(spec)`` is the
    canonical text, the one fit jobs record: ``NAME`` or ``NAME:key=value,...`` as written (a
    value without a key, ``nevergrad:NGOpt``, is the option ``variant``). Frozen, hashable and
    picklable (it holds text only). `Spec.parse` checks the name and the option names against
    the registry; option values are checked by the plugin itself, in `create`.
    """

    kind: str
    name: str
    options: tuple[tuple[str, str], ...] = ()
    #: keys given without ``=`` (only ``variant``): written back that way by ``str``
    bare: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, kind: str, text: str, registry: Registry | None = None) -> Spec:
        """Parse ``text`` and check it: an unknown name, or an option the plugin does not have,
        raises `InputError` naming it and what was expected."""
        name, items = _spec_items(str(text))
        spec = cls(
            kind, name, tuple((k, v) for k, (v, _) in items.items()),
            frozenset(k for k, (_, b) in items.items() if b),
        )  # fmt: skip
        spec.check(registry)
        return spec

    def check(self, registry: Registry | None = None) -> None:
        """The name is registered for ``kind`` and, for a plugin that declares its ``options``
        (a `memplug.interfaces.Configurable`), every option is one of them."""
        from memplug.interfaces import Configurable

        plugin = (registry or get_registry()).get(self.kind, self.name)
        if isinstance(plugin, type) and issubclass(plugin, Configurable):
            unknown = sorted(set(self.kwargs()) - set(plugin.options))
            if unknown:
                valid = ", ".join(f"{k}={v!r}" for k, v in plugin.options.items()) or "none"
                raise InputError(
                    f"{plugin.kind} {plugin.name!r} has no option {', '.join(unknown)}; valid options: {valid}"
                )

    def kwargs(self) -> dict[str, Any]:
        """The options as keyword arguments (values parsed as Python literals)."""
        return {key: _literal(text) for key, text in self.options}

    def create(self, registry: Registry | None = None) -> Any:
        """A new instance through the registry (the plugin checks the option values)."""
        return (registry or get_registry()).create(self.kind, self)

    def __str__(self) -> str:
        items = [text if key in self.bare else f"{key}={text}" for key, text in self.options]
        return self.name + (":" + ",".join(items) if items else "")


@functools.lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The process-wide registry (loaded once; ``get_registry.cache_clear()`` rediscovers)."""
    return Registry()
