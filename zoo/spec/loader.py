"""Load a spec file: safe YAML, migrations, command-line overrides, validation, warnings."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from zoo.errors import Problem, UserError
from zoo.io import FileError, read_text
from zoo.plugin.manager import default_registry
from zoo.plugin.registry import PluginEntry, Registry
from zoo.spec.callback_checks import check_callbacks
from zoo.spec.dynamic import AUTO_SCALING, PLUGIN_SECTIONS, build_spec_model
from zoo.spec.problems import brief, format_path, one_line, parse_path, problems_from_validation
from zoo.spec.runtime_checks import runtime_problems
from zoo.spec.sections import CURRENT_SPEC_VERSION, SpecBase
from zoo.spec.yaml_source import YamlDocument, locate, parse_value, parse_yaml

# spec_version N -> function turning a version-N mapping into a version-(N+1) mapping.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


SectionName = Literal["data", "model", "scaling", "augmentation"]


class LoadedSpec:
    """A validated spec, resolved: where it came from, the registry it was validated
    against, each plugin section's registry entry, and the warnings it raised.

    Every later step (data preparation, pipelines, model building, the run record) takes
    this one object: no step looks a plugin up again or reads the YAML again to place an
    error (:meth:`located`).
    """

    def __init__(
        self,
        spec: SpecBase,
        path: Path | None,
        warnings: list[Problem],
        raw: dict[str, Any],
        registry: Registry | None = None,
        spec_dir: Path | None = None,
        doc: YamlDocument | None = None,
        overrides: Sequence[str] = (),
    ) -> None:
        self.spec = spec
        self.path = path
        self.warnings = warnings
        self.raw = raw
        self.registry = _registry(registry)
        if spec_dir is None:
            spec_dir = path.parent if path is not None else Path.cwd()
        self.spec_dir = Path(spec_dir).resolve()
        self.doc = doc
        self.overrides = tuple(overrides)
        self.entries: dict[str, PluginEntry] = {}
        for section, (key, _, _) in PLUGIN_SECTIONS.items():
            part = getattr(spec, section, None)
            if part is not None:
                self.entries[section] = self.registry.get(getattr(part, key))

    def __getattr__(self, name: str) -> Any:  # spec.model, spec.training, ...
        if name.startswith("__") or name in ("spec", "registry", "entries", "doc"):
            raise AttributeError(name)
        return getattr(self.spec, name)

    def entry(self, section: SectionName) -> PluginEntry:
        """The registry entry of a plugin section: ``data``, ``model``, ``scaling``..."""
        return self.entries[section]

    @property
    def augmentation_entry(self) -> PluginEntry | None:
        return self.entries.get("augmentation")

    @property
    def file(self) -> str:
        return str(self.path) if self.path is not None else "<spec>"

    def resolved(self) -> dict[str, Any]:
        """The spec with every default filled in, as plain data."""
        return self.spec.model_dump(mode="json")

    def with_spec_dir(self, spec_dir: Path) -> LoadedSpec:
        """The same spec, with relative paths starting at ``spec_dir`` (a resumed run's
        spec lives in the run folder; its data paths start where the original spec was)."""
        return LoadedSpec(
            self.spec,
            self.path,
            self.warnings,
            self.raw,
            self.registry,
            spec_dir,
            self.doc,
            self.overrides,
        )

    def located(self, problems: Sequence[Problem]) -> UserError:
        """A UserError whose problems name this spec's file, line and column (or the
        ``--set`` that caused them) from their key paths."""
        out = []
        for problem in problems:
            if self.doc is not None and not problem.file:
                problem = _located(problem, self.doc)
            elif not problem.file:
                problem = dataclasses.replace(problem, file=self.file)
            out.append(_blame_override(problem, self.overrides))
        return UserError(out)


def _registry(registry: Registry | None) -> Registry:
    if registry is not None:
        return registry

    return default_registry()


def parse_override(text: str) -> tuple[list[str | int], Any]:
    """``training.epochs=3`` -> (['training', 'epochs'], 3); values are read as YAML.

    Paths are written as errors print them (``callbacks[0].patience``) or with dots only
    (``callbacks.0.patience``).
    """
    if "=" not in text:
        raise UserError(
            [
                Problem(
                    f"override must look like key.path=value, got {one_line(text, 200)!r}", "--set"
                )
            ]
        )
    key, _, raw_value = text.partition("=")
    where = "--set " + one_line(text, 200)
    if not key.strip():
        raise UserError([Problem("override has an empty key path", where)])
    path = parse_path(key)
    if path is None:
        raise UserError(
            [
                Problem(
                    f"not a key path: {one_line(key, 200)!r} (write it like "
                    "training.epochs or callbacks[0].patience)",
                    where,
                )
            ]
        )
    return path, parse_value(raw_value, where)


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of ``data`` with each ``key.path=value`` set, creating mappings as needed."""
    data = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        cur: Any = data
        for i, step in enumerate(path):
            last = i == len(path) - 1
            if (
                isinstance(cur, dict)
                and (last or cur.get(step) is None)
                and (last or not isinstance(path[i + 1], int))
            ):
                cur[step] = value if last else {}  # missing mappings are created
            elif not _has(cur, step):
                here = format_path(path[: i + (isinstance(cur, dict))]) or "the spec"
                why = (
                    f"{here} has {len(cur)} item{'s' * (len(cur) != 1)}"
                    if isinstance(cur, list) and isinstance(step, int)
                    else f"{here} is a list: give an index, like {here}[0]"
                    if isinstance(cur, list)
                    else f"{here} is not set; set the whole list: {here}=[...]"
                    if isinstance(cur, dict)
                    else f"{here} is {brief(cur)}, not a mapping"
                )
                raise UserError(
                    [
                        Problem(
                            f"cannot set this: {why}",
                            "--set " + one_line(text, 200),
                            key_path=format_path(path),
                        )
                    ]
                )
            elif last:
                cur[step] = value
            cur = cur[step]
    return data


