"""Augmentation recipes, all run by albumentations 2 behind zoo's interface.

- ``albumentations``: a pipeline written inline in the spec, any albumentations transform by
  name with its arguments checked against the transform's own signature and schema, the
  combinators ``Compose``/``OneOf``/``SomeOf``/``Sequential``/``RandomOrder`` nested at will,
  albumentations 1.x argument names translated (``_albu_schema.LEGACY``)::

      augmentation:
        recipe: albumentations
        params:
          transforms:
            - HorizontalFlip: {p: 0.5}
            - OneOf:
                p: 0.5
                transforms:
                  - Blur: {blur_limit: [3, 7]}
                  - CLAHE: {clip_limit: 4}

- ``keras_style``: Keras' ``ImageDataGenerator`` arguments (flips, rotation, shifts,
  zoom, brightness).
- ``light``, ``medium``, ``heavy``: ready-made pipelines of commonly used transforms (flips,
  shift-scale-rotate, crops, brightness/contrast, colour jitter, CLAHE, blur, coarse
  dropout), with a probability ``p`` and a ``strength``; see docs/reference-models.md.

Every factory returns an :class:`AlbumentationsAugmenter`: uint8 HWC in, uint8 HWC of the
same shape out, seeded from the spec's seed; ``keras_style`` and ``light`` also declare the
``graph`` capability (``_graph_ops``): the same transforms as batched, seeded TensorFlow ops,
which the pipeline runs inside tf.data instead unless the spec says ``path: python``.
``to_spec()`` (also the registered ``to_spec`` capability)
reads the spec's params back from the built pipeline. The pipeline runs it on training
images only. albumentations is imported lazily: ``zoo list`` imports this module.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError
from zoo_builtins.recipes import _albu_schema as albu
from zoo_builtins.recipes._graph_ops import GRAPH, keras_style_graph
from zoo_builtins.recipes._named import NAMED, keras_items, keras_params

import zoo
from zoo import plugin
from zoo.plugin import Problem, UserError, format_path

ITEMS_PATH = ("augmentation", "params", "transforms")


class AlbumentationsAugmenter:
    """One image (uint8 HWC) in, one augmented image of the same shape out.

    ``__call__`` draws from one generator seeded by the spec's seed, so a sequence of calls
    repeats. ``augment_batch(images, seed)`` reseeds a spare copy of the pipeline for each
    batch (one per concurrent caller, kept for reuse): that is what the tf.data pipeline
    uses, so batches come out the same whatever thread ran them.
    """

    def __init__(
        self,
        recipe: str,
        items: list[dict[str, Any]],
        ctx: zoo.AugmentContext,
        to_params: Callable[[list[dict[str, Any]]], dict[str, Any]],
    ) -> None:
        self.recipe = recipe
        self.items = items
        self.ctx = ctx
        self._to_params = to_params
        self.pipeline = albu.build(items, seed=ctx.seed)
        # Spare pipelines for augment_batch. Not threading.local: TensorFlow runs
        # numpy_function in threads whose Python state is new at every call.
        self._spares: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def __getstate__(self) -> dict[str, Any]:
        # What a worker process needs to rebuild the pipeline (see zoo.data.pipeline).
        return {"recipe": self.recipe, "items": self.items, "ctx": self.ctx}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["recipe"], state["items"], state["ctx"], _not_in_worker)  # type: ignore[misc]

    def __call__(self, image: Any) -> np.ndarray:
        return self._apply(self.pipeline, image)

    def augment_batch(self, images: np.ndarray, seed: int) -> np.ndarray:
        """Augment a uint8 NHWC batch with a pipeline reseeded by ``seed``."""
        try:
            pipeline = self._spares.get_nowait()
        except queue.Empty:
            pipeline = albu.build(self.items, seed=self.ctx.seed)
        try:
            pipeline.set_random_seed(int(seed) % 2**32)
            out = np.empty_like(images)
            for i in range(len(images)):
                out[i] = self._apply(pipeline, images[i])
            return out
        finally:
            self._spares.put(pipeline)

    @staticmethod
    def _apply(pipeline: Any, image: Any) -> np.ndarray:
        image = np.ascontiguousarray(image, dtype=np.uint8)
        result = pipeline(image=image)["image"]
        if result.ndim == 2:
            result = result[..., None]
        if result.shape != image.shape:
            raise ValueError(
                f"the augmentation turned a {image.shape} image into {result.shape}; "
                "end the pipeline with Resize to the data's image_size"
            )
        return result

    def to_spec(self) -> dict[str, Any]:
        """The recipe's params, read back from the built pipeline."""
        return self._to_params(albu.describe_pipeline(self.pipeline))

    def __repr__(self) -> str:
        return f"AlbumentationsAugmenter({self.recipe!r}, {len(self.items)} transforms)"


