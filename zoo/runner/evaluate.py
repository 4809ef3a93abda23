"""Evaluation: loss and compiled metrics, per-class precision/recall, confusion matrix.

``evaluate_model`` works on any batched dataset of ``(scaled images, int labels)`` (the
pipeline's test split during training). ``evaluate_run`` re-opens a finished run and
evaluates it on its own test split, on another spec's data, or on a folder of class
sub-folders, always with the run's own scaling. Given a model exported by ``zoo export``
instead, it runs the export with its own runtime on the same data (the source run's test
split by default) and reports accuracy and cross-entropy from its probabilities.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import Problem, UserError
from zoo.runner.compile import Objective, with_targets
from zoo.runner.results import EvalResult

if TYPE_CHECKING:
    from zoo.runner.predict import Predictor, Run


def predicted_classes(probs: np.ndarray) -> np.ndarray:
    """Class index per row: argmax, or ``p >= 0.5`` for one sigmoid unit."""
    probs = np.asarray(probs)
    if probs.ndim == 2 and probs.shape[1] == 1:
        return (probs[:, 0] >= 0.5).astype(np.int64)
    return np.argmax(probs, axis=-1).astype(np.int64)


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


def evaluate_model(
    model: Any, dataset: Any, objective: Objective, class_names: list[str], split: str = "test",
    outputs: dict[str, np.ndarray] | None = None, even: Any = None,
) -> EvalResult:
    """Evaluate a compiled model on a dataset of ``(images, int labels)`` batches.

    ``outputs``, when given, receives the probabilities (``probs``) and labels (``labels``)
    in the dataset's order (the errors picture needs them)."""
    # even: under keras.distribution, batches padded to divide by the devices (even_batches)
    target_ds = with_targets(even(dataset) if even is not None else dataset, objective)
    metrics = model.evaluate(target_ds, verbose=0, return_dict=True)
    probs, labels = [], []
    import keras

    from zoo.progress import progress

    with progress(f"evaluating on {split}") as bar:
        for x, y in _numpy_batches(dataset):  # direct calls: predict_on_batch repeats the
            # batch per replica
            out = model(x, training=False)
            first = out[0] if isinstance(out, (list, tuple)) else out  # without aux outputs
            probs.append(keras.ops.convert_to_numpy(first))  # torch: no np.asarray on grads
            labels.append(np.asarray(y))
            bar.update(len(labels[-1]))
    all_labels = np.concatenate(labels).astype(np.int64) if labels else np.zeros(0, np.int64)
    predicted = predicted_classes(np.concatenate(probs)) if probs else np.zeros(0, np.int64)
    per_class, matrix = class_report(all_labels, predicted, class_names)
    if outputs is not None:
        outputs["probs"] = np.concatenate(probs) if probs else np.zeros((0, len(class_names)))
        outputs["labels"] = all_labels
    clean = {k: float(v) for k, v in metrics.items() if np.ndim(v) == 0}
    if "accuracy" not in clean and len(all_labels):
        clean["accuracy"] = float(np.mean(predicted == all_labels))
    return EvalResult(split, int(len(all_labels)), clean, per_class, matrix, list(class_names))


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
    from zoo.data.images import IMAGE_SUFFIXES, load_images

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
    prepared: Any, run: Predictor, where: str
) -> tuple[np.ndarray, np.ndarray, str]:
    """The test split (else validation, else train) of prepared data, in the run's classes."""
    from zoo.data.images import convert_images, load_images

    for split in ("test", "validation", "train"):
        part = prepared.splits().get(split)
        if part is not None and len(part):
            break
    else:
        raise UserError([Problem("the data has no images", where)])
    h, w, c = run.image_shape
    if part.images is not None:
        images = convert_images(part.images, (h, w), c, run.resize_mode)
    else:
        images = load_images(part.paths, (h, w), c, run.resize_mode).images
    return images, _remap(part.labels, list(prepared.class_names), run.class_names, where), split


def spec_data(path: Path, registry: Any = None) -> tuple[Any, str]:
    """The prepared data of the spec file at ``path`` (its test split is evaluated)."""
    from zoo.data.prepare import prepare_data
    from zoo.spec import load_spec

    if not path.exists():
        raise UserError([Problem("no such spec file or folder", str(path))])
    other = load_spec(path, registry=registry)
    return prepare_data(other.spec, registry, spec_dir=path.parent), str(path)


