"""What plugin factories receive and return.

Kept free of TensorFlow imports: these types are read by ``zoo list`` and friends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

PluginKind = Literal["architecture", "recipe", "data"]
RecipeType = Literal["scaling", "augmentation"]


class PluginParams(BaseModel):
    """Base class for a plugin's parameters: unknown keys are errors, values are frozen.

    Give every field a ``description``: ``zoo info`` and ``zoo schema`` show it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class NoParams(PluginParams):
    """For plugins that take no parameters."""


@dataclass(frozen=True)
class ModelContext:
    """What an architecture factory needs besides its own params."""

    input_shape: tuple[int, ...]
    num_classes: int
    output_activation: Literal["softmax", "sigmoid"] = "softmax"
    name: str = "model"


@dataclass(frozen=True)
class AugmentContext:
    """What an augmentation factory needs besides its own params."""

    image_size: tuple[int, int]
    channels: int
    seed: int | None = None


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


# An augmenter takes one uint8 HWC image and returns one uint8 HWC image of the same shape.
Augmenter = Callable[[Any], Any]
