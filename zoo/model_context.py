"""Works out a model's input shape and class count from a spec, without loading the data.

Order of precedence: the model section (``input_shape``, ``num_classes``), then the data
section (``image_size``, ``channels``), then the data source's cheap ``shape_hint`` (for
example digits: 8x8x1 and 10 classes), then what the caller learnt from loading the data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.contracts import ModelContext
from zoo.errors import Problem, UserError
from zoo.registry import Registry


def shape_hint(spec: Any, registry: Registry, spec_dir: Path | None = None) -> dict[str, Any]:
    """What the data source can tell without loading: image_size, channels, num_classes.

    ``spec_dir`` is where relative data paths start (the spec file's folder).
    """
    entry = registry.get(spec.data.source, "data")
    hint = entry.extra.get("shape_hint")
    if not callable(hint):
        return {}
    found = hint(spec.data.params, spec.data, spec_dir=spec_dir) if spec_dir else hint(
        spec.data.params, spec.data)
    return {k: v for k, v in dict(found or {}).items() if v is not None}


def resolve_model_context(
    spec: Any,
    registry: Registry,
    *,
    num_classes: int | None = None,
    image_shape: tuple[int, ...] | None = None,
    spec_dir: Path | None = None,
) -> ModelContext:
    """The :class:`ModelContext` for ``spec``; ``image_shape``/``num_classes`` come from loaded data."""
    needs_hint = image_shape is None or num_classes is None
    hint = shape_hint(spec, registry, spec_dir) if needs_hint else {}
    shape = spec.model.input_shape or image_shape
    if shape is None:
        size = spec.data.image_size or hint.get("image_size")
        channels = spec.data.channels or hint.get("channels")
        if size is not None and channels is not None:
            shape = (int(size[0]), int(size[1]), int(channels))
    classes = spec.model.num_classes or num_classes or hint.get("num_classes")
    problems = []
    if shape is None:
        problems.append(Problem("cannot tell the model's input shape without loading the data; set "
                                "data.image_size and data.channels (or model.input_shape)",
                                key_path="model.input_shape"))
    if classes is None:
        problems.append(Problem("cannot tell the number of classes without loading the data; set "
                                "model.num_classes", key_path="model.num_classes"))
    if problems:
        raise UserError(problems)
    return ModelContext(
        input_shape=tuple(int(s) for s in shape),  # type: ignore[union-attr]
        num_classes=int(classes),  # type: ignore[arg-type]
        output_activation=spec.model.output_activation,
        name=spec.model.name or spec.name.replace("-", "_").replace(".", "_"),
    )
