"""The zoo's registry: every architecture, recipe and data source, with where it came from.

Hooks are called one plugin at a time, each with a :class:`PluginRegistrar` bound to that
plugin, so the registry knows which package added which name, can name both packages when
two claim one name, and can drop a plugin that breaks the contract without losing the rest.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from zoo.errors import DuplicatePluginError, PluginContractError, Problem, UnknownPluginError
from zoo.plugin.contracts import (
    Fetch,
    GraphAugment,
    LossWeights,
    ParamCount,
    PluginKind,
    RecipeType,
    RequiredScaling,
    SetTrainable,
    ShapeHintFn,
    SmallestInput,
    SpecCheck,
    ToSpec,
)
from zoo.suggest import did_you_mean

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
KIND_PLURALS: dict[str, PluginKind] = {
    "architectures": "architecture",
    "architecture": "architecture",
    "recipes": "recipe",
    "recipe": "recipe",
    "data": "data",
    "data_sources": "data",
    "trackers": "tracker",
    "tracker": "tracker",
}
# Tags renamed since: a filter on the old spelling finds the entries with the new one.
TAG_ALIASES: dict[str, str] = {"note": "reference"}


@dataclass(frozen=True)
class Provenance:
    """Which plugin module, distribution and version registered an entry."""

    plugin: str
    distribution: str | None = None
    version: str | None = None
    module: str | None = None

    def __str__(self) -> str:
        dist = self.distribution or "(not installed)"
        return f"{dist} {self.version or ''}".strip() + f" [{self.plugin}]"

    def label(self) -> str:
        """``plugin 'acme' (acme-zoo 1.2)``: for error messages that name the culprit."""
        dist = f"{self.distribution} {self.version or ''}".strip() if self.distribution else None
        return f"plugin '{self.plugin}'" + (f" ({dist})" if dist else "")


@dataclass(frozen=True)
class Capabilities:
    """The optional, typed functions a plugin declared with its entry (see "
    "``zoo.plugin.contracts``)."""

    check_spec: SpecCheck | None = None
    fetch: Fetch | None = None
    shape_hint: ShapeHintFn | None = None
    set_trainable: SetTrainable | None = None
    loss_weights: LossWeights | None = None
    required_scaling: RequiredScaling | None = None
    smallest_input: SmallestInput | None = None
    to_spec: ToSpec | None = None
    graph: GraphAugment | None = None
    default: bool = False  # scaling: the recipe a spec without a scaling section gets

    def declared(self) -> list[str]:
        """Names of the capabilities set, for ``zoo info``."""
        out = [
            f.name
            for f in dataclasses.fields(self)
            if f.name != "default" and getattr(self, f.name) is not None
        ]
        return out + (["default"] if self.default else [])


# Which capability keywords each ``add_*`` accepts (the registrar checks, the docs list them).
CAPABILITIES_BY_KIND: dict[str, tuple[str, ...]] = {
    "architecture": (
        "check_spec",
        "fetch",
        "set_trainable",
        "loss_weights",
        "required_scaling",
        "smallest_input",
    ),
    "scaling": ("check_spec", "default"),
    "augmentation": ("check_spec", "to_spec", "graph"),
    "data": ("check_spec", "fetch", "shape_hint"),
}

CAPABILITIES_BY_KIND["tracker"] = ()  # trackers declare no capabilities


@dataclass(frozen=True)
class PluginEntry:
    """One registered name: what it builds, its parameters, tags and metadata."""

    kind: PluginKind
    name: str
    params: type[BaseModel]
    factory: Callable[..., Any]
    description: str
    tags: frozenset[str]
    provenance: Provenance
    recipe_type: RecipeType | None = None
    family: str | None = None
    input_kind: str | None = None
    param_count: int | None = None
    weights_license: str | None = None
    capabilities: Capabilities = field(default_factory=lambda: Capabilities())
    counted_at: ParamCount | None = None  # where param_count holds (zoo.testing checks it)

    def parameters(self) -> list[dict[str, Any]]:
        """Each parameter's name, type, default, bounds and description (for ``zoo info``)."""
        return describe_params(self.params)

    def summary(self) -> dict[str, Any]:
        """A JSON-able description of the entry."""
        return {
            "name": self.name,
            "kind": self.kind,
            "recipe_type": self.recipe_type,
            "description": self.description,
            "tags": sorted(self.tags),
            "family": self.family,
            "input_kind": self.input_kind,
            "param_count": self.param_count,
            "param_count_at": _counted_at(self.counted_at),
            "weights_license": self.weights_license,
            "plugin": self.provenance.plugin,
            "distribution": self.provenance.distribution,
            "version": self.provenance.version,
            "capabilities": self.capabilities.declared(),
        }

    @property
    def owner(self) -> str:
        """``plugin 'x' (dist version)``: who to blame in an error message."""
        return self.provenance.label()


def _counted_at(counted: ParamCount | None) -> dict[str, Any] | None:
    if counted is None:
        return None
    return {
        "input_shape": list(counted.input_shape),
        "num_classes": counted.num_classes,
        "params": _jsonable(dict(counted.params)) or "defaults",
    }


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that failed to import or broke the hook contract, and why."""

    plugin: str
    reason: str
    distribution: str | None = None
    version: str | None = None


def describe_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Parameter rows from a Pydantic model: name, type, default, bounds, description."""
    schema = model.model_json_schema()
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    rows = []
    for name, info in model.model_fields.items():
        prop = properties.get(name, {})
        bounds = {
            k: prop[k]
            for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum")
            if k in prop
        }
        rows.append(
            {
                "name": name,
                "type": _type_label(info.annotation),
                "default": None
                if name in required
                else _jsonable(info.get_default(call_default_factory=True)),
                "required": name in required,
                "bounds": bounds,
                "description": info.description or "",
            }
        )
    return rows


def _type_label(annotation: Any) -> str:
    """A short type name for tables: ``int``, ``list[int]``, ``choice``, ``float | None``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return "choice"
    if origin is typing.Annotated:
        return _type_label(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_label(a) for a in args)
    if annotation is type(None):
        return "None"
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(_type_label(a) for a in args)}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+", "", str(annotation))


def _jsonable(value: Any) -> Any:
    """Defaults as plain data (nested models, tuples, paths) for tables and JSON."""
    return to_jsonable_python(value)


class PluginRegistrar:
    """Handed to a plugin's hooks; adds entries stamped with that plugin's provenance."""

    def __init__(self, provenance: Provenance) -> None:
        self.provenance = provenance
        self.entries: list[PluginEntry] = []

    def add_architecture(
        self,
        name: str,
        *,
        params: type[BaseModel],
        factory: Callable[..., Any],
        description: str,
        tags: Iterable[str] = (),
        family: str | None = None,
        input_kind: str | None = None,
        param_count: int | ParamCount | None = None,
        weights_license: str | None = None,
        check_spec: SpecCheck | None = None,
        fetch: Fetch | None = None,
        set_trainable: SetTrainable | None = None,
        loss_weights: LossWeights | None = None,
        required_scaling: RequiredScaling | None = None,
        smallest_input: SmallestInput | None = None,
        **unknown: Any,
    ) -> None:
        """Add a model builder: ``factory(params, ctx: ModelContext) -> keras.Model``.

        ``param_count``: a :class:`~zoo.plugin.contracts.ParamCount` (the count and the build at
        which it holds, which ``zoo.testing`` checks) or a bare number (listed, not checked).
        The optional capabilities are described in :mod:`zoo.plugin.contracts`.
        """
        caps = Capabilities(
            check_spec=check_spec,
            fetch=fetch,
            set_trainable=set_trainable,
            loss_weights=loss_weights,
            required_scaling=required_scaling,
            smallest_input=smallest_input,
        )
        counted = param_count if isinstance(param_count, ParamCount) else None
        if counted is not None:
            _check_counted(name, counted)
        count = counted.count if counted is not None else param_count
        assert not isinstance(count, ParamCount)
        self._add(
            "architecture",
            name,
            params,
            factory,
            description,
            tags,
            None,
            family,
            input_kind,
            count,
            weights_license,
            caps,
            unknown,
            counted,
        )

    def add_scaling(
        self,
        name: str,
        *,
        params: type[BaseModel],
        factory: Callable[..., Any],
        description: str,
        tags: Iterable[str] = (),
        check_spec: SpecCheck | None = None,
        default: bool = False,
        **unknown: Any,
    ) -> None:
        """Add a scaling recipe: ``factory(params, state: dict | None) -> Scaling``.

        ``default=True``: the recipe a spec without a ``scaling`` section gets.
        """
        caps = Capabilities(check_spec=check_spec, default=default)
        self._add(
            "recipe",
            name,
            params,
            factory,
            description,
            tags,
            "scaling",
            None,
            None,
            None,
            None,
            caps,
            unknown,
        )

    def add_augmentation(
        self,
        name: str,
        *,
        params: type[BaseModel],
        factory: Callable[..., Any],
        description: str,
        tags: Iterable[str] = (),
        check_spec: SpecCheck | None = None,
        to_spec: ToSpec | None = None,
        graph: GraphAugment | None = None,
        **unknown: Any,
    ) -> None:
        """Add an augmentation recipe: ``factory(params, ctx: AugmentContext) -> Augmenter``;
        ``graph`` runs it as batched TensorFlow ops inside tf.data instead."""
        caps = Capabilities(check_spec=check_spec, to_spec=to_spec, graph=graph)
        self._add(
            "recipe",
            name,
            params,
            factory,
            description,
            tags,
            "augmentation",
            None,
            None,
            None,
            None,
            caps,
            unknown,
        )

    def add_data_source(
        self,
        name: str,
        *,
        params: type[BaseModel],
        factory: Callable[..., Any],
        description: str,
        tags: Iterable[str] = (),
        input_kind: str | None = None,
        check_spec: SpecCheck | None = None,
        fetch: Fetch | None = None,
        shape_hint: ShapeHintFn | None = None,
        **unknown: Any,
    ) -> None:
        """Add a data source: ``factory(params, ctx: DataContext) -> SourceData``."""
        caps = Capabilities(check_spec=check_spec, fetch=fetch, shape_hint=shape_hint)
        self._add(
            "data",
            name,
            params,
            factory,
            description,
            tags,
            None,
            None,
            input_kind,
            None,
            None,
            caps,
            unknown,
        )

    def add_tracker(
        self,
        name: str,
        *,
        params: type[BaseModel],
        factory: Callable[..., Any],
        description: str,
        tags: Iterable[str] = (),
        **unknown: Any,
    ) -> None:
        """Add an experiment tracker: ``factory(params) -> Tracker`` (see :mod:`zoo.tracking`);
        runs use it when ``ZOO_TRACKING`` names it."""
        self._add(
            "tracker",
            name,
            params,
            factory,
            description,
            tags,
            None,
            None,
            None,
            None,
            None,
            Capabilities(),
            unknown,
        )

    def _add(
        self,
        kind: PluginKind,
        name: str,
        params: Any,
        factory: Any,
        description: str,
        tags: Iterable[str],
        recipe_type: RecipeType | None,
        family: str | None,
        input_kind: str | None,
        param_count: int | None,
        weights_license: str | None,
        capabilities: Capabilities,
        unknown: dict[str, Any],
        counted_at: ParamCount | None = None,
    ) -> None:
        check_contract(name, params, factory, description)
        check_capabilities(name, recipe_type or kind, capabilities, unknown)
        if param_count is not None and (
            isinstance(param_count, bool) or not isinstance(param_count, int) or param_count < 0
        ):
            raise PluginContractError(
                f"'{name}': param_count must be a whole number. Received: {param_count!r}"
            )
        tag_set = frozenset(str(t) for t in tags)
        tag_set |= {t for t in (family, input_kind, recipe_type) if t}
        self.entries.append(
            PluginEntry(
                kind=kind,
                name=name,
                params=params,
                factory=factory,
                description=description.strip(),
                tags=tag_set,
                provenance=self.provenance,
                recipe_type=recipe_type,
                family=family,
                input_kind=input_kind,
                param_count=param_count,
                weights_license=weights_license,
                capabilities=capabilities,
                counted_at=counted_at,
            )
        )


def _check_counted(name: str, counted: ParamCount) -> None:
    shape = tuple(counted.input_shape)
    if (
        isinstance(counted.count, bool)
        or not isinstance(counted.count, int)
        or counted.count < 0
        or len(shape) != 3
        or not all(isinstance(d, int) and d > 0 for d in shape)
        or not isinstance(counted.num_classes, int)
        or counted.num_classes < 1
    ):
        raise PluginContractError(
            f"'{name}': param_count=ParamCount(count, input_shape=(H, W, C), num_classes) with "
            f"whole positive numbers. Received: {counted!r}"
        )


def check_capabilities(name: str, kind: str, caps: Capabilities, unknown: dict[str, Any]) -> None:
    """Unknown keywords and non-callable capabilities make the plugin broken, with a hint."""
    allowed = CAPABILITIES_BY_KIND[kind]
    for key in unknown:
        hint = did_you_mean(key, allowed)
        raise PluginContractError(
            f"'{name}': unknown {kind} capability {key!r}"
            + (f"; {hint}" if hint else "")
            + f" (a {kind} accepts: {', '.join(allowed)})"
        )
    for f in dataclasses.fields(caps):
        value = getattr(caps, f.name)
        if f.name == "default":
            if not isinstance(value, bool):
                raise PluginContractError(
                    f"'{name}': default must be True or False. Received: {value!r}"
                )
        elif value is not None and not callable(value):
            raise PluginContractError(
                f"'{name}': capability {f.name} must be callable. Received: {value!r}"
            )


def check_contract(name: Any, params: Any, factory: Any, description: Any) -> None:
    """Raise :class:`PluginContractError` when an entry would break zoo's promises."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise PluginContractError(
            f"plugin name must match {NAME_PATTERN.pattern} (lowercase, digits, '_'). "
            f"Received: name={name!r}"
        )
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        raise PluginContractError(
            f"'{name}': params must be a pydantic BaseModel subclass. Received: params={params!r}"
        )
    if params.model_config.get("extra") != "forbid":
        raise PluginContractError(
            f"'{name}': params model {params.__name__} must forbid unknown keys "
            "(subclass zoo.PluginParams, or set model_config extra='forbid')"
        )
    undocumented = [f for f, info in params.model_fields.items() if not info.description]
    if undocumented:
        raise PluginContractError(
            f"'{name}': every parameter needs a description; missing for: "
            + ", ".join(undocumented)
        )
    if not callable(factory):
        raise PluginContractError(f"'{name}': factory must be callable. Received: {factory!r}")
    if not isinstance(description, str) or not description.strip():
        raise PluginContractError(f"'{name}': a short description is required")


