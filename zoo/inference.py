"""Images in, top classes out: what a run folder and an exported model share.

:class:`Predictor` reads images at the model's size (paths, one HWC array, an NHWC batch,
or a list of them), runs the model and reports the top classes as :class:`Prediction`
objects. :class:`zoo.runner.predict.Run` (a run folder, Keras) and
:class:`zoo.serving.artifact.ExportedModel` (an export, its own runtime) implement
``_probs``. No TensorFlow here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import UserError
from zoo.images import ResizeMode, convert_images, read_image

DEFAULT_BATCH = 64


@dataclass(frozen=True)
class ClassScore:
    """One class and its predicted probability (0..1)."""

    class_name: str
    index: int
    probability: float

    def __str__(self) -> str:
        return f"{self.class_name} ({self.probability * 100:.2f}%)"


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one image: the top class and the ``top_k`` best, best first."""

    source: str
    class_name: str
    index: int
    probability: float
    top_k: list[ClassScore]

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.source,
            "class": self.class_name,
            "index": self.index,
            "probability": self.probability,
            "top_k": [
                {"class": s.class_name, "index": s.index, "probability": s.probability}
                for s in self.top_k
            ],
        }

    def __str__(self) -> str:  # decode_predictions style, in percent
        return f"{self.source}: " + ", ".join(str(s) for s in self.top_k)


class Predictor:
    """Images in, top classes out: what a run folder and an exported model share.

    Subclasses set ``class_names``, ``image_shape`` (H, W, C) and ``resize_mode`` and
    implement :meth:`_probs` on a uint8 NHWC batch at that shape.
    """

    path: Path
    class_names: list[str]
    image_shape: tuple[int, int, int]
    resize_mode: ResizeMode = "stretch"
    threshold: float | None = None  # two classes: class 1 from this probability on

    def _probs(self, batch: np.ndarray, batch_size: int) -> np.ndarray:
        raise NotImplementedError

    def _as_batch(self, images: Any) -> tuple[np.ndarray, list[str]]:
        """uint8 NHWC at the model's image size, and a label per image for the output."""
        h, w, c = self.image_shape
        if isinstance(images, (str, Path)):
            images = [images]
        if isinstance(images, np.ndarray):
            arrays = images[None] if images.ndim == 3 else images
            names = [f"image[{i}]" for i in range(len(arrays))]
            return convert_images(self._uint8(arrays), (h, w), c, self.resize_mode), names
        batch, names = [], []
        for i, item in enumerate(images):
            if isinstance(item, (str, Path)):
                batch.append(read_image(item, (h, w), c, self.resize_mode))
                names.append(str(item))
            else:
                arr = self._uint8(np.asarray(item))
                batch.append(convert_images(arr[None], (h, w), c, self.resize_mode)[0])
                names.append(f"image[{i}]")
        if not batch:
            raise UserError("no images to predict")
        return np.stack(batch), names

    @staticmethod
    def _uint8(arr: np.ndarray) -> np.ndarray:
        if arr.dtype == np.uint8:
            return arr
        if (
            np.issubdtype(arr.dtype, np.integer)
            and arr.size
            and arr.min() >= 0
            and arr.max() <= 255
        ):
            return arr.astype(np.uint8)
        raise UserError(
            f"images must be uint8 pixels 0..255 (got {arr.dtype}); the model applies its own "
            "scaling"
        )

    def probabilities(self, images: Any, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """Class probabilities, one row per image (two columns for a single sigmoid unit)."""
        batch, _ = self._as_batch(images)
        return self._probs(batch, batch_size)

    def predict(
        self, images: Any, top_k: int = 5, batch_size: int = DEFAULT_BATCH
    ) -> list[Prediction]:
        """Top classes of each image: paths, one HWC array, an NHWC batch, or a list of them."""
        if top_k < 1:
            raise UserError("top_k must be at least 1")
        batch, names = self._as_batch(images)
        probs = self._probs(batch, batch_size)
        k = min(top_k, probs.shape[1])
        out = []
        for name, row in zip(names, probs, strict=True):
            order = self._order(row)[:k]
            scores = [ClassScore(self._class(i), int(i), float(row[i])) for i in order]
            out.append(
                Prediction(
                    name, scores[0].class_name, scores[0].index, scores[0].probability, scores
                )
            )
        return out

    def _order(self, row: np.ndarray) -> np.ndarray:
        """Classes best first: by probability, or for two classes with a threshold, the
        class the threshold decides first."""
        if self.threshold is not None and len(row) == 2:
            return np.array([1, 0] if row[1] >= self.threshold else [0, 1])
        return np.argsort(-row, kind="stable")

    def _class(self, index: int) -> str:
        return self.class_names[index] if index < len(self.class_names) else str(index)


def two_columns(probs: np.ndarray) -> np.ndarray:
    """A single sigmoid unit as two class probabilities ``[1 - p, p]``."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 2 and probs.shape[1] == 1:
        return np.concatenate([1 - probs, probs], axis=1)
    return probs
