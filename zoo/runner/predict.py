"""A finished run, re-opened: predict on new images and evaluate with the run's own scaling.

:class:`Predictor` is the part shared with exported models (``zoo.serving``): read images
at the model's size, run it, report the top classes.

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


class Predictor:
    """Images in, top classes out: what a run folder and an exported model share.

    Subclasses set ``class_names``, ``image_shape`` (H, W, C) and ``resize_mode`` and
    implement :meth:`_probs` on a uint8 NHWC batch at that shape.
    """

    path: Path
    class_names: list[str]
    image_shape: tuple[int, int, int]
    resize_mode: str = "stretch"

    def _probs(self, batch: np.ndarray, batch_size: int) -> np.ndarray:
        raise NotImplementedError

    def _as_batch(self, images: Any) -> tuple[np.ndarray, list[str]]:
        """uint8 NHWC at the model's image size, and a label per image for the output."""
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


def two_columns(probs: np.ndarray) -> np.ndarray:
    """A single sigmoid unit as two class probabilities ``[1 - p, p]``."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 2 and probs.shape[1] == 1:
        return np.concatenate([1 - probs, probs], axis=1)
    return probs


class Run(Predictor):
    """A run folder: its spec, class names, scaling state and (loaded on first use) model.

    Prediction reads only ``run.json``, ``spec.yaml`` as plain YAML and ``model.keras``: it
    needs neither the data-source plugin that trained the run nor, for zoo's own recipes,
    the scaling plugin. Evaluation validates the whole spec (it reads the run's data).
    """

    def __init__(self, path: str | Path, registry: Any = None) -> None:
        self.path = Path(path)
        self.info = rundir.read_info(self.path)
        self._registry = registry
        self._model: Any = None
        self._compiled = False
        self._scaling: Any = None
        self._loaded_spec: Any = None
        self._raw_spec: dict[str, Any] | None = None
        self.class_names: list[str] = list(self.info.get("class_names") or [])
        self.image_shape: tuple[int, int, int] = tuple(self.info.get("image_shape") or ())  # type: ignore[assignment]
        if not self.class_names or len(self.image_shape) != 3:
            raise UserError([Problem("run.json lacks class names or image shape", str(self.path))])
        self.resize_mode = str(self.info.get("resize", "stretch"))

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
    def raw_spec(self) -> dict[str, Any]:
        """spec.yaml as plain data, not validated: prediction needs only a few keys of it."""
        if self._raw_spec is None:
            import yaml

            try:
                text = (self.path / rundir.SPEC_FILE).read_text(encoding="utf-8")
                data = yaml.safe_load(text)
            except (OSError, yaml.YAMLError) as exc:
                raise UserError(
                    [Problem(f"cannot read {rundir.SPEC_FILE}: {exc}", str(self.path))]
                ) from None
            self._raw_spec = data if isinstance(data, dict) else {}
        return self._raw_spec

    @property
    def scaling_section(self) -> dict[str, Any] | None:
        section = self.raw_spec.get("scaling")
        return section if isinstance(section, dict) else None

    @property
    def scaling(self) -> Any:
        """The run's scaling with its fitted state; works on NumPy arrays and tf tensors."""
        if self._scaling is None:
            from zoo.serving.scaling import run_scaling

            self._scaling = run_scaling(
                self.info, self.scaling_section, self.registry, str(self.path)
            )
        return self._scaling

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
        """The trained ``keras.Model`` (``model.keras``), not compiled (see :meth:`compiled`)."""
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
            from zoo.runner.model_file import load_model

            _ = self.registry  # plugins register their custom Keras objects on import
            self._model = load_model(path, expect_input_shape=self.image_shape,
                                     expect_classes=self.objective.num_classes)
        return self._model

    def compiled(self) -> Any:
        """The model compiled with the spec's loss and metrics, for evaluation."""
        model = self.model
        if not self._compiled:
            from zoo.runner.compile import compile_model

            compile_model(model, self.spec.training, self.objective)
            self._compiled = True
        return model

    # ---- prediction ----------------------------------------------------------------------

    def scale(self, images_uint8: np.ndarray) -> np.ndarray:
        """The run's scaling, with the state fitted at training time."""
        return np.asarray(self.scaling(np.asarray(images_uint8, dtype=np.float32)), np.float32)

    def _probs(self, batch: np.ndarray, batch_size: int) -> np.ndarray:
        import keras

        out = []
        for start in range(0, len(batch), batch_size):
            x = self.scale(batch[start : start + batch_size])
            out.append(keras.ops.convert_to_numpy(self.model(x, training=False)).astype(np.float64))
        return two_columns(np.concatenate(out))

    # ---- evaluation ----------------------------------------------------------------------

    def evaluate(self, data: str | Path | None = None, batch_size: int | None = None) -> EvalResult:
        """Evaluate on the run's own test split, a spec's data, or a class-folder tree."""
        from zoo.runner.evaluate import evaluate_model, folder_images, split_images

        if batch_size is not None and batch_size < 1:
            raise UserError(f"the batch size must be a positive integer (got {batch_size})")
        batch_size = batch_size or self.spec.training.batch_size
        if data is not None and Path(data).is_dir():
            images, labels = folder_images(Path(data), self)
            split = "folder"
        else:
            prepared, where = self._prepared(data)
            images, labels, split = split_images(prepared, self, where)
        ds = self._dataset(images, labels, batch_size)
        return evaluate_model(self.compiled(), ds, self.objective, self.class_names, split)

    def _prepared(self, data: str | Path | None) -> tuple[Any, str]:
        from zoo.data.prepare import prepare_data
        from zoo.runner.evaluate import spec_data

        if data is None:
            spec_dir = Path(self.info.get("spec_dir") or self.path)
            return prepare_data(self.spec, self.registry, spec_dir=spec_dir), str(self.path)
        return spec_data(Path(data), self.registry)

    def _dataset(self, images: np.ndarray, labels: np.ndarray, batch_size: int) -> Any:
        """Scaled batches: tf.data on the tensorflow backend, a PyDataset on the others."""
        scaled = np.concatenate(
            [self.scale(images[i : i + 256]) for i in range(0, len(images), 256)]
        ).astype(np.float32)
        from zoo.backend import active

        if active() != "tensorflow":
            from zoo.data.py_pipeline import ArrayBatches

            return ArrayBatches(scaled, labels, batch_size)
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices((scaled, labels)).batch(batch_size)


def load_run(path: str | Path, registry: Any = None) -> Run:
    """Open a run folder written by ``zoo train`` / ``zoo.train``."""
    return Run(path, registry)


def open_predictor(path: str | Path, registry: Any = None) -> Predictor:
    """A run folder, or a model exported by ``zoo export`` (run with its own runtime)."""
    path = Path(path)
    if (path / rundir.INFO_FILE).is_file():
        return Run(path, registry)
    from zoo.serving.artifact import load_export, looks_exported

    if looks_exported(path):
        return load_export(path)
    if not path.exists():
        raise UserError([Problem("no such run folder or exported model", str(path))])
    raise UserError(
        [
            Problem(
                f"not a run folder (no {rundir.INFO_FILE}) nor an exported model "
                "(a zoo export folder, a SavedModel folder, a .tflite or .onnx file)",
                str(path),
            )
        ]
    )


def predict(
    run: str | Path | Predictor, images: Sequence[Any] | Any, top_k: int = 5
) -> list[Prediction]:
    """Shortcut: ``open_predictor(run).predict(images, top_k)``."""
    return (run if isinstance(run, Predictor) else open_predictor(run)).predict(images, top_k)