def _has(container: Any, step: str | int) -> bool:
    if isinstance(container, dict):
        return step in container
    return isinstance(container, list) and isinstance(step, int) and 0 <= step < len(container)


def _migrate(data: dict[str, Any], file: str) -> dict[str, Any]:
    version = data.get("spec_version", CURRENT_SPEC_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UserError(
            [
                Problem(
                    f"spec_version must be a positive integer (got {version!r})",
                    file,
                    key_path="spec_version",
                )
            ]
        )
    if version > CURRENT_SPEC_VERSION:
        raise UserError(
            [
                Problem(
                    f"spec_version {version} is newer than this zoo understands "
                    f"({CURRENT_SPEC_VERSION}); upgrade zoo",
                    file,
                    key_path="spec_version",
                )
            ]
        )
    while version < CURRENT_SPEC_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
        data["spec_version"] = version
    return data


SWEEP_KEYS = frozenset({"spec", "space"})  # what makes a YAML file a sweep file


def load_spec_text(
    text: str,
    file: str = "<spec>",
    overrides: Sequence[str] = (),
    registry: Registry | None = None,
    base_dir: Path | None = None,
) -> LoadedSpec:
    """Validate spec text; raises :class:`UserError` listing every problem at once.

    ``base_dir`` is where relative paths in the spec start (default: the file's folder).
    """
    registry = _registry(registry)
    doc = parse_yaml(text, file)
    if not isinstance(doc.data, dict):
        raise UserError([Problem("a spec must be a mapping of keys to values", file, 1, 1)])
    if SWEEP_KEYS <= set(doc.data) and "model" not in doc.data:
        raise UserError(
            [
                Problem(
                    "this is a sweep file (spec, space, objective), not a spec: check it with "
                    f"zoo sweep {file} --check, run it with zoo sweep {file}",
                    file,
                    1,
                    1,
                )
            ]
        )
    data = _migrate(apply_overrides(doc.data, overrides), file)
    doc = YamlDocument(data, doc.root, file)
    model = build_spec_model(registry)
    auto = _wants_auto_scaling(data)
    try:
        spec = model.model_validate(
            _with_scaling(data, registry.default_scaling()) if auto else data
        )
        if auto:
            spec = _resolve_auto_scaling(spec, data, model, registry)
    except ValidationError as exc:
        problems = _without_conflicts(
            problems_from_validation(exc, doc, model, registry), data, registry
        )
        problems += _conflict_problems(data, registry, doc)
        raise UserError([_blame_override(p, overrides) for p in problems]) from None
    problems = _conflict_problems(data, registry, doc)
    if problems:
        raise UserError(problems)
    path = Path(file) if file and not file.startswith("<") else None
    spec_dir = base_dir if base_dir is not None else (path.parent if path else None)
    loaded = LoadedSpec(spec, path, [], data, registry, spec_dir, doc, overrides)
    try:
        loaded.warnings = _plugin_checks(loaded, doc, auto)
    except UserError as exc:
        raise UserError([_blame_override(p, overrides) for p in exc.problems]) from None
    return loaded


def _wants_auto_scaling(data: dict[str, Any]) -> bool:
    scaling = data.get("scaling")
    return isinstance(scaling, dict) and scaling.get("recipe") == AUTO_SCALING


def _with_scaling(data: dict[str, Any], recipe: str | None) -> dict[str, Any]:
    out = dict(data)
    out["scaling"] = {**data["scaling"], "recipe": recipe or AUTO_SCALING}
    return out


def _resolve_auto_scaling(
    spec: SpecBase, data: dict[str, Any], model: type[SpecBase], registry: Registry
) -> SpecBase:
    """``scaling: {recipe: auto}``: the recipe the architecture's params require, else the
    registry's default."""
    entry = registry.get(spec.model.architecture, "architecture")
    need = entry.capabilities.required_scaling
    wanted = need(spec.model.params) if need else None
    if wanted is None or wanted == spec.scaling.recipe:
        return spec
    return model.model_validate(_with_scaling(data, wanted))


def _without_conflicts(
    problems: list[Problem], data: dict[str, Any], registry: Registry
) -> list[Problem]:
    """Drop 'unknown plugin' reports for names that are really claimed twice: the conflict
    problem says what is wrong."""
    clashing = {path for path, name in _plugin_names(data) if name in registry.conflicts}
    return [p for p in problems if p.key_path not in clashing]


def _plugin_names(data: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for section, (key, _, _) in PLUGIN_SECTIONS.items():
        value = data.get(section)
        name = value.get(key) if isinstance(value, dict) else None
        if isinstance(name, str):
            out.append((f"{section}.{key}", name))
    return out


def _blame_override(problem: Problem, overrides: Sequence[str]) -> Problem:
    """A mistake made on the command line is reported against that ``--set``, not the file:
    any problem at or under an overridden path, whichever way either path is spelled, or
    on a mapping the override made (``--set seed.x=1``)."""
    path = parse_path(problem.key_path) if problem.key_path else None
    if path is None:
        return problem
    for text in reversed(overrides):
        key = parse_path(text.partition("=")[0])
        if key is not None and (path[: len(key)] == key or key[: len(path)] == path):
            return Problem(
                problem.message, "--set " + one_line(text, 200), key_path=problem.key_path
            )
    return problem


def _conflict_problems(
    data: dict[str, Any], registry: Registry, doc: YamlDocument
) -> list[Problem]:
    return [
        _located(Problem(registry.conflict_message(name), key_path=path), doc)
        for path, name in _plugin_names(data)
        if name in registry.conflicts
    ]


def _plugin_checks(loaded: LoadedSpec, doc: YamlDocument, auto_scaling: bool) -> list[Problem]:
    """Checks that judge the whole spec: the plugins' own ``check_spec`` capabilities
    (crop boxes vs. image size, data paths), the scaling the weights require, fine-tuning
    phases on a model that can unfreeze. Each problem is located in the file."""
    warnings: list[Problem] = []
    errors: list[Problem] = []
    spec = loaded.spec
    for section, entry in loaded.entries.items():
        check = entry.capabilities.check_spec
        if check is None:
            continue
        part = getattr(spec, section)
        try:
            extra = {"spec_dir": loaded.spec_dir} if _takes_spec_dir(check) else {}
            for text in check(part.params, spec, **extra) or ():
                warnings.append(_located(Problem(f"warning: {text}", key_path=section), doc))
        except UserError as exc:
            errors += [_located(p, doc, default_path=section) for p in exc.problems]
    errors += [_located(p, doc) for p in _core_checks(loaded, auto_scaling)]
    if errors:
        raise UserError(errors)
    return warnings


def _takes_spec_dir(check: Any) -> bool:
    try:
        return "spec_dir" in inspect.signature(check).parameters
    except (TypeError, ValueError):
        return False


def _core_checks(loaded: LoadedSpec, auto_scaling: bool) -> list[Problem]:
    """What zoo itself checks across sections, using the plugins' declared capabilities."""
    spec = loaded.spec
    model = loaded.entry("model")
    caps = model.capabilities
    problems = []
    wanted = caps.required_scaling(spec.model.params) if caps.required_scaling else None
    if wanted is not None and spec.scaling.recipe != wanted and not auto_scaling:
        problems.append(
            Problem(
                f"architecture '{model.name}' with these params expects the '{wanted}' scaling its "
                f"weights were trained with, not '{spec.scaling.recipe}'; set scaling: "
                f"{{recipe: {wanted}}} (or {{recipe: auto}})",
                key_path="scaling.recipe",
            )
        )
    if spec.training.phases and caps.set_trainable is None:
        problems.append(
            Problem(
                f"architecture '{model.name}' has no layers to freeze or unfreeze, so it cannot "
                "have fine-tuning phases",
                key_path="training.phases",
            )
        )

    # The data is not loaded here: val_ names and each class's F1 pass; the runner checks
    # them again against the loaded splits.
    return problems + runtime_problems(spec) + check_callbacks(spec, None, None)


def _located(problem: Problem, doc: YamlDocument, default_path: str | None = None) -> Problem:
    """The problem with the spec file's name and the line and column of its key path."""
    key_path = problem.key_path or default_path
    line = column = None
    if key_path:
        steps = [int(s) if s.isdigit() else s for s in re.split(r"\.|\[|\]", key_path) if s]
        found = locate(doc.root, steps)
        if found:
            line, column = found
    return Problem(problem.message, problem.file or doc.file, line, column, key_path)


def load_spec(
    path: str | Path,
    overrides: Sequence[str] = (),
    registry: Registry | None = None,
    base_dir: Path | None = None,
) -> LoadedSpec:
    """Read and validate a spec file (relative paths start at ``base_dir``, default: the
    file's folder)."""
    path = Path(path)
    try:
        text = read_text(path)  # the YAML reader bounds its size itself, with its message
    except FileError as exc:
        why = exc.problems[0].message
        why = "no such spec file" if why == "no such file" else f"cannot read spec file: {why}"
        raise UserError([Problem(why, str(path))]) from None
    return load_spec_text(text, str(path), overrides, registry, base_dir)


def validate_spec(
    path: str | Path, overrides: Sequence[str] = (), registry: Registry | None = None
) -> list[Problem]:
    """Every problem in a spec file (empty when it is valid)."""
    try:
        load_spec(path, overrides, registry)
    except UserError as exc:
        return exc.problems
    return []
