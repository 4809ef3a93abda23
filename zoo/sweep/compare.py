"""``zoo runs --compare RUN...``: the spec keys where runs differ, their backend, every
metric of their evaluated split (flagging runs not tested on the same images, by the test
split's fingerprint in their records), and an overlay plot of their training curves. A sweep
folder stands for all its trials' runs, with the sweep's objective per trial and its best
trial marked; a seed group for its seeds' runs.

Reads run folders only (spec.yaml, metrics.json, history.csv): no TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from zoo.errors import Problem, UserError
from zoo.keypath import format_path
from zoo.record.files import RecordError, read_text
from zoo.record.folder import run_state, try_results
from zoo.record.group import is_group, read_group
from zoo.record.history import read_history
from zoo.run_files import HISTORY_FILE, INFO_FILE, SPEC_FILE
from zoo.runner.artifacts import plot_overlay
from zoo.spec.metrics import PER_CLASS_LOG
from zoo.sweep.config import Objective

IGNORED_KEYS = ("name", "description")
SWEEP_INFO = "sweep.json"  # written by zoo.sweep.run (not imported: it imports Optuna)
CURVE_METRICS = ("loss", "accuracy")


def expand(paths: list[str | Path]) -> list[tuple[Path, Path | None]]:
    """(run folder, the sweep folder it is a trial of, or None): each path itself, every
    run under a sweep folder's ``trials``, or every seed run of a seed group."""
    runs: list[tuple[Path, Path | None]] = []
    problems = []
    for p in map(Path, paths):
        if is_group(p):
            runs += [(p / r.run, None) for r in _group_runs(p)]
        elif (p / SPEC_FILE).exists() or (p / INFO_FILE).exists():
            runs.append((p, None))
        elif (p / "trials").is_dir():
            trials = sorted(r for r in (p / "trials").iterdir() if (r / SPEC_FILE).exists())
            runs += [(r, p) for r in trials]
        else:
            problems.append(
                Problem("not a run folder (no spec.yaml), a sweep nor a seed group", str(p))
            )
    if problems:
        raise UserError(problems)
    if not runs:
        raise UserError([Problem("no runs to compare", " ".join(map(str, paths)))])
    return runs


def _group_runs(group: Path) -> list[Any]:
    try:
        return [r for r in read_group(group).runs if (group / r.run).is_dir()]
    except RecordError as exc:
        raise UserError(exc.problems) from None


def flatten(data: Any, prefix: tuple = ()) -> dict[str, Any]:
    """``{'training.optimizer.learning_rate': 0.001, 'callbacks[0].patience': 5, ...}``"""
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(flatten(v, (*prefix, k)))
        return out
    if isinstance(data, list) and data and any(isinstance(v, (dict, list)) for v in data):
        out = {}
        for i, v in enumerate(data):
            out.update(flatten(v, (*prefix, i)))
        return out
    return {format_path(prefix): data}


def _read(run: Path) -> dict[str, Any]:
    """What --compare shows of one run, from its record (a damaged file counts as absent)."""
    try:
        spec = yaml.safe_load(read_text(run / SPEC_FILE))
    except (RecordError, yaml.YAMLError):
        spec = {}
    try:
        history = read_history(run / HISTORY_FILE)
    except RecordError:
        history = {}
    state = run_state(run)
    return {
        "run": run,
        "spec": flatten(spec if isinstance(spec, dict) else {}),
        "results": try_results(run),
        "history": history,
        "status": state.status,
        "epochs": state.epochs,
        "backend": state.record.backend if state.record else None,
        "test_data": (
            state.record.data.splits.get("test")
            if state.record is not None and state.record.data is not None
            else None
        ),
    }


def _objective(sweep: Path) -> Objective | None:
    """The objective a sweep optimised, from its ``sweep.json`` (None: not readable)."""
    try:
        info = json.loads(read_text(sweep / SWEEP_INFO))
        objective = Objective.model_validate(info.get("objective") or {})
    except (RecordError, ValueError, AttributeError):
        return None
    return objective


def _shown_metric(name: str) -> bool:
    """A column of the table: every compiled metric but the per-class F1s (JSON has them)."""
    return not PER_CLASS_LOG.match(name)


def compare(paths: list[str | Path]) -> dict[str, Any]:
    """Per run: its backend, its values of the differing spec keys, every metric of its
    evaluated split and, for a sweep's trials, the sweep's objective (``best`` marks the
    best trial by the sweep's own direction)."""
    expanded = expand(paths)
    runs = [_read(r) for r, _ in expanded]
    objectives = {s: _objective(s) for s in {s for _, s in expanded if s is not None}}
    keys: list[str] = []
    for r in runs:
        keys += [k for k in r["spec"] if k not in keys]
    differing = [
        k
        for k in keys
        if k not in IGNORED_KEYS
        and len({json.dumps(r["spec"].get(k), sort_keys=True, default=str) for r in runs}) > 1
    ]
    metrics: list[str] = []
    for r in runs:
        scores = r["results"].scores if r["results"] is not None else {}
        metrics += [m for m in scores if m not in metrics and _shown_metric(m)]
    metrics.sort(key=lambda m: (m != "accuracy", m == "loss", m))
    rows = []
    for r, (_, sweep) in zip(runs, expanded, strict=True):
        results = r["results"]
        row: dict[str, Any] = {
            "run": str(r["run"]),
            "status": r["status"],
            "backend": r["backend"],
            "spec": {k: r["spec"].get(k) for k in differing},
            "epochs": r["epochs"],
            "split": results.split if results is not None else None,
            "metrics": {m: (results.scores.get(m) if results else None) for m in metrics},
            "test_data": r["test_data"],
        }
        objective = objectives.get(sweep) if sweep is not None else None
        if objective is not None:
            value = objective.score(results)[0] if results is not None else None
            row["objective"] = {
                "metric": objective.label(),
                "direction": objective.resolved_direction,
                "value": value,
                "best": False,
            }
        rows.append(row)
    _mark_best(rows)
    tested_on = {r["test_data"] for r in runs if r["test_data"]}
    return {
        "same_test_data": len(tested_on) <= 1,
        "differing_keys": differing,
        "metrics": metrics,
        "runs": rows,
        "histories": {str(r["run"]): r["history"] for r in runs},
    }


def _mark_best(rows: list[dict[str, Any]]) -> None:
    """``best`` on each sweep's best finished trial, by its own direction."""
    by_metric: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        objective = row.get("objective")
        if objective and objective["value"] is not None and row["status"] == "finished":
            by_metric.setdefault((objective["metric"], objective["direction"]), []).append(row)
    for (_, direction), candidates in by_metric.items():
        pick = max if direction == "maximize" else min
        pick(candidates, key=lambda row: row["objective"]["value"])["objective"]["best"] = True


def plot_compared(result: dict[str, Any], path: str | Path) -> None:
    """Loss and accuracy per epoch of every compared run in one figure."""
    histories = result["histories"]
    if not any(m in h or f"val_{m}" in h for h in histories.values() for m in CURVE_METRICS):
        raise UserError(
            [Problem("no run has a history.csv with loss or accuracy to plot", str(path))]
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = {run: Path(run).name for run in histories}
    plot_overlay({labels[run]: h for run, h in histories.items()}, path, CURVE_METRICS)
