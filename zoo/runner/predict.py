"""A finished run, re-opened: predict on new images and evaluate with the run's own scaling.

::

    run = zoo.load_run("runs/digits_mlp-20250101-120000")
    for p in run.predict(["seven.png"], top_k=3):
        print(p)                      # seven.png: 7 (98.12%), 1 (1.03%), 9 (0.40%)

The model is read with ``keras.saving.load_model(..., safe_mode=True)``: a run folder is
data, and loading it never runs code from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import Problem, UserError
from zoo.runner import rundir
from zoo.runner.compile import Objective
from zoo.runner.results import ClassScore, EvalResult, Prediction

DEFAULT_BATCH = 64


class Run:
    """A run folder: its spec, class names, scaling state and (loaded on first use) model."""

    def __init__(self, path: str | Path, registry: Any = None) -> None:
        self.path = Path(path)
        self.info = rundir.read_info(self.path)
        self._registry = registry
        self._model: Any = None
        self._loaded_spec: Any = None
        self.class_names: list[str] = list(self.info.get("class_names") or [])
        self.image_shape: tuple[int, int, int] = tuple(self.info.get("image_shape") or ())  # type: ignore[assignment]
        if not self.class_names or len(self.image_shape) != 3:
            raise UserError([Problem("run.json lacks class names or image shape", str(self.path))])

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={self.status!r})"

    @property
    def status(self) -> str:
        return str(self.info.get("status"))

    @property
    def registry(self) -> Any:
        if self._registry is None:
            from zoo.plugin_manager import default_registry

            self._registry = default_registry()
        return self._registry

    @property
    def loaded_spec(self) -> Any:
        """The run's resolved spec, validated against the installed plugins."""
        if self._loaded_spec is None:
            from zoo.spec import load_spec

            self._loaded_spec = load_spec(self.path / rundir.SPEC_FILE, registry=self.registry)
        return self._loaded_spec

    @property
    def spec(self) -> Any:
        return self.loaded_spec.spec

    @property
    def resize_mode(self) -> str:
        return str(self.info.get("resize", "stretch"))

    @property
    def objective(self) -> Objective:
        o = self.info["objective"]
        return Objective(
            o["loss"],
            o["targets"],
            float(o["label_smoothing"]),
            len(self.class_names) if o["targets"] != "binary" else 1,
        )

    @property
    def model(self) -> Any:
        """The trained ``keras.Model`` (``model.keras``), compiled for evaluation."""
        if self._model is None:
            path = self.path / rundir.MODEL_FILE
            if not path.exists():
                raise UserError(
                    [
                        Problem(
                            f"the run has no {rundir.MODEL_FILE}; it did not finish "
                            f"(resume it with: zoo train --resume {self.path})",
                            str(self.path),
                        )
                    ]
                )
            import keras

            from zoo.runner.compile import compile_model

            _ = self.registry  # plugins register their custom Keras objects on import
            self._model = keras.saving.load_model(path, compile=False, safe_mode=True)
            compile_model(self._model, self.spec.training, self.objective)
        return self._model

    # ---- prediction ----------------------------------------------------------------------

    def _as_batch(self, images: Any) -> tuple[np.ndarray, list[str]]:
        """uint8 NHWC at the run's image size, and a label per image for the output."""
        from zoo.data.images import convert_images, read_image

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
                batch.append(read_image(item, (h, w), c, self.resize_mode))  # type: ignore[arg-type]
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
            f"images must be uint8 pixels 0..255 (got {arr.dtype}); the run applies its own scaling"
        )

    def scale(self, images_uint8: np.ndarray) -> np.ndarray:
        """The run's scaling, with the state fitted at training time."""
        from zoo.data.pipeline import scale_for_predict

        state = (self.info.get("scaling") or {}).get("state")
        return np.asarray(scale_for_predict(images_uint8, self.spec.scaling, self.registry, state))

    def probabilities(self, images: Any, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """Class probabilities, one row per image (two columns for a single sigmoid unit)."""
        batch, _ = self._as_batch(images)
        return self._probs(batch, batch_size)

    def _probs(self, batch: np.ndarray, batch_size: int) -> np.ndarray:
        out = []
        for start in range(0, len(batch), batch_size):
            x = self.scale(batch[start : start + batch_size])
            out.append(np.asarray(self.model(x, training=False), dtype=np.float64))
        probs = np.concatenate(out)
        if probs.shape[1] == 1:
            probs = np.concatenate([1 - probs, probs], axis=1)
        return probs

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
            order = np.argsort(-row, kind="stable")[:k]
            scores = [ClassScore(self._class(i), int(i), float(row[i])) for i in order]
            out.append(
                Prediction(
                    name, scores[0].class_name, scores[0].index, scores[0].probability, scores
                )
            )
        return out

    def _class(self, index: int) -> str:
        return self.class_names[index] if index < len(self.class_names) else str(index)

    # ---- evaluation ----------------------------------------------------------------------

    def evaluate(self, data: str | Path | None = None, batch_size: int | None = None) -> EvalResult:
        """Evaluate on the run's own test split, a spec's data, or a class-folder tree."""
        from zoo.runner.evaluate import evaluate_model, folder_images, split_images

        batch_size = batch_size or self.spec.training.batch_size
        if data is not None and Path(data).is_dir():
            images, labels = folder_images(Path(data), self)
            split = "folder"
        else:
            prepared, where = self._prepared(data)
            images, labels, split = split_images(prepared, self, where)
        ds = self._dataset(images, labels, batch_size)
        return evaluate_model(self.model, ds, self.objective, self.class_names, split)

    def _prepared(self, data: str | Path | None) -> tuple[Any, str]:
        from zoo.data.prepare import prepare_data
        from zoo.spec import load_spec

        if data is None:
            spec_dir = Path(self.info.get("spec_dir") or self.path)
            return prepare_data(self.spec, self.registry, spec_dir=spec_dir), str(self.path)
        path = Path(data)
        if not path.exists():
            raise UserError([Problem("no such spec file or folder", str(path))])
        other = load_spec(path, registry=self.registry)
        return prepare_data(other.spec, self.registry, spec_dir=path.parent), str(path)

    def _dataset(self, images: np.ndarray, labels: np.ndarray, batch_size: int) -> Any:
        import tensorflow as tf

        scaled = np.concatenate(
            [self.scale(images[i : i + 256]) for i in range(0, len(images), 256)]
        )
        return tf.data.Dataset.from_tensor_slices((scaled.astype(np.float32), labels)).batch(
            batch_size
        )


def load_run(path: str | Path, registry: Any = None) -> Run:
    """Open a run folder written by ``zoo train`` / ``zoo.train``."""
    return Run(path, registry)


def predict(run: str | Path | Run, images: Sequence[Any] | Any, top_k: int = 5) -> list[Prediction]:
    """Shortcut: ``load_run(run).predict(images, top_k)``."""
    return (run if isinstance(run, Run) else load_run(run)).predict(images, top_k)