def _not_in_worker(items: list[dict[str, Any]]) -> dict[str, Any]:
    raise RuntimeError("to_spec() is not available on an augmenter copied into a worker")


def to_spec(augmenter: AlbumentationsAugmenter) -> dict[str, Any]:
    """The ``to_spec`` capability: a built augmenter back to its spec params."""
    return augmenter.to_spec()


def _raise_problems(errors: list[albu.TransformError], prefix: tuple = ITEMS_PATH) -> None:
    if errors:
        raise UserError(
            [Problem(e.message, key_path=format_path([*prefix, *e.loc])) for e in errors]
        )


def _check_image(
    items: list[dict[str, Any]], size: Any, channels: int | None, prefix: tuple = ITEMS_PATH
) -> None:
    if size is not None:
        _raise_problems(albu.check_against_image(items, tuple(size), channels), prefix)


# --- albumentations: an inline pipeline -------------------------------------------------


def _check_item(value: Any) -> dict[str, Any]:
    try:
        return albu.canonical_item(value)
    except albu.TransformError as exc:
        raise PydanticCustomError(
            "augmentation", "{message}", {"message": exc.message, "zoo_loc": exc.loc}
        ) from None


ITEM_SCHEMA = {
    "anyOf": [
        {"type": "string", "description": "A transform with its default arguments."},
        {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "description": "{TransformName: {argument: value}}; Compose/OneOf/SomeOf/Sequential/"
            "RandomOrder take transforms (a list like this one) and p.",
        },
    ]
}
TransformItem = Annotated[Any, AfterValidator(_check_item), WithJsonSchema(ITEM_SCHEMA)]


class AlbumentationsParams(zoo.PluginParams):
    transforms: list[TransformItem] = Field(
        min_length=1,
        description="The pipeline: items {TransformName: {argument: value}}, applied in order, "
        "each with its own probability p; combinators nest.",
    )


def build_albumentations(
    params: AlbumentationsParams, ctx: zoo.AugmentContext
) -> AlbumentationsAugmenter:
    items = [dict(i) for i in params.transforms]
    _check_image(items, ctx.image_size, ctx.channels)
    return AlbumentationsAugmenter("albumentations", items, ctx, lambda got: {"transforms": got})


def check_albumentations(params: AlbumentationsParams, spec: Any) -> list[str]:
    items = list(params.transforms)
    _check_image(items, spec.data.image_size, spec.data.channels)
    return albu.advisories(items)


# --- keras_style ---------------------------------------------------------------------------------


