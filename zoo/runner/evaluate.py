"""Evaluation: loss and compiled metrics, per-class precision/recall, confusion matrix.

``evaluate_model`` works on any batched dataset of ``(scaled images, int labels)`` (the
pipeline's test split during training, or a re-opened run's data).
``evaluate_probabilities`` does the same from probabilities alone (an exported model).
:func:`folder_images` and :func:`split_images` read the images to evaluate on at a
predictor's size and in its class order (``zoo.serving.open.evaluate_run`` uses both).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.data.prepare import prepare_data
from zoo.data.prepared import PreparedData
from zoo.errors import Problem, UserError
from zoo.images import IMAGE_SUFFIXES, convert_images, load_images
from zoo.inference import Predictor
from zoo.plugin.registry import Registry
from zoo.progress import progress
from zoo.runner.compile import Objective, with_targets
from zoo.runner.results import EvalResult
from zoo.runner.summary import predicted_classes, summarize
from zoo.spec.loader import load_spec


def class_report(
    labels: np.ndarray, predicted: np.ndarray, class_names: list[str]
) -> tuple[dict[str, dict[str, float]], list[list[int]]]:
    """Per-class precision, recall, F1 and support, and the confusion matrix (scikit-learn)."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    index = list(range(len(class_names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=index, zero_division=0
    )
    per_class = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    }
    matrix = confusion_matrix(labels, predicted, labels=index)
    return per_class, matrix.astype(int).tolist()


def _numpy_batches(dataset: Any) -> Any:
    """NumPy batches of a tf.data dataset or a PyDataset (any backend's model takes them)."""
    if type(dataset).__module__.startswith("tensorflow"):
        return dataset.as_numpy_iterator()
    return iter(dataset)


def split_probabilities(
    model: Any, dataset: Any, split: str = "test"
) -> tuple[np.ndarray, np.ndarray]:
    """The model's probabilities and the integer labels of a dataset of ``(images, int
    labels)`` batches, in its order."""
    import keras

    probs, labels = [], []
    with progress(f"predicting on {split}") as bar:
        for x, y in _numpy_batches(dataset):  # direct calls: predict_on_batch repeats the
            # batch per replica
            out = model(x, training=False)
            first = out[0] if isinstance(out, (list, tuple)) else out  # without aux outputs
            probs.append(keras.ops.convert_to_numpy(first))  # torch: no np.asarray on grads
            labels.append(np.asarray(y))
            bar.update(len(labels[-1]))
    all_labels = np.concatenate(labels).astype(np.int64) if labels else np.zeros(0, np.int64)
    all_probs = np.concatenate(probs) if probs else np.zeros((0, 1), np.float32)
    return all_probs, all_labels


def evaluate_model(
    model: Any,
    dataset: Any,
    objective: Objective,
    class_names: list[str],
    split: str = "test",
    outputs: dict[str, np.ndarray] | None = None,
    even: Any = None,
    threshold: float | None = None,
) -> EvalResult:
    """Evaluate a compiled model on a dataset of ``(images, int labels)`` batches.

    ``outputs``, when given, receives the probabilities (``probs``) and labels (``labels``)
    in the dataset's order (the errors picture needs them). ``threshold``: a two-class
    run's decision threshold (the class report and the summary use it; the compiled Keras
    metrics are those of the most probable class)."""
    # even: under keras.distribution, batches padded to divide by the devices (even_batches)
    target_ds = with_targets(even(dataset) if even is not None else dataset, objective)
    with progress(f"evaluating on {split}"):
        metrics = model.evaluate(target_ds, verbose=0, return_dict=True)
    probs, labels = split_probabilities(model, dataset, split)
    if outputs is not None:
        outputs["probs"] = probs if len(probs) else np.zeros((0, len(class_names)))
        outputs["labels"] = labels
    clean = {k: float(v) for k, v in metrics.items() if np.ndim(v) == 0}
    if "accuracy" not in clean and len(labels):
        clean["accuracy"] = float(np.mean(predicted_classes(probs) == labels))
    return _result(split, labels, probs, clean, class_names, threshold)


