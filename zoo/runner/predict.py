"""A finished run, re-opened: predict on new images and evaluate with the run's own scaling.

::

    run = zoo.load_run("runs/digits_mlp-20250101-120000")
    for p in run.predict(["seven.png"], top_k=3):
        print(p)                      # seven.png: 7 (98.12%), 1 (1.03%), 9 (0.40%)

Everything about the run comes from its record (:mod:`zoo.record`): class names, image
shape, resize mode, objective and scaling state from ``run.json``; which weights the model
holds from ``metrics.json``. The model is read with ``keras.saving.load_model(...,
safe_mode=True)``: a run folder is data, and loading it never runs code from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from zoo.backend import active
from zoo.data.prepare import prepare_data
from zoo.data.prepared import PreparedData
from zoo.errors import Problem, UserError
from zoo.inference import Predictor, two_columns
from zoo.plugin.contracts import Scaling
from zoo.plugin.manager import default_registry
from zoo.plugin.registry import Registry
from zoo.record.files import RecordError, read_text
from zoo.record.results import Results, read_results
from zoo.record.run import RunRecord, read_run_record
from zoo.record.scaling import run_scaling
from zoo.run_files import MODEL_FILE, SPEC_FILE
from zoo.runner.compile import Objective, compile_model
from zoo.runner.evaluate import evaluate_model, folder_images, spec_data, split_images
from zoo.runner.results import EvalResult
from zoo.spec.loader import LoadedSpec, load_spec
from zoo.spec.sections import SpecBase


class Run(Predictor):
    """A run folder: its record, spec and (loaded on first use) model.

    Prediction reads only ``run.json``, ``spec.yaml`` as plain YAML and ``model.keras``: it
    needs neither the data-source plugin that trained the run nor, for zoo's own recipes,
    the scaling plugin. Evaluation validates the whole spec (it reads the run's data).
    """

    def __init__(self, path: str | Path, registry: Registry | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise UserError([Problem("no such run folder", str(self.path))])
        self.record: RunRecord = read_run_record(self.path)
        self._registry = registry
        self._model: Any = None
        self._compiled = False
        self._scaling: Scaling | None = None
        self._loaded_spec: LoadedSpec | None = None
        self._raw_spec: dict[str, Any] | None = None
        self._holding: Literal["best", "last"] | None = None  # None: what model.keras holds
        self.class_names = list(self.record.class_names)
        self.image_shape = self.record.image_shape
        self.resize_mode = self.record.resize
        self.threshold = self.record.threshold.value if self.record.threshold else None

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={self.status!r})"

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = default_registry()
        return self._registry

    @property
    def loaded_spec(self) -> LoadedSpec:
        """The run's resolved spec, validated against the installed plugins (relative data
        paths start where the original spec file was)."""
        if self._loaded_spec is None:
            base = Path(self.record.spec_dir) if self.record.spec_dir else self.path
            self._loaded_spec = load_spec(
                self.path / SPEC_FILE, registry=self.registry, base_dir=base
            )
        return self._loaded_spec

    @property
    def spec(self) -> SpecBase:
        return self.loaded_spec.spec

    @property
    def raw_spec(self) -> dict[str, Any]:
        """spec.yaml as plain data, not validated: prediction needs only a few keys of it."""
        if self._raw_spec is None:
            try:
                data = yaml.safe_load(read_text(self.path / SPEC_FILE))
            except (RecordError, yaml.YAMLError) as exc:
                raise UserError(
                    [Problem(f"cannot read {SPEC_FILE}: {exc}", str(self.path))]
                ) from None
            self._raw_spec = data if isinstance(data, dict) else {}
        return self._raw_spec

    @property
    def scaling_section(self) -> dict[str, Any] | None:
        section = self.raw_spec.get("scaling")
        return section if isinstance(section, dict) else None

    @property
    def scaling(self) -> Scaling:
        """The run's scaling with its fitted state; works on NumPy arrays and tf tensors."""
        if self._scaling is None:
            self._scaling = run_scaling(
                self.record, self.scaling_section, self.registry, str(self.path)
            )
        return self._scaling

    @property
    def objective(self) -> Objective:
        o = self.record.objective
        classes = 1 if o.targets == "binary" else len(self.class_names)
        return Objective(o.loss, o.targets, float(o.label_smoothing), classes)

    @property
    def results(self) -> Results:
        """``metrics.json``: the evaluation and which weights the model holds."""
        return read_results(self.path)

    @property
    def model(self) -> Any:
        """The trained ``keras.Model`` (``model.keras``), not compiled (see :meth:`compiled`)."""
        if self._model is None:
            path = self.path / MODEL_FILE
            if not path.exists():
                raise UserError(
                    [
                        Problem(
                            f"the run has no {MODEL_FILE}; it did not finish (resume it with: zoo "
                            f"train --resume {self.path})",
                            str(self.path),
                        )
                    ]
                )
            from zoo.runner.model_file import load_model  # imports Keras

            _ = self.registry  # plugins register their custom Keras objects on import
            self._model = load_model(
                path, expect_input_shape=self.image_shape, expect_classes=self.objective.num_classes
            )
        return self._model

    def compiled(self) -> Any:
        """The model compiled with the spec's loss and metrics, for evaluation."""
        model = self.model
        if not self._compiled:
            compile_model(model, self.spec.training, self.objective)
            self._compiled = True
        return model

    def use_weights(self, which: Literal["best", "last"] | None) -> dict[str, Any]:
        """Load the run's ``best`` or ``last`` epoch weights into its model (None: those
        ``model.keras`` holds); says which it now holds and from which epoch."""
        weights = self.results.weights
        holding = self._holding or weights.kept
        which = which or holding
        chosen = weights.of(which)
        if which == holding and chosen is not None:
            return {"used": which, "epoch": chosen.epoch, "file": chosen.file}
        where = str(self.path)
        if chosen is None or not chosen.file or not (self.path / chosen.file).is_file():
            what = "a best checkpoint" if which == "best" else "a copy of its last epoch's weights"
            raise UserError([Problem(f"the run kept no {what}", where)])
        path = self.path / chosen.file
        try:
            if str(path).endswith(".weights.h5"):
                self.model.load_weights(str(path))
            else:
                import keras

                saved = keras.saving.load_model(str(path), compile=False, safe_mode=True)
                self.model.set_weights(saved.get_weights())
        except (ValueError, OSError) as exc:
            raise UserError(
                [Problem(f"cannot load the {which} weights from {chosen.file}: {exc}", where)]
            ) from None
        self._holding = which
        return {"used": which, "epoch": chosen.epoch, "file": chosen.file}

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
        if batch_size is not None and batch_size < 1:
            raise UserError(f"the batch size must be a positive integer (got {batch_size})")
        batch_size = batch_size or self.spec.training.batch_size
        if data is not None and Path(data).is_dir():
            images, labels = folder_images(Path(data), self)
            split = "folder"
        else:
            prepared, where = self.prepared(data)
            images, labels, split = split_images(prepared, self, where)
        ds = self._dataset(images, labels, batch_size)
        return evaluate_model(
            self.compiled(), ds, self.objective, self.class_names, split, threshold=self.threshold
        )

    def prepared(self, data: str | Path | None = None) -> tuple[PreparedData, str]:
        """The run's own data (its seeded split), or the data of another spec file."""
        if data is None:
            return prepare_data(self.loaded_spec), str(self.path)
        return spec_data(Path(data), self.registry)

    def _dataset(self, images: np.ndarray, labels: np.ndarray, batch_size: int) -> Any:
        """Scaled batches: tf.data on the tensorflow backend, a PyDataset on the others."""
        scaled = np.concatenate(
            [self.scale(images[i : i + 256]) for i in range(0, len(images), 256)]
        ).astype(np.float32)
        if active() != "tensorflow":
            from zoo.data.py_pipeline import ArrayBatches  # imports Keras

            return ArrayBatches(scaled, labels, batch_size)
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices((scaled, labels)).batch(batch_size)


def load_run(path: str | Path, registry: Registry | None = None) -> Run:
    """Open a run folder written by ``zoo train`` / ``zoo.train``."""
    return Run(path, registry)