def _zoom(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 <= value < 1:
            raise ValueError(
                f"a single zoom_range z means [1 - z, 1 + z] and needs 0 <= z < 1 (got {value})"
            )
        return (1 - value, 1 + value)
    return value


class KerasStyleParams(zoo.PluginParams):
    horizontal_flip: bool = Field(True, description="Flip left-right half of the time.")
    vertical_flip: bool = Field(True, description="Flip upside down half of the time.")
    rotation_range: float = Field(
        20, ge=0, le=180, description="Rotate by up to this many degrees either way."
    )
    width_shift_range: float = Field(
        0.2, ge=0, lt=1, description="Shift sideways by up to this fraction of the width."
    )
    height_shift_range: float = Field(
        0.2, ge=0, lt=1, description="Shift up or down by up to this fraction of the height."
    )
    zoom_range: Annotated[tuple[float, float], BeforeValidator(_zoom)] = Field(
        (1.0, 1.0),
        description="Zoom range [low, high] (Keras: above 1 zooms out), or z for [1-z, 1+z].",
    )
    brightness_range: tuple[float, float] | None = Field(
        (0.7, 1.3), description="Multiply every pixel by a factor in [low, high]; null: off."
    )
    fill_mode: Literal["nearest", "constant", "reflect", "wrap"] = Field(
        "nearest", description="How points outside the image are filled after rotating or shifting."
    )
    cval: float = Field(0.0, ge=0, le=255, description="Fill value for fill_mode constant.")

    @model_validator(mode="after")
    def _ordered(self) -> KerasStyleParams:
        for key in ("zoom_range", "brightness_range"):
            value = getattr(self, key)
            if value is not None and not 0 < value[0] <= value[1]:
                raise ValueError(
                    f"{key} must be [low, high] with 0 < low <= high (got {list(value)})"
                )
        return self


def build_keras_style(params: KerasStyleParams, ctx: zoo.AugmentContext) -> AlbumentationsAugmenter:
    items = albu.canonical_items(keras_items(params))
    return AlbumentationsAugmenter("keras_style", items, ctx, keras_params)


# --- light / medium / heavy ----------------------------------------------------------------------


class NamedParams(zoo.PluginParams):
    p: float = Field(0.5, ge=0, le=1, description="Probability of each step of the recipe.")
    strength: float = Field(
        1.0,
        gt=0,
        le=2,
        description="Multiplies every magnitude (shift, rotation, "
        "brightness...); 1 is the documented recipe.",
    )


def _named_factory(
    name: str,
) -> Callable[[NamedParams, zoo.AugmentContext], AlbumentationsAugmenter]:
    expand = NAMED[name][0]

    def build(params: NamedParams, ctx: zoo.AugmentContext) -> AlbumentationsAugmenter:
        def items_for(p: NamedParams) -> list[dict[str, Any]]:
            size = (int(ctx.image_size[0]), int(ctx.image_size[1]))
            return albu.canonical_items(expand(p.p, p.strength, size))

        items = items_for(params)

        def read_back(got: list[dict[str, Any]]) -> dict[str, Any]:
            # The recipe is a function of (p, strength): the pipeline stands for these params
            # exactly when expanding them again gives the very same transforms.
            if got != items_for(params):
                raise ValueError(f"this pipeline is not the '{name}' recipe any more")
            return params.model_dump(mode="json")

        return AlbumentationsAugmenter(name, items, ctx, read_back)

    return build


def _named_check(name: str) -> Callable[[NamedParams, Any], list[str]]:
    def check(params: NamedParams, spec: Any) -> list[str]:
        if spec.data.image_size is not None:
            items = albu.canonical_items(
                NAMED[name][0](params.p, params.strength, tuple(spec.data.image_size))
            )
            _check_image(items, spec.data.image_size, spec.data.channels, ("augmentation",))
        return []

    return check


@zoo.hookimpl
def zoo_register_recipes(registry: plugin.PluginRegistrar) -> None:
    registry.add_augmentation(
        "albumentations",
        params=AlbumentationsParams,
        factory=build_albumentations,
        description="An albumentations pipeline written in the spec: any transform by name, "
        "OneOf/SomeOf/Compose nesting, each with its probability p.",
        tags={"albumentations", "custom"},
        to_spec=to_spec,
        check_spec=check_albumentations,
    )
    registry.add_augmentation(
        "keras_style",
        params=KerasStyleParams,
        factory=build_keras_style,
        description="Keras' ImageDataGenerator options: flips, rotation, shifts, zoom, "
        "brightness (defaults: the reference example).",
        tags={"keras", "builtin"},
        to_spec=to_spec,
        graph=keras_style_graph,
    )
    for name, (_, text) in NAMED.items():
        registry.add_augmentation(
            name,
            params=NamedParams,
            factory=_named_factory(name),
            description=text,
            tags={"named", "builtin"},
            to_spec=to_spec,
            check_spec=_named_check(name),
            graph=GRAPH.get(name),
        )
