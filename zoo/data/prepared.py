"""The hand-off between data loading and the input pipeline.

``zoo.data.prepare.prepare_data(loaded)`` returns a :class:`PreparedData`;
``zoo.data.pipeline.build_pipelines(prepared, loaded)`` turns it into :class:`Pipelines`
(tf.data datasets or PyDatasets) for the runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.plugin.contracts import Scaling
from zoo.plugin.source import ImageSet


@dataclass
class PreparedData:
    """Split, decoded images with class names, ready for the input pipeline.

    Images are uint8 NHWC at the spec's size and channels (arrays, or rows of the decoded
    cache's memory map); with ``data.cache: none`` the sets hold paths and the pipeline
    decodes them lazily. ``fingerprints``: each split's (:mod:`zoo.data.fingerprint`).
    """

    class_names: list[str]
    train: ImageSet
    validation: ImageSet | None
    test: ImageSet | None
    image_shape: tuple[int, int, int]
    skipped: list[str] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)  # per split
    cache: str = "source"  # disk, memory or none (files); source: the source's own arrays
    cache_entry: Path | None = None  # the decoded cache on disk
    cache_built: bool = False  # decoded by this run (else read from an earlier one's)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def splits(self) -> dict[str, ImageSet]:
        return {
            k: v
            for k, v in (
                ("train", self.train),
                ("validation", self.validation),
                ("test", self.test),
            )
            if v is not None
        }


@dataclass
class Pipelines:
    """Batched ``tf.data.Dataset`` of ``(scaled float32 images, int labels)`` per split.

    ``scaling`` is the fitted :class:`zoo.Scaling`; its ``state()`` goes into the run so
    predict-time images are scaled exactly like training ones.

    In a run over several hosts (built with a :class:`zoo.data.hosts.HostShare`), ``train``
    and ``validation_share`` hold only this host's rows of every global batch, as
    ``(images, labels, real)`` (``real``: 0.0 for a padding row), so each host reads its
    share every epoch; ``validation`` and ``test`` stay whole, for the end-of-run report,
    which needs every image's probabilities.
    """

    train: Any
    validation: Any | None
    test: Any | None
    scaling: Scaling
    steps_per_epoch: int
    validation_share: Any | None = None
