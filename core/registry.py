"""Plugin discovery through the ``memplug`` entry-point group, with pluggy.

Every plugin, built-in or third-party, is a module named by an entry point. Loading is defensive: a
plugin that fails to import or whose hook raises is recorded in :attr:`Registry.failures` and the
others still load.
"""

from __future__ import annotations

import functools
import importlib
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from memplug import hookspecs
from memplug.errors import InputError

KINDS = ("closures", "optimizers", "systems", "engines", "observables", "surrogates", "datasets")
SINGULAR = {k: k[:-1] for k in KINDS}


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin."""

    name: str
    module: str
    distribution: str
    version: str
    registered: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


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
                    _EntryPoint(ep.name, ep.value, dist.metadata["Name"], dist.version or "?")
                )
    # A distribution may be visible twice on sys.path (editable + site): keep the first.
    seen: set[tuple[str, str]] = set()
    unique = []
    for ep in out:
        key = (ep.name, ep.value)
        if key not in seen:
            seen.add(key)
            unique.append(ep)
    return unique


class Registry:
    """What the installed plugins registered, by kind and name."""

    def __init__(self, entry_points: Iterable[_EntryPoint] | None = None):
        self.pm = pluggy.PluginManager("memplug")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.items: dict[str, dict[str, Any]] = {k: {} for k in KINDS}
        self.owner: dict[str, dict[str, str]] = {k: {} for k in KINDS}
        self.duplicates: list[str] = []
        eps = _entry_points() if entry_points is None else list(entry_points)
        for ep in eps:
            self._load(ep)

    def _load(self, ep: _EntryPoint) -> None:
        info = PluginInfo(ep.name, ep.value, ep.distribution, ep.version)
        self.plugins.append(info)
        try:
            module = importlib.import_module(ep.value)
            self.pm.register(module, name=f"{ep.distribution}:{ep.name}")
        except Exception as exc:  # a broken plugin never breaks the others
            info.error = f"{type(exc).__name__}: {exc}"
            info.traceback = traceback.format_exc()  # type: ignore[attr-defined]
            return
        for kind in KINDS:
            hook = getattr(module, f"register_{kind}", None)
            if hook is None or not hasattr(hook, "memplug_impl"):
                continue
            try:
                hook(register=functools.partial(self._register, kind, info))
            except DuplicateNameError:
                raise
            except Exception as exc:
                info.error = f"register_{kind}: {type(exc).__name__}: {exc}"

    def _register(self, kind: str, info: PluginInfo, obj: Any) -> None:
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{obj!r} registered as a {SINGULAR[kind]} has no string `name`")
        if name in self.items[kind]:
            other = self.owner[kind][name]
            raise DuplicateNameError(
                f"{SINGULAR[kind]} name {name!r} is registered twice: by plugin {other} "
                f"and by plugin {info.distribution}:{info.name}"
            )
        self.items[kind][name] = obj
        self.owner[kind][name] = f"{info.distribution}:{info.name}"
        info.registered.setdefault(kind, []).append(name)

    # -- lookup -----------------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        return sorted(self.items[kind])

    def get(self, kind: str, name: str) -> Any:
        try:
            return self.items[kind][name]
        except KeyError:
            available = ", ".join(self.names(kind)) or "(none installed)"
            raise InputError(
                f"unknown {SINGULAR[kind]} {name!r}; available: {available}"
            ) from None

    def create(self, kind: str, spec: str) -> Any:
        """Instantiate ``name`` or ``name:key=value,key=value`` (values parsed as Python literals)."""
        name, options = parse_spec(spec)
        cls = self.get(kind, name)
        return cls(**options)

    def commands(self, app: Any) -> None:
        """Let every loaded plugin add its sub-commands to ``app``."""
        for impl in self.pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(app=app)
            except Exception as exc:
                for p in self.plugins:
                    if impl.plugin_name.endswith(":" + p.name):
                        p.error = f"register_commands: {type(exc).__name__}: {exc}"


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``"stretched:n_exp=2,foo=bar"`` into ``("stretched", {"n_exp": 2, "foo": "bar"})``.

    A single option without ``=`` (``nevergrad:NGOpt``) is passed as ``{"variant": "NGOpt"}``.
    """
    import ast

    name, _, rest = spec.partition(":")
    name = name.strip()
    options: dict[str, Any] = {}
    if rest:
        for item in rest.split(","):
            item = item.strip()
            if not item:
                continue
            key, eq, value = item.partition("=")
            if not eq:
                options["variant"] = key
                continue
            try:
                options[key.strip()] = ast.literal_eval(value.strip())
            except (ValueError, SyntaxError):
                options[key.strip()] = value.strip()
    return name, options


@functools.lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The process-wide registry (loaded once)."""
    return Registry()
