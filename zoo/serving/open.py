"""Open what ``zoo predict`` and ``zoo evaluate`` are given: a run folder or an export.

- :func:`open_predictor`: a run folder (:class:`zoo.runner.predict.Run`) or a model
  exported by ``zoo export`` (:class:`zoo.serving.artifact.ExportedModel`, run with its
  own runtime);
- :func:`evaluate_run`: evaluate either on the run's own test split, another spec's data or
  a class folder (an export on its source run's test split by default);
- :func:`predict`: the top classes of some images.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from zoo.errors import Problem, UserError
from zoo.inference import DEFAULT_BATCH, Prediction, Predictor
from zoo.plugin.registry import Registry
from zoo.run_files import INFO_FILE
from zoo.runner.evaluate import evaluate_probabilities, folder_images, spec_data, split_images
from zoo.runner.predict import Run
from zoo.runner.results import EvalResult
from zoo.serving.artifact import ExportedModel, load_export, looks_exported


def open_predictor(path: str | Path, registry: Registry | None = None) -> Predictor:
    """A run folder, or a model exported by ``zoo export`` (run with its own runtime)."""
    path = Path(path)
    if path.is_dir() and ((path / INFO_FILE).exists() or (path / INFO_FILE).is_symlink()):
        return Run(path, registry)
    if looks_exported(path):
        return load_export(path)
    if not path.exists():
        raise UserError([Problem("no such run folder or exported model", str(path))])
    raise UserError(
        [
            Problem(
                f"not a run folder (no {INFO_FILE}) nor an exported model (a zoo export folder, a "
                "SavedModel folder, a .tflite or .onnx file)",
                str(path),
            )
        ]
    )


def evaluate_export(
    exported: ExportedModel, data: str | Path | None = None, batch_size: int | None = None
) -> EvalResult:
    """An exported model on its source run's test split, a spec's data or a class folder."""
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
            source = exported.manifest.source_run.path if exported.manifest else None
            if not (source and Path(source).is_dir()):
                raise UserError(
                    [Problem("the run it came from is not here; give the data with --data", where)]
                )
            prepared, where = Run(source).prepared(None)
        else:
            prepared, where = spec_data(Path(data))
        images, labels, split = split_images(prepared, exported, where)
    probs = exported.probabilities(images, batch_size or DEFAULT_BATCH)
    return evaluate_probabilities(probs, labels, exported.class_names, split, exported.threshold)


def evaluate_run(
    run: str | Path | Predictor,
    data: str | Path | None = None,
    batch_size: int | None = None,
    weights: Literal["best", "last"] | None = None,
) -> EvalResult:
    """Evaluate a saved run (or an export of one) on its own test split, another spec's
    data, or a class folder.

    :param weights: a run's ``best`` or ``last`` epoch weights; default: those in
        ``model.keras`` (what ``evaluation.weights`` chose at training time).
    """
    if weights not in (None, "best", "last"):
        raise UserError(f"weights must be best or last (got {weights!r})")
    model = run if isinstance(run, Predictor) else open_predictor(run)
    if isinstance(model, Run):
        chosen = model.use_weights(weights)
        result = model.evaluate(data, batch_size=batch_size)
        result.weights = chosen
        return result
    if weights is not None:
        raise UserError(
            [
                Problem(
                    "--weights applies to a run folder; an export holds one set of weights",
                    str(model.path),
                )
            ]
        )
    assert isinstance(model, ExportedModel)
    return evaluate_export(model, data, batch_size)


def predict(
    run: str | Path | Predictor, images: Sequence[Any] | Any, top_k: int = 5
) -> list[Prediction]:
    """Shortcut: ``open_predictor(run).predict(images, top_k)``."""
    return (run if isinstance(run, Predictor) else open_predictor(run)).predict(images, top_k)
