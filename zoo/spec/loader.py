"""Load a spec file: safe YAML, migrations, command-line overrides, validation, warnings."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from zoo.errors import Problem, UserError
from zoo.registry import Registry
from zoo.spec.dynamic import PLUGIN_SECTIONS, build_spec_model
from zoo.spec.problems import format_path, problems_from_validation
from zoo.spec.sections import CURRENT_SPEC_VERSION
from zoo.spec.yaml_source import YamlDocument, locate, parse_yaml

# spec_version N -> function turning a version-N mapping into a version-(N+1) mapping.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


class LoadedSpec:
    """A validated spec with where it came from and any warnings it raised."""

    def __init__(self, spec: BaseModel, path: Path | None, warnings: list[Problem], raw: dict[str, Any]):
        self.spec = spec
        self.path = path
        self.warnings = warnings
        self.raw = raw

    def __getattr__(self, name: str) -> Any:  # spec.model, spec.training, ...
        return getattr(self.spec, name)

    def resolved(self) -> dict[str, Any]:
        """The spec with every default filled in, as plain data."""
        return self.spec.model_dump(mode="json")


def _registry(registry: Registry | None) -> Registry:
    if registry is not None:
        return registry
    from zoo.plugin_manager import default_registry

    return default_registry()


def parse_override(text: str) -> tuple[list[str | int], Any]:
    """``training.epochs=3`` -> (['training', 'epochs'], 3); values are read as YAML."""
    if "=" not in text:
        raise UserError([Problem(f"override must look like key.path=value, got {text!r}", "--set")])
    key, _, raw_value = text.partition("=")
    path: list[str | int] = [int(p) if p.isdigit() else p for p in key.strip().split(".") if p]
    if not path:
        raise UserError([Problem(f"override has an empty key path: {text!r}", "--set")])
    try:
        value = yaml.safe_load(raw_value) if raw_value.strip() else None
    except yaml.YAMLError:
        value = raw_value
    return path, value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of ``data`` with each ``key.path=value`` set, creating mappings as needed."""
    data = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        cur: Any = data
        for i, step in enumerate(path[:-1]):
            nxt = cur[step] if _has(cur, step) else None
            if nxt is None:
                nxt = {}
                if isinstance(cur, dict):
                    cur[step] = nxt
                else:
                    raise UserError([Problem(f"cannot set {format_path(path)}: "
                                             f"{format_path(path[: i + 1])} is not a mapping", "--set")])
            cur = nxt
        if isinstance(cur, dict):
            cur[path[-1]] = value
        elif isinstance(cur, list) and isinstance(path[-1], int) and path[-1] < len(cur):
            cur[path[-1]] = value
        else:
            raise UserError([Problem(f"cannot set {format_path(path)}", "--set")])
    return data


def _has(container: Any, step: str | int) -> bool:
    if isinstance(container, dict):
        return step in container
    return isinstance(container, list) and isinstance(step, int) and 0 <= step < len(container)


def _migrate(data: dict[str, Any], file: str) -> dict[str, Any]:
    version = data.get("spec_version", CURRENT_SPEC_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UserError([Problem(f"spec_version must be a positive integer (got {version!r})", file,
                                 key_path="spec_version")])
    if version > CURRENT_SPEC_VERSION:
        raise UserError([Problem(f"spec_version {version} is newer than this zoo understands "
                                 f"({CURRENT_SPEC_VERSION}); upgrade zoo", file, key_path="spec_version")])
    while version < CURRENT_SPEC_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
        data["spec_version"] = version
    return data


def load_spec_text(text: str, file: str = "<spec>", overrides: Sequence[str] = (),
                   registry: Registry | None = None, base_dir: Path | None = None) -> LoadedSpec:
    """Validate spec text; raises :class:`UserError` listing every problem at once."""
    registry = _registry(registry)
    doc = parse_yaml(text, file)
    if not isinstance(doc.data, dict):
        raise UserError([Problem("a spec must be a mapping of keys to values", file, 1, 1)])
    data = _migrate(apply_overrides(doc.data, overrides), file)
    doc = YamlDocument(data, doc.root, file)
    model = build_spec_model(registry)
    try:
        spec = model.model_validate(data)
    except ValidationError as exc:
        problems = problems_from_validation(exc, doc, model, registry)
        problems += _conflict_problems(data, registry, file)
        raise UserError([_blame_override(p, overrides) for p in problems]) from None
    problems = _conflict_problems(data, registry, file)
    if problems:
        raise UserError(problems)
    path = Path(file) if file and not file.startswith("<") else None
    warnings = _plugin_checks(spec, registry, doc)
    return LoadedSpec(spec, path, warnings, data)


def _blame_override(problem: Problem, overrides: Sequence[str]) -> Problem:
    """A mistake made on the command line is reported against that ``--set``, not the file."""
    for text in reversed(overrides):
        key = text.partition("=")[0].strip()
        if problem.key_path and (problem.key_path == key or problem.key_path.startswith(key + ".")):
            return Problem(problem.message, f"--set {text}", key_path=problem.key_path)
    return problem


def _conflict_problems(data: dict[str, Any], registry: Registry, file: str) -> list[Problem]:
    out = []
    for section, (key, _, _) in PLUGIN_SECTIONS.items():
        value = data.get(section)
        name = value.get(key) if isinstance(value, dict) else None
        if isinstance(name, str) and name in registry.conflicts:
            out.append(Problem(registry.conflict_message(name), file, key_path=f"{section}.{key}"))
    return out


def _plugin_checks(spec: BaseModel, registry: Registry, doc: YamlDocument) -> list[Problem]:
    """Plugins that judge the whole spec (scaling vs. weights, crop boxes vs. image size).

    A check returns warnings, or raises :class:`UserError` for a mistake; either way each
    problem is located in the file by its key path.
    """
    warnings: list[Problem] = []
    errors: list[Problem] = []
    for section, (key, _, _) in PLUGIN_SECTIONS.items():
        part = getattr(spec, section, None)
        if part is None:
            continue
        entry = registry.get(getattr(part, key))
        check = entry.extra.get("check_spec")
        if not callable(check):
            continue
        try:
            for text in check(part.params, spec) or ():
                warnings.append(_located(Problem(f"warning: {text}", key_path=section), doc))
        except UserError as exc:
            errors += [_located(p, doc, default_path=section) for p in exc.problems]
    if errors:
        raise UserError(errors)
    return warnings


def _located(problem: Problem, doc: YamlDocument, default_path: str | None = None) -> Problem:
    """The problem with the spec file's name and the line and column of its key path."""
    key_path = problem.key_path or default_path
    line = column = None
    if key_path:
        steps = [int(s) if s.isdigit() else s
                 for s in re.split(r"\.|\[|\]", key_path) if s]
        found = locate(doc.root, steps)
        if found:
            line, column = found
    return Problem(problem.message, problem.file or doc.file, line, column, key_path)


def load_spec(path: str | Path, overrides: Sequence[str] = (), registry: Registry | None = None) -> LoadedSpec:
    """Read and validate a spec file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError([Problem("no such spec file", str(path))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError([Problem(f"cannot read spec file: {exc}", str(path))]) from None
    return load_spec_text(text, str(path), overrides, registry)


def validate_spec(path: str | Path, overrides: Sequence[str] = (), registry: Registry | None = None) -> list[Problem]:
    """Every problem in a spec file (empty when it is valid)."""
    try:
        load_spec(path, overrides, registry)
    except UserError as exc:
        return exc.problems
    return []
