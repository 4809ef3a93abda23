"""tensorboard: scalars per epoch, the final metrics and the spec as text, in TensorBoard's
event files (``<run>/tensorboard`` by default; ``tensorboard --logdir runs``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

import zoo
from zoo import plugin
from zoo.plugin import hookimpl

from ._common import final_metrics


class TensorBoardParams(zoo.PluginParams):
    log_dir: str = Field(
        "tensorboard",
        description="Event folder: relative to the run folder, "
        "or absolute (then one subfolder per run).",
    )


class TensorBoardTracker:
    def __init__(self, params: TensorBoardParams) -> None:
        self.params = params
        self.writer: Any = None

    def start(self, run_dir: Path, resolved_spec: dict[str, Any], info: dict[str, Any]) -> None:
        import tensorflow as tf
        import yaml

        base = Path(self.params.log_dir)
        folder = base / Path(run_dir).name if base.is_absolute() else Path(run_dir) / base
        self.writer = tf.summary.create_file_writer(str(folder))
        text = yaml.safe_dump(resolved_spec, sort_keys=False)
        with self.writer.as_default():
            tf.summary.text("spec", "```\n" + text + "\n```", step=0)
            tf.summary.text("plugins", str(info.get("plugins")), step=0)

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        import tensorflow as tf

        with self.writer.as_default():
            for k, v in metrics.items():
                tf.summary.scalar(k, v, step=epoch)
        self.writer.flush()

    def finish(self, status: str, metrics: dict[str, Any], files: list[Path]) -> None:
        import tensorflow as tf

        with self.writer.as_default():
            for k, v in final_metrics(metrics).items():
                tf.summary.scalar(k, v, step=int(metrics.get("epochs") or 0))
            tf.summary.text("status", status, step=0)
        self.writer.close()


@hookimpl
def zoo_register_trackers(registry: plugin.PluginRegistrar) -> None:
    registry.add_tracker(
        "tensorboard",
        params=TensorBoardParams,
        factory=TensorBoardTracker,
        description="TensorBoard event files: metrics per epoch, final metrics, the spec.",
        tags={"tracking"},
    )
