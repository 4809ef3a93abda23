"""What a data-source plugin returns: images (in memory or as files) with integer labels.

A source either returns one pool (``splits={"all": ...}``), which zoo splits by the spec's
``data.split`` (stratified, seeded), or its own ``train``/``validation``/``test`` split
(e.g. a folder that already has ``train/ validation/ test/``; Keras datasets' train/test).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SPLIT_NAMES = ("train", "validation", "test")


@dataclass
class ImageSet:
    """Images of one split: ``images`` (uint8 NHWC) in memory, or ``paths`` to decode.

    Exactly one of ``images`` and ``paths`` is set. ``labels`` are ints in
    ``range(len(class_names))``.
    """

    labels: np.ndarray
    images: np.ndarray | None = None
    paths: list[Path] | None = None

    def __post_init__(self) -> None:
        if (self.images is None) == (self.paths is None):
            raise ValueError("ImageSet needs exactly one of images and paths")
        self.labels = np.asarray(self.labels, dtype=np.int64)
        n = len(self.images) if self.images is not None else len(self.paths or [])
        if len(self.labels) != n:
            raise ValueError(f"ImageSet has {n} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> ImageSet:
        """The images at ``index`` (used by the splitter)."""
        if self.images is not None:
            return ImageSet(self.labels[index], images=self.images[index])
        assert self.paths is not None
        return ImageSet(self.labels[index], paths=[self.paths[i] for i in index])


@dataclass
class SourceData:
    """A data source's output: class names, and either one pool or ready-made splits."""

    class_names: list[str]
    splits: dict[str, ImageSet]
    skipped: list[str] = field(default_factory=list)  # files skipped under on_bad_file: skip

    @property
    def is_split(self) -> bool:
        return "train" in self.splits
