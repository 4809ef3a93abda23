"""The end of a run: the kept weights into ``model.keras``, the evaluation, ``metrics.json``
(the run's :class:`~zoo.record.results.Results`), the pictures, and the record marked
finished. Each file is written atomically; a kill anywhere here leaves a run that
``--resume`` finishes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from zoo.images import load_images
from zoo.progress import progress
from zoo.record.folder import FINISHED
from zoo.record.history import read_history
from zoo.record.results import Results, WeightsRecord, write_results
from zoo.record.run import RunRecord, ThresholdRecord, now, write_run_record
from zoo.record.writing import remove_backup, save_file
from zoo.run_files import (
    CONFUSION_FILE,
    CURVES_FILE,
    ERRORS_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    PR_FILE,
    ROC_FILE,
)
from zoo.runner.artifacts import (
    plot_confusion,
    plot_curves,
    plot_errors,
    plot_two_class_curve,
    worst_errors,
)
from zoo.runner.aux_outputs import inference_model
from zoo.runner.evaluate import evaluate_model, split_probabilities
from zoo.runner.fit import Training
from zoo.runner.keep import keep_weights
from zoo.runner.results import EvalResult, TrainResult
from zoo.runner.setup import Workbench
from zoo.runner.summary import choose_threshold


def finish(
    bench: Workbench, training: Training, record: RunRecord, seconds: float
) -> tuple[TrainResult, RunRecord]:
    """Write every final file; returns the result and the finished record."""
    run = training.run_dir
    name = bench.loaded.spec.name
    for checkpoint in training.checkpoints:
        checkpoint.flush()
    weights = keep_weights(bench.model, training, bench.loaded.spec.evaluation.weights)
    saved = inference_model(bench.model)
    save_file(run, MODEL_FILE, lambda tmp: saved.save(str(tmp)), "model")
    threshold = decision_threshold(bench)
    evaluation, outputs = _evaluate(bench, threshold.value if threshold else None)
    results = _results(evaluation, weights, training.epochs)
    write_results(run, results)
    history = read_history(run / HISTORY_FILE) if (run / HISTORY_FILE).exists() else {}
    with progress("drawing curves, confusion matrix, errors", 3) as bar:
        if history:
            save_file(run, CURVES_FILE, lambda tmp: plot_curves(history, tmp, title=name), "curves")
        bar.update()
        if evaluation is not None:
            ev = evaluation
            save_file(
                run,
                CONFUSION_FILE,
                lambda tmp: plot_confusion(
                    ev.confusion_matrix, ev.class_names, tmp, title=f"{name}: {ev.split} set"
                ),
                "confusion",
            )
            bar.update()
            _plot_errors(bench, run, ev.split, outputs)
            if len(ev.class_names) == 2 and len(outputs.get("labels", ())):
                _plot_two_class_curves(run, outputs, ev.class_names, f"{name}: {ev.split} set")
        bar.update()
    done = record.model_copy(
        update={
            "status": FINISHED,
            "threshold": threshold,
            "finished": now(),
            "reason": None,
            "ended": None,
            "epochs_done": training.epochs,
            "train_seconds": round(record.train_seconds + seconds, 3),
        }
    )
    write_run_record(run, done, "finish")
    remove_backup(run, training.backup.directory.relative_to(run))
    files = sorted(
        str(p.relative_to(run)) for p in run.rglob("*") if p.is_file() and p.name != ".lock"
    )
    result = TrainResult(
        run_dir=run,
        history=history,
        metrics=results.to_json(),
        evaluation=evaluation,
        epochs=training.epochs,
        seconds=seconds,
        files=files,
        model=bench.model,
        record=done,
        results=results,
    )
    return result, done


def decision_threshold(bench: Workbench) -> ThresholdRecord | None:
    """The spec's two-class threshold, or the one that maximizes its metric on the
    validation split (the kept weights' probabilities; set_up checked the split exists)."""
    wanted = bench.loaded.spec.evaluation.threshold
    if wanted is None:
        return None
    if isinstance(wanted, float):
        return ThresholdRecord(value=wanted)
    probs, labels = split_probabilities(bench.model, bench.pipelines.validation, "validation")
    value, score = choose_threshold(probs, labels, wanted.maximize)
    return ThresholdRecord(value=value, maximize=wanted.maximize, score=score)


def _plot_two_class_curves(
    run: Path, outputs: dict[str, np.ndarray], class_names: list[str], title: str
) -> None:
    """roc.png and pr.png: class 1 against class 0 at every threshold."""
    for file, kind in ((ROC_FILE, "roc"), (PR_FILE, "pr")):

        def draw(tmp: Path, kind: str = kind) -> None:
            plot_two_class_curve(
                kind, outputs["labels"], outputs["probs"], class_names, tmp, title=title
            )

        save_file(run, file, draw, kind)


def _evaluate(
    bench: Workbench, threshold: float | None
) -> tuple[EvalResult | None, dict[str, np.ndarray]]:
    """The kept weights on the test split (the validation split when there is none)."""
    pipelines = bench.pipelines
    split, ds = (
        ("test", pipelines.test)
        if pipelines.test is not None
        else ("validation", pipelines.validation)
    )
    outputs: dict[str, np.ndarray] = {}
    if ds is None:
        return None, outputs
    evaluation = evaluate_model(
        bench.model,
        ds,
        bench.objective,
        bench.prepared.class_names,
        split,
        outputs,
        even=bench.even if bench.replicas > 1 else None,
        threshold=threshold,
    )
    return evaluation, outputs


def _results(evaluation: EvalResult | None, weights: WeightsRecord, epochs: int) -> Results:
    if evaluation is None:
        return Results(weights=weights, epochs=epochs)
    return Results(
        split=evaluation.split,
        count=evaluation.count,
        scores=evaluation.metrics,
        per_class=evaluation.per_class,
        confusion_matrix=evaluation.confusion_matrix,
        class_names=evaluation.class_names,
        weights=weights,
        epochs=epochs,
        summary=evaluation.summary,
    )


def _plot_errors(bench: Workbench, run: Path, split: str, outputs: dict[str, Any]) -> None:
    """errors.png: the most confidently misclassified images of the evaluated split."""
    prepared = bench.prepared
    part = prepared.splits().get(split)
    labels = outputs.get("labels")
    if (
        part is None
        or labels is None
        or not np.array_equal(np.asarray(part.labels, dtype=np.int64), labels)
    ):
        return  # not in the split's order: no picture rather than a wrong one
    errors = worst_errors(outputs["probs"], labels)
    index = [i for i, _, _ in errors]
    if part.images is not None:
        images = part.images[np.asarray(index, dtype=np.int64)]
    else:
        h, w, c = prepared.image_shape
        paths = part.paths or []
        images = (
            load_images([paths[i] for i in index], (h, w), c, bench.loaded.spec.data.resize).images
            if index
            else np.zeros(0)
        )
    name = bench.loaded.spec.name
    save_file(
        run,
        ERRORS_FILE,
        lambda tmp: plot_errors(
            images, labels, errors, prepared.class_names, tmp, title=f"{name}: worst {split} errors"
        ),
        "errors",
    )


def elapsed(started: float) -> float:
    return time.perf_counter() - started