class Registry:
    """All usable entries, the plugins that broke, and the names two plugins both claim."""

    def __init__(
        self,
        entries: Iterable[PluginEntry] = (),
        broken: Iterable[BrokenPlugin] = (),
        plugins: Iterable[Provenance] = (),
    ) -> None:
        self.broken: list[BrokenPlugin] = list(broken)
        self.plugins: list[Provenance] = list(plugins)
        self._entries: dict[str, PluginEntry] = {}
        self.conflicts: dict[str, list[PluginEntry]] = {}
        for entry in entries:
            self._insert(entry)

    def _insert(self, entry: PluginEntry) -> None:
        if entry.name in self.conflicts:
            self.conflicts[entry.name].append(entry)
        elif entry.name in self._entries:
            self.conflicts[entry.name] = [self._entries.pop(entry.name), entry]
        else:
            self._entries[entry.name] = entry

    def __iter__(self) -> Iterator[PluginEntry]:
        return iter(sorted(self._entries.values(), key=lambda e: (e.kind, e.name)))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def names(
        self, kind: PluginKind | None = None, recipe_type: RecipeType | None = None
    ) -> list[str]:
        """Registered names, sorted, optionally of one kind or recipe type."""
        return [e.name for e in self.list(kind=kind, recipe_type=recipe_type)]

    def list(
        self,
        kind: str | None = None,
        *,
        pattern: str | None = None,
        tag: str | Iterable[str] | None = None,
        recipe_type: RecipeType | None = None,
        family: str | None = None,
        input_kind: str | None = None,
        weights_license: str | None = None,
        min_params: int | None = None,
        max_params: int | None = None,
    ) -> list[PluginEntry]:
        """Entries matching every given filter (``pattern`` is a glob such as ``'res*'``)."""
        wanted_kind = KIND_PLURALS.get(kind, kind) if kind else None
        tags = {TAG_ALIASES.get(t, t) for t in ([tag] if isinstance(tag, str) else tag or ())}
        out = []
        for e in self:
            if wanted_kind and e.kind != wanted_kind:
                continue
            if recipe_type and e.recipe_type != recipe_type:
                continue
            if pattern and not fnmatch.fnmatchcase(e.name, pattern):
                continue
            if tags and not tags <= e.tags:
                continue
            if family and e.family != family:
                continue
            if input_kind and e.input_kind != input_kind:
                continue
            if weights_license and e.weights_license != weights_license:
                continue
            if min_params is not None and (e.param_count is None or e.param_count < min_params):
                continue
            if max_params is not None and (e.param_count is None or e.param_count > max_params):
                continue
            out.append(e)
        return out

    def get(
        self, name: str, kind: str | None = None, recipe_type: RecipeType | None = None
    ) -> PluginEntry:
        """The entry called ``name``; a clear error for unknown, conflicting or wrong-kind names."""
        wanted_kind = KIND_PLURALS.get(kind, kind) if kind else None
        if name in self.conflicts:
            raise DuplicatePluginError(self.conflict_message(name))
        entry = self._entries.get(name)
        label = recipe_type or wanted_kind or "plugin"
        if (
            entry is None
            or (wanted_kind and entry.kind != wanted_kind)
            or (recipe_type and entry.recipe_type != recipe_type)
        ):
            broken = self.broken_plugin(name) if entry is None else None
            if broken is not None:
                raise UnknownPluginError(
                    [Problem(f"'{name}' is broken and was not loaded: {broken.reason}")]
                )
            candidates = self.names(wanted_kind, recipe_type)  # type: ignore[arg-type]
            raise UnknownPluginError([Problem(self.unknown_message(name, label, candidates))])
        return entry

    @staticmethod
    def unknown_message(name: str, label: str, candidates: Sequence[str]) -> str:
        hint = did_you_mean(name, candidates)
        known = ", ".join(candidates) if candidates else "none registered"
        return f"unknown {label} '{name}'" + (f"; {hint}" if hint else "") + f" (known: {known})"

    def conflict_message(self, name: str) -> str:
        owners = " and ".join(
            f"{e.provenance.distribution or e.provenance.plugin} "
            f"{e.provenance.version or ''}".strip()
            + f" (plugin '{e.provenance.plugin}')"
            for e in self.conflicts[name]
        )
        plugins = ",".join(sorted({e.provenance.plugin for e in self.conflicts[name]}))
        return (
            f"the name '{name}' is registered by more than one plugin: {owners}; uninstall "
            f"one of them, or skip one with ZOO_DISABLE_PLUGINS=<plugin> (one of: {plugins})"
        )

    def broken_plugin(self, name: str) -> BrokenPlugin | None:
        """The broken plugin called ``name`` (entry-point or distribution name), if any."""
        for b in self.broken:
            if name in (b.plugin, b.distribution):
                return b
        return None

    def default_scaling(self) -> str | None:
        """The scaling recipe a spec without a ``scaling`` section gets: the one a plugin
        declared ``default=True`` (none when no plugin, or several, declare it)."""
        names = [
            e.name for e in self.list("recipe", recipe_type="scaling") if e.capabilities.default
        ]
        return names[0] if len(names) == 1 else None

    def describe(self, name: str) -> dict[str, Any]:
        """Everything ``zoo info NAME`` shows, JSON-able."""
        entry = self.get(name)
        return {**entry.summary(), "parameters": entry.parameters()}
