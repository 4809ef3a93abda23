"""How a training run can end other than by finishing (beside a UserError or a full disk)."""

from __future__ import annotations

from pathlib import Path

from zoo.errors import ZooError


class RunFailed(ZooError):
    """Training stopped for a reason recorded in run.json (a NaN loss); not resumable as is."""

    def __init__(self, reason: str, run_dir: Path | None = None) -> None:
        self.reason, self.run_dir = reason, run_dir
        super().__init__(reason)
