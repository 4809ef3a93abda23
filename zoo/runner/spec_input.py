"""The forms a spec may take in Python: a file path, a ``LoadedSpec``, a Spec model or a
plain mapping (NumPy scalars welcome), each validated like a spec file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from zoo.errors import Problem, UserError
from zoo.plugin.registry import Registry
from zoo.spec.loader import LoadedSpec, load_spec, load_spec_text
from zoo.spec.sections import SpecBase

SpecLike = str | Path | LoadedSpec | SpecBase | Mapping[str, Any]


def load(
    spec: SpecLike, overrides: Sequence[str] = (), registry: Registry | None = None
) -> LoadedSpec:
    """A LoadedSpec from a path, a LoadedSpec, a Spec model or a plain mapping."""
    if isinstance(spec, (str, Path)):
        return load_spec(spec, overrides, registry)
    if isinstance(spec, LoadedSpec):
        if not overrides:
            return spec
        return load_spec_text(_dump(spec.raw), spec.file, overrides, registry, spec.spec_dir)
    if isinstance(spec, Mapping):
        return load_spec_text(_dump(dict(spec)), "<spec>", overrides, registry)
    if isinstance(spec, SpecBase):
        return load_spec_text(_dump(spec.model_dump(mode="json")), "<spec>", overrides, registry)
    raise TypeError(
        f"train() takes a spec path, LoadedSpec, Spec or dict; got {type(spec).__name__}"
    )


def _dump(data: dict[str, Any]) -> str:
    """YAML of a spec given as data: NumPy scalars are numbers, other objects a UserError."""
    try:
        return yaml.safe_dump(_plain(data), sort_keys=False)
    except yaml.YAMLError as exc:
        raise UserError(
            [Problem(f"the spec holds a value YAML cannot represent: {exc}", "<spec>")]
        ) from None


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return value
