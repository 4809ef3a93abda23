"""Experiment tracking through plugins: the :class:`Tracker` contract and how runs call it.

A plugin registers a tracker in its ``zoo_register_trackers(registry)`` hook with
``registry.add_tracker(name, params=..., factory=..., description=...)``; the factory is
``factory(params) -> Tracker``. Trackers are off by default and cost nothing then: the
runner looks at ``ZOO_TRACKING`` (``ZOO_TRACKING=mlflow,tensorboard``) and does no more when
it is unset. A tracker's parameters come from ``ZOO_<NAME>_<PARAM>`` environment variables
(``ZOO_MLFLOW_TRACKING_URI=http://host:5000``), read as YAML values.

A tracker that raises never stops the run: it is reported on stderr once, naming it and
its plugin, and called no more.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from zoo.errors import UserError
from zoo.plugin.registry import Registry
from zoo.plugin.tracker import Tracker
from zoo.record.results import Results
from zoo.record.run import RunRecord

TRACKING_ENV = "ZOO_TRACKING"


def enabled() -> list[str]:
    """Tracker names from ``ZOO_TRACKING`` (empty: tracking is off)."""
    raw = os.environ.get(TRACKING_ENV, "")
    return [n.strip() for n in raw.split(",") if n.strip()]


def env_params(name: str) -> dict[str, Any]:
    """``ZOO_<NAME>_<PARAM>=value`` -> ``{param: value}`` (values read as YAML)."""
    prefix = f"ZOO_{name.upper()}_"
    out = {}
    for key, value in os.environ.items():
        if key.startswith(prefix) and key != TRACKING_ENV:
            try:
                out[key[len(prefix) :].lower()] = yaml.safe_load(value) if value.strip() else None
            except yaml.YAMLError:
                out[key[len(prefix) :].lower()] = value
    return out


def _warn(text: str) -> None:
    sys.stderr.write(f"zoo: warning: {text}\n")
    sys.stderr.flush()


class Trackers:
    """The enabled trackers of one run; each call is guarded, a broken tracker is dropped."""

    def __init__(self, trackers: list[tuple[str, str, Tracker]]) -> None:
        self.trackers = trackers  # (name, owner, tracker)

    @classmethod
    def create(cls, names: Sequence[str], registry: Registry) -> Trackers:
        """The trackers ``names`` asks for; one that cannot start is said once and left out."""
        made = []
        for name in dict.fromkeys(names):
            try:
                entry = registry.get(name, "tracker")
            except UserError as exc:
                _warn(f"{TRACKING_ENV}: {exc.problems[0].message}; running without it")
                continue
            try:
                params = entry.params.model_validate(env_params(name))
                tracker = entry.factory(params)
            except ValidationError as exc:
                errs = "; ".join(
                    f"ZOO_{name.upper()}_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                    for e in exc.errors()
                )
                _warn(f"tracker '{name}' not started: {errs}")
                continue
            except Exception as exc:
                _warn(
                    f"tracker '{name}' ({entry.owner}) is broken and was not started: "
                    f"{type(exc).__name__}: {exc}"[:500]
                )
                continue
            made.append((name, entry.owner, tracker))
        return cls(made)

    def call(self, method: str, *args: Any) -> None:
        for item in list(self.trackers):
            name, owner, tracker = item
            try:
                getattr(tracker, method)(*args)
            except Exception as exc:  # a tracker never stops a run
                self.trackers.remove(item)
                _warn(
                    f"tracker '{name}' ({owner}) is broken: {method} raised "
                    f"{type(exc).__name__}: {exc}"[:500]
                    + "; the run goes on without it"
                )

    def start(self, run_dir: Path, resolved_spec: dict[str, Any], record: RunRecord) -> None:
        """The run folder exists (also again when a run is resumed)."""
        self.call("start", run_dir, resolved_spec, record.to_json())

    def log_epoch(self, epoch: int, logs: dict[str, Any]) -> None:
        metrics = {}
        for k, v in logs.items():
            try:
                metrics[k] = float(v)
            except (TypeError, ValueError):
                continue
        self.call("log_epoch", epoch, metrics)

    def finish(self, status: str, results: Results | None, run_dir: Path) -> None:
        """However the run ended: its status, its results (finished runs) and its files."""
        files = (
            sorted(p for p in run_dir.rglob("*") if p.is_file() and p.name != ".lock")
            if run_dir.exists()
            else []
        )
        self.call("finish", status, results.to_json() if results is not None else {}, files)
