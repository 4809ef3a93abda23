"""What a tracker plugin's factory returns: the :class:`Tracker` protocol.

A plugin registers one in ``zoo_register_trackers(registry)`` with
``registry.add_tracker(name, params=..., factory=..., description=...)``; runs call it
when ``ZOO_TRACKING`` names it (see ``zoo.tracking``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Tracker(Protocol):
    """What a tracker factory returns; the runner calls it from the training process.

    ``start`` once the run folder exists (also again when a run is resumed), ``log_epoch``
    after every epoch, ``finish`` once at the end, however the run ended.
    """

    def start(self, run_dir: Path, resolved_spec: dict[str, Any], info: dict[str, Any]) -> None:
        """``resolved_spec``: every default filled in; ``info``: run.json (seed, versions,
        ``plugins``: which plugin, package and version built each section)."""

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        """``epoch`` counts from 1; ``metrics``: the epoch's logs (loss, val_accuracy, lr...)."""

    def finish(self, status: str, metrics: dict[str, Any], files: list[Path]) -> None:
        """``status``: finished, failed or interrupted; ``metrics``: metrics.json's content
        (empty when the run did not finish); ``files``: the run's files (model, plots...)."""