def _result(
    split: str,
    labels: np.ndarray,
    probs: np.ndarray,
    metrics: dict[str, float],
    class_names: list[str],
    threshold: float | None,
) -> EvalResult:
    predicted = predicted_classes(probs, threshold)
    per_class, matrix = class_report(labels, predicted, class_names)
    summary = summarize(labels, probs, class_names, split, threshold)
    return EvalResult(
        split, int(len(labels)), metrics, per_class, matrix, list(class_names), summary=summary
    )


# ---- data for a saved run ---------------------------------------------------------------


def _remap(labels: np.ndarray, names: list[str], run_names: list[str], where: str) -> np.ndarray:
    position = {n: i for i, n in enumerate(run_names)}
    unknown = [n for n in names if n not in position]
    if unknown:
        raise UserError(
            [
                Problem(
                    f"classes the model was not trained on: {', '.join(unknown)} "
                    f"(it knows: {', '.join(run_names)})",
                    where,
                )
            ]
        )
    table = np.array([position[n] for n in names], dtype=np.int64)
    return table[np.asarray(labels, dtype=np.int64)]


def folder_images(folder: Path, run: Predictor) -> tuple[np.ndarray, np.ndarray]:
    """Images of ``folder/<class name>/*`` at the run's size, with labels in the run's order."""
    subdirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subdirs:
        raise UserError([Problem("expected one sub-folder of images per class", str(folder))])
    paths: list[Path] = []
    names: list[str] = []
    labels: list[int] = []
    for i, sub in enumerate(subdirs):
        names.append(sub.name)
        files = sorted(f for f in sub.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        paths += files
        labels += [i] * len(files)
    if not paths:
        raise UserError([Problem("no image files in the class sub-folders", str(folder))])
    h, w, c = run.image_shape
    loaded = load_images(paths, (h, w), c, run.resize_mode)
    return loaded.images, _remap(np.array(labels), names, run.class_names, str(folder))


def split_images(
    prepared: PreparedData, run: Predictor, where: str
) -> tuple[np.ndarray, np.ndarray, str]:
    """The test split (else validation, else train) of prepared data, in the run's classes."""
    for split in ("test", "validation", "train"):
        part = prepared.splits().get(split)
        if part is not None and len(part):
            break
    else:
        raise UserError([Problem("the data has no images", where)])
    h, w, c = run.image_shape
    if part.images is not None:
        images = convert_images(np.asarray(part.images), (h, w), c, run.resize_mode)
    else:
        images = load_images(part.paths or [], (h, w), c, run.resize_mode).images
    return images, _remap(part.labels, list(prepared.class_names), run.class_names, where), split


def spec_data(path: Path, registry: Registry | None = None) -> tuple[PreparedData, str]:
    """The prepared data of the spec file at ``path`` (its test split is evaluated)."""
    if not path.exists():
        raise UserError([Problem("no such spec file or folder", str(path))])
    return prepare_data(load_spec(path, registry=registry)), str(path)


def evaluate_probabilities(
    probs: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    split: str,
    threshold: float | None = None,
) -> EvalResult:
    """Accuracy, cross-entropy, the class report and the summary from probabilities (no
    Keras metrics: an exported model has none; the cross-entropy leaves out any label
    smoothing)."""
    labels = np.asarray(labels, dtype=np.int64)
    metrics: dict[str, float] = {}
    if len(labels):
        picked = np.clip(np.asarray(probs)[np.arange(len(labels)), labels], 1e-7, 1.0)
        metrics = {
            "accuracy": float(np.mean(predicted_classes(probs) == labels)),
            "cross_entropy": float(-np.mean(np.log(picked))),
        }
    return _result(split, labels, probs, metrics, class_names, threshold)
