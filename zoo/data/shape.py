"""Works out a model's input shape and class count from a spec, without loading the data.

Order of precedence: the model section (``input_shape``, ``num_classes``), then the data
section (``image_size``, ``channels``), then the data source's cheap ``shape_hint``
capability (for example digits: 8x8x1 and 10 classes), then what the caller learnt from
loading the data.
"""

from __future__ import annotations

from zoo.data.prepare import data_context
from zoo.errors import Problem, UserError
from zoo.plugin.contracts import ModelContext, ShapeHint
from zoo.plugin.guards import check_shape_hint
from zoo.spec.loader import LoadedSpec


def shape_hint(loaded: LoadedSpec) -> ShapeHint:
    """What the spec's data source can tell without loading its images."""
    entry = loaded.entry("data")
    hint_fn = entry.capabilities.shape_hint
    if hint_fn is None:
        return ShapeHint()
    return check_shape_hint(hint_fn(loaded.spec.data.params, data_context(loaded)), entry)


def resolve_model_context(
    loaded: LoadedSpec,
    *,
    num_classes: int | None = None,
    image_shape: tuple[int, ...] | None = None,
) -> ModelContext:
    """The :class:`ModelContext` for a resolved spec (``LoadedSpec``);
    ``image_shape``/``num_classes`` come from loaded data when the caller has it."""
    spec = loaded.spec
    needs_hint = image_shape is None or num_classes is None
    hint = shape_hint(loaded) if needs_hint else ShapeHint()
    shape = spec.model.input_shape or image_shape
    if shape is None:
        size = spec.data.image_size or hint.image_size
        channels = spec.data.channels or hint.channels
        if size is not None and channels is not None:
            shape = (int(size[0]), int(size[1]), int(channels))
    classes = spec.model.num_classes or num_classes or hint.num_classes
    problems = []
    if shape is None:
        problems.append(
            Problem(
                "cannot tell the model's input shape without loading the data; set "
                "data.image_size and data.channels (or model.input_shape)",
                key_path="model.input_shape",
            )
        )
    if classes is None:
        problems.append(
            Problem(
                "cannot tell the number of classes without loading the data; set model.num_classes",
                key_path="model.num_classes",
            )
        )
    if problems:
        raise UserError(problems)
    assert shape is not None and classes is not None
    return ModelContext(
        input_shape=tuple(int(s) for s in shape),
        num_classes=int(classes),
        output_activation=spec.model.output_activation,
        name=spec.model.name or spec.name.replace("-", "_").replace(".", "_"),
        spec_dir=loaded.spec_dir,
    )