def evaluate_probabilities(
    probs: np.ndarray, labels: np.ndarray, class_names: list[str], split: str
) -> EvalResult:
    """Accuracy, cross-entropy and the class report from probabilities (no Keras metrics:
    an exported model has none; the cross-entropy leaves out any label smoothing)."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = predicted_classes(probs)
    per_class, matrix = class_report(labels, predicted, class_names)
    metrics: dict[str, float] = {}
    if len(labels):
        picked = np.clip(np.asarray(probs)[np.arange(len(labels)), labels], 1e-7, 1.0)
        metrics = {
            "accuracy": float(np.mean(predicted == labels)),
            "cross_entropy": float(-np.mean(np.log(picked))),
        }
    return EvalResult(split, int(len(labels)), metrics, per_class, matrix, list(class_names))


def evaluate_export(
    exported: Predictor, data: str | Path | None = None, batch_size: int | None = None
) -> EvalResult:
    """An exported model on its source run's test split, a spec's data or a class folder."""
    from zoo.runner.predict import DEFAULT_BATCH, Run

    where = str(exported.path)
    if not exported.class_names:
        raise UserError(
            [Problem("evaluating an export needs its manifest.json (the class names)", where)]
        )
    if data is not None and Path(data).is_dir():
        images, labels = folder_images(Path(data), exported)
        split = "folder"
    else:
        if data is None:
            manifest = getattr(exported, "manifest", None) or {}
            source = (manifest.get("source_run") or {}).get("path")
            if not (source and Path(source).is_dir()):
                raise UserError(
                    [Problem("the run it came from is not here; give the data with --data",
                             where)]
                )
            prepared, where = Run(source)._prepared(None)
        else:
            prepared, where = spec_data(Path(data))
        images, labels, split = split_images(prepared, exported, where)
    probs = exported._probs(images, batch_size or DEFAULT_BATCH)
    return evaluate_probabilities(probs, labels, exported.class_names, split)


def evaluate_run(
    run: str | Path | Run | Predictor, data: str | Path | None = None,
    batch_size: int | None = None, weights: str | None = None,
) -> EvalResult:
    """Evaluate a saved run (or an export of one) on its own test split, another spec's
    data, or a class folder.

    :param weights: a run's ``best`` or ``last`` epoch weights; default: those in
        ``model.keras`` (what ``evaluation.weights`` chose at training time).
    """
    from zoo.runner.predict import Predictor, Run, open_predictor

    if weights not in (None, "best", "last"):
        raise UserError(f"weights must be best or last (got {weights!r})")
    model = run if isinstance(run, Predictor) else open_predictor(run)
    if isinstance(model, Run):
        chosen = use_weights(model, weights)
        result = model.evaluate(data, batch_size=batch_size)
        result.weights = chosen
        return result
    if weights is not None:
        raise UserError([Problem("--weights applies to a run folder; an export holds one set "
                                 "of weights", str(model.path))])
    return evaluate_export(model, data, batch_size)


def saved_weights(run_dir: Path) -> dict[str, Any]:
    """Which weights ``model.keras`` holds, from metrics.json (older runs: the last)."""
    import json

    from zoo.run_files import METRICS_FILE

    try:
        metrics = json.loads((Path(run_dir) / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        metrics = {}
    found = metrics.get("weights") if isinstance(metrics, dict) else None
    return dict(found) if isinstance(found, dict) else {"used": "last"}


def use_weights(run: Run, which: str | None) -> dict[str, Any]:
    """Load the run's ``best`` or ``last`` weights into its model; say which it now holds."""
    saved = saved_weights(run.path)
    if which is None or which == saved.get("used"):
        return saved
    where = str(run.path)
    if which == "last":
        file = saved.get("last_weights")
        if not file or not (run.path / file).is_file():
            raise UserError([Problem("the run kept no copy of its last epoch's weights", where)])
        epoch = saved.get("last_epoch")
    else:
        file = run.info.get("best_checkpoint")
        if not file or not (run.path / file).is_file():
            raise UserError([Problem("the run kept no best checkpoint", where)])
        epoch = None
    path = run.path / file
    try:
        if str(path).endswith(".weights.h5"):
            run.model.load_weights(str(path))
        else:
            import keras

            run.model.set_weights(keras.saving.load_model(str(path), compile=False).get_weights())
    except (ValueError, OSError) as exc:
        raise UserError([Problem(f"cannot load the {which} weights from {file}: {exc}",
                                 where)]) from None
    return {"used": which, "epoch": epoch, "file": file}
