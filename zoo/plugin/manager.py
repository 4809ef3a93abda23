"""Finds plugins through the ``zoo.plugins`` entry points and builds the registry from them.

Built-in plugins come through this same door: ``pyproject.toml``'s entry-point table is
the only link from the core to them. Each entry point is loaded and called on its own, so
one that fails to import or breaks the hook contract is reported as broken and the rest of
the zoo still works.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterable
from importlib import metadata
from typing import Any

import pluggy

from zoo.errors import PluginContractError
from zoo.plugin import hookspecs
from zoo.plugin.registry import BrokenPlugin, PluginRegistrar, Provenance, Registry
from zoo.suggest import did_you_mean

HOOK_NAMES = (
    "zoo_register_architectures",
    "zoo_register_recipes",
    "zoo_register_data_sources",
    "zoo_register_trackers",
)
ONLY_ENV = "ZOO_PLUGINS"  # comma-separated plugin names: load only these
DISABLE_ENV = "ZOO_DISABLE_PLUGINS"  # comma-separated plugin names: skip these


def _env_names(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


def _entry_points() -> list[metadata.EntryPoint]:
    """The plugin entry points to load, after ``ZOO_PLUGINS`` / ``ZOO_DISABLE_PLUGINS``.

    Both take entry-point names or distribution (package) names; a name matching neither
    is reported on stderr with a did-you-mean instead of silently emptying the zoo.
    """
    eps = metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP)
    only, disabled = _env_names(ONLY_ENV), _env_names(DISABLE_ENV) or set()
    seen: set[tuple[str, str]] = set()
    unique = []
    for ep in sorted(eps, key=lambda e: e.name):
        key = (ep.name, ep.value)
        if key in seen:  # the same distribution visible twice on sys.path
            continue
        seen.add(key)
        unique.append(ep)
    known = {ep.name for ep in unique} | {d for ep in unique if (d := _dist_name(ep))}
    for var, names in ((ONLY_ENV, only or set()), (DISABLE_ENV, disabled)):
        for name in sorted(names - known):
            hint = did_you_mean(name, sorted(known))
            sys.stderr.write(
                f"zoo: warning: {var} names '{name}', which is no installed "
                f"plugin or package" + (f"; {hint}" if hint else "") + "\n"
            )
    return [
        ep
        for ep in unique
        if (only is None or {ep.name, _dist_name(ep)} & only)
        and not {ep.name, _dist_name(ep)} & disabled
    ]


def _dist_name(ep: metadata.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else None


def _provenance(ep: metadata.EntryPoint) -> Provenance:
    dist = getattr(ep, "dist", None)
    return Provenance(
        plugin=ep.name,
        distribution=dist.metadata["Name"] if dist is not None else None,
        version=dist.version if dist is not None else None,
        module=ep.value,
    )


def _unknown_hooks(plugin: Any) -> list[str]:
    """Hook implementations whose names match no hook spec (a typo would be silent)."""
    bad = []
    for attr in dir(plugin):
        obj = getattr(plugin, attr, None)
        if hasattr(obj, f"{hookspecs.PROJECT}_impl") and attr not in HOOK_NAMES:
            bad.append(attr)
    return bad


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def build_registry(extra_plugins: Iterable[tuple[str, Any]] = ()) -> Registry:
    """Load every entry point (and ``extra_plugins``: ``(name, object)`` pairs, for tests)."""
    pm = new_plugin_manager()
    broken: list[BrokenPlugin] = []
    loaded: list[tuple[Provenance, Any]] = []
    for ep in _entry_points():
        prov = _provenance(ep)
        try:
            plugin = ep.load()
        except Exception as exc:  # a third party's import error must not break the zoo
            broken.append(
                _broken(prov, f"failed to import {ep.value}: {type(exc).__name__}: {exc}")
            )
            continue
        loaded.append((prov, plugin))
    for name, plugin in extra_plugins:
        loaded.append((Provenance(plugin=name, module=getattr(plugin, "__name__", None)), plugin))

    entries = []
    ok_plugins = []
    for prov, plugin in loaded:
        try:
            entries.extend(_register_one(pm, prov, plugin))
            ok_plugins.append(prov)
        except PluginContractError as exc:
            broken.append(_broken(prov, str(exc)))
        except Exception as exc:  # a hook that raises is broken, the others still count
            broken.append(_broken(prov, f"hook raised {type(exc).__name__}: {exc}"))
    return Registry(entries, broken=broken, plugins=ok_plugins)


def _broken(prov: Provenance, reason: str) -> BrokenPlugin:
    return BrokenPlugin(prov.plugin, reason, prov.distribution, prov.version)


def _register_one(pm: pluggy.PluginManager, prov: Provenance, plugin: Any) -> list:
    unknown = _unknown_hooks(plugin)
    if unknown:
        hints = [f"'{u}' ({did_you_mean(u, HOOK_NAMES) or 'no such hook'})" for u in unknown]
        raise PluginContractError("implements unknown hook " + ", ".join(hints))
    try:
        pm.register(plugin, name=prov.plugin)
    except ValueError as exc:  # pluggy: same name or object registered twice
        raise PluginContractError(str(exc)) from exc
    except pluggy.PluginValidationError as exc:
        raise PluginContractError(f"hook signature does not match the spec: {exc}") from exc
    registrar = PluginRegistrar(prov)
    implemented = False
    for hook_name in HOOK_NAMES:
        caller = getattr(pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            implemented = True
            kwargs = {"registry": registrar}
            impl.function(**{a: kwargs[a] for a in impl.argnames})
    if not implemented:
        pm.unregister(plugin)
        raise PluginContractError("implements none of the zoo hooks: " + ", ".join(HOOK_NAMES))
    return registrar.entries


@functools.cache
def default_registry() -> Registry:
    """The process-wide registry, built on first use."""
    return build_registry()


def reset_registry() -> None:
    """Forget the cached registry (tests, or after installing a plugin at run time)."""
    default_registry.cache_clear()
