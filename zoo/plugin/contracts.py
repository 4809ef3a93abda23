"""What plugin factories and capabilities receive and return: the typed plugin contract.

Kept free of TensorFlow imports: these types are read by ``zoo list`` and friends. Plugin
authors import them from :mod:`zoo.plugin`; ``docs/plugins.md`` explains each one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

PluginKind = Literal["architecture", "recipe", "data", "tracker"]
RecipeType = Literal["scaling", "augmentation"]


class PluginParams(BaseModel):
    """Base class for a plugin's parameters: unknown keys are errors, values are frozen.

    Give every field a ``description``: ``zoo info`` and ``zoo schema`` show it.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )


class NoParams(PluginParams):
    """For plugins that take no parameters."""


@dataclass(frozen=True)
class ModelContext:
    """What an architecture factory needs besides its own params."""

    input_shape: tuple[int, ...]
    num_classes: int
    output_activation: Literal["softmax", "sigmoid"] = "softmax"
    name: str = "model"
    spec_dir: Path | None = None  # where relative paths in the spec (a weights file) start


@dataclass(frozen=True)
class AugmentContext:
    """What an augmentation factory needs besides its own params."""

    image_size: tuple[int, int]
    channels: int
    seed: int | None = None


@dataclass(frozen=True)
class ShapeHint:
    """What a data source can tell without loading its images (``None``: cannot tell).

    Lets ``zoo build`` and ``zoo.build_model`` size a model from the spec alone.
    """

    image_size: tuple[int, int] | None = None
    channels: int | None = None
    num_classes: int | None = None


@dataclass(frozen=True)
class ParamCount:
    """A documented parameter count and the build at which it holds.

    ``zoo list --max-params`` filters on ``count``; ``zoo.testing.check_architecture`` builds
    the architecture with ``params`` (the defaults when empty) at ``input_shape`` with
    ``num_classes`` outputs and compares.
    """

    count: int
    input_shape: tuple[int, int, int]
    num_classes: int = 10
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FetchContext:
    """What a ``fetch`` capability needs: where relative paths start, and whether the
    network may be used (``ZOO_OFFLINE=1`` forbids it)."""

    spec_dir: Path = Path(".")
    offline: bool = False


@dataclass(frozen=True)
class DataContext:
    """What a data-source factory needs besides its own params."""

    image_size: tuple[int, int] | None
    channels: int | None
    seed: int
    on_bad_file: Literal["error", "skip"] = "error"
    spec_dir: Path = Path(".")
    resize: Literal["stretch", "keep_aspect"] = "stretch"


@runtime_checkable
class Scaling(Protocol):
    """Maps float32 pixels in 0..255 (NHWC or HWC, TensorFlow or NumPy) to model inputs."""

    def fit(self, images: Any) -> None:
        """Learn statistics from training images (a no-op for fixed recipes)."""

    def __call__(self, images: Any) -> Any:
        """Scale a batch or one image; must work on tf.Tensor and np.ndarray alike."""

    def state(self) -> dict[str, Any]:
        """JSON-able state saved in the run so predict applies the very same scaling."""


@runtime_checkable
class Augmenter(Protocol):
    """Augments one image: uint8 HWC in, uint8 HWC of the same shape out.

    Called from several threads (tf.data's parallel map) and, for long runs, in worker
    processes (so it must pickle); seed it from ``AugmentContext.seed`` and draw from its
    own generator, never from global random state. zoo checks dtype and shape of every
    result and ends the run with an error naming the plugin if they are wrong.

    Optional: ``augment_batch(images, seed) -> images`` (uint8 NHWC in and out) augments a
    whole batch from a per-batch seed; when present the pipeline calls it instead, from
    several threads or worker processes at once, and batches repeat whatever thread ran them.
    """

    def __call__(self, image: Any) -> Any: ...


# ---- capabilities: optional, typed functions a plugin passes to ``registry.add_*`` --------


SpecCheck = Callable[..., Iterable[str] | None]
"""``check_spec(params, spec)``: judge the whole spec at validate time.

Return warnings (strings), or raise :class:`zoo.UserError` whose problems carry a
``key_path`` into the spec (``model.params.weights``); zoo locates them in the file. Must
not import TensorFlow and may only do cheap file-system checks. A check that also takes a
``spec_dir`` keyword gets the folder relative paths start from (to check that a data
folder or weights file exists): ``check_spec(params, spec, *, spec_dir)``. (A plain
callable type: the keyword is optional, which a Protocol cannot say.)
"""


class Fetch(Protocol):
    """``fetch(params, ctx: FetchContext) -> list[Path]``: make needed files local now.

    Returns the local paths. When files cannot be had, raise :class:`zoo.OfflineError` with
    one problem per missing file (all of them, not the first): ``zoo fetch`` reports them.
    """

    def __call__(self, params: Any, ctx: FetchContext, /) -> list[Path]: ...


class ShapeHintFn(Protocol):
    """``shape_hint(params, ctx: DataContext) -> ShapeHint``: image size, channels and class
    count without loading the images (cheap: reads at most a header or a folder listing)."""

    def __call__(self, params: Any, ctx: DataContext, /) -> ShapeHint | None: ...


class SetTrainable(Protocol):
    """``set_trainable(model, unfreeze) -> int``: apply ``training.phases[i].unfreeze``
    (a layer count from the top, ``"all"``, ``"none"`` or a layer name to unfreeze from)
    to a built model; returns how many base layers now train. The runner recompiles."""

    def __call__(self, model: Any, unfreeze: int | str, /) -> int: ...


class LossWeights(Protocol):
    """``loss_weights(params) -> {output name: weight}`` for models with auxiliary outputs.

    The model's first output is the classifier zoo evaluates, predicts with and saves; the
    others only add to the training loss with their weights.
    """

    def __call__(self, params: Any, /) -> dict[str, float] | None: ...


class RequiredScaling(Protocol):
    """``required_scaling(params) -> recipe name | None``: the scaling recipe these params
    need (pretrained weights expect their own preprocessing). ``scaling: {recipe: auto}``
    picks it; another recipe is a located validation error."""

    def __call__(self, params: Any, /) -> str | None: ...


class GraphAugment(Protocol):
    """``graph(params, ctx: AugmentContext) -> fn | None``: the recipe as batched TensorFlow ops.

    ``fn(images, seed) -> images`` takes float32 NHWC pixels in 0..255 and an int64 seed of
    shape ``[2]`` (drawn per batch from the spec's seed) and returns float32 pixels of the
    same shape, still in 0..255. It runs inside ``tf.data`` (traced once, no Python per
    image), so it must draw all randomness from ``tf.random.stateless_*`` ops seeded by
    ``seed``: the same seed gives the same batch. Return None when these params need the
    per-image Augmenter. The pipeline prefers it on the training split unless the spec says
    ``augmentation: {path: python}``.
    """

    def __call__(self, params: Any, ctx: AugmentContext, /) -> Any: ...


class SmallestInput(Protocol):
    """``smallest_input(params) -> (height, width)``: the smallest input these params build
    at (``zoo.testing`` builds there; a plugin's own size error should name it too)."""

    def __call__(self, params: Any, /) -> tuple[int, int]: ...


class ToSpec(Protocol):
    """``to_spec(augmenter) -> dict``: a built augmenter back to its spec params (round trip)."""

    def __call__(self, augmenter: Any, /) -> dict[str, Any]: ...
