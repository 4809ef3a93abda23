"""From a spec's ``data`` section to split, decoded images: :func:`prepare_data`.

1. The data-source plugin is called with a :class:`~zoo.plugin.contracts.DataContext`.
2. File-based sets are checked: decoded in parallel to the spec's size and channels when
   ``data.cache`` is true (the cache of decoded, resized images), or decoded once and
   dropped when it is false (the pipeline decodes them again each epoch; a header check
   would let a truncated file through to crash training). Bad files stop the run with one
   problem each, or are skipped and counted under ``data.on_bad_file: skip``, before
   training starts.
3. In-memory sets are converted to the spec's channels (gray <-> RGB) and size.
4. The sets are split (stratified, seeded: :mod:`zoo.data.split`) and, when
   ``data.split.export_to`` is set, written to class folders (:mod:`zoo.data.export`).

Everything is deterministic under the split seed (``data.split.seed``, else ``seed``).
No TensorFlow here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from zoo.data.export import export_splits
from zoo.data.prepared import PreparedData
from zoo.data.split import plan_splits
from zoo.errors import Problem, UserError
from zoo.images import convert_images, load_images, probe_images
from zoo.plugin.contracts import DataContext
from zoo.plugin.guards import check_source
from zoo.plugin.source import ImageSet, SourceData
from zoo.spec.loader import LoadedSpec
from zoo.spec.sections import DataSpec

log = logging.getLogger("zoo.data")

FILE_CHANNELS_DEFAULT = 3  # like Keras's color_mode="rgb": file images are RGB unless told


def data_context(loaded: LoadedSpec) -> DataContext:
    """The context a data-source factory (and its ``shape_hint``) receives for this spec."""
    data, spec = loaded.spec.data, loaded.spec
    return DataContext(
        image_size=(int(data.image_size[0]), int(data.image_size[1])) if data.image_size else None,
        channels=data.channels,
        seed=spec.split_seed,
        on_bad_file=data.on_bad_file,
        spec_dir=loaded.spec_dir,
        resize=data.resize,
    )


def load_source(loaded: LoadedSpec) -> SourceData:
    """Call the spec's data source and check what it returned."""
    entry = loaded.entry("data")
    source = entry.factory(loaded.spec.data.params, data_context(loaded))
    return check_source(source, f"data source '{entry.name}' of {entry.owner}")


def prepare_data(loaded: LoadedSpec, *, workers: int | None = None) -> PreparedData:
    """Load, check, convert and split the images a spec describes.

    :param loaded: the resolved spec; relative data paths start at its ``spec_dir``.
    :param workers: decoding threads (default: the usable CPUs, at most 16).
    """
    spec, spec_dir = loaded.spec, loaded.spec_dir
    data = spec.data
    source = load_source(loaded)
    skipped = list(source.skipped)
    size = (int(data.image_size[0]), int(data.image_size[1])) if data.image_size else None

    sets: dict[str, ImageSet] = {}
    originals: dict[str, list[Path]] = {}
    file_size: tuple[int, int] | None = None
    file_sets = {k: v for k, v in source.splits.items() if v.paths is not None}
    if file_sets:
        checked, kept_files, bad, file_size = _check_files(file_sets, data, size, workers)
        sets.update(checked)
        originals.update(kept_files)
        skipped += bad
    for name, image_set in source.splits.items():
        if image_set.images is not None:
            sets[name] = ImageSet(
                image_set.labels,
                images=convert_images(image_set.images, size, data.channels, data.resize, workers),
            )

    for name, image_set in sets.items():
        if len(image_set) == 0 and len(source.splits[name]) > 0:
            raise UserError(
                [
                    Problem(
                        f"every image of the {'pool' if name == 'all' else name} set "
                        f"was bad ({len(skipped)} skipped); nothing is left"
                    )
                ]
            )
        if len(image_set) == 0 and name in ("all", "train"):
            # Training needs these; other empty sets are carved from them (data.split).
            raise UserError(
                [
                    Problem(
                        f"data source '{data.source}' found no images for the "
                        f"{'pool' if name == 'all' else 'training'} set",
                        key_path="data.params",
                    )
                ]
            )
    shape = _image_shape(sets, data, size or file_size)

    plan = plan_splits({k: v.labels for k, v in sets.items()}, data.split, spec.split_seed)
    out: dict[str, ImageSet | None] = {}
    out_files: dict[str, list[Path] | None] = {}
    for split, where in plan.items():
        if where is None:
            out[split], out_files[split] = None, None
            continue
        origin, index = where
        out[split] = sets[origin].subset(index)
        out_files[split] = [originals[origin][i] for i in index] if origin in originals else None
    assert out["train"] is not None
    if len(out["train"]) == 0:
        raise UserError([Problem("the training set is empty", key_path="data.split")])

    if skipped:
        log.warning(
            "skipped %d bad file%s (data.on_bad_file: skip): %s%s",
            len(skipped),
            "" if len(skipped) == 1 else "s",
            "; ".join(skipped[:5]),
            "; ..." if len(skipped) > 5 else "",
        )
    if data.split.export_to:
        dest = Path(data.split.export_to).expanduser()
        export_splits(
            dest if dest.is_absolute() else spec_dir / dest, source.class_names, out, out_files
        )
    return PreparedData(
        class_names=list(source.class_names),
        train=out["train"],
        validation=out["validation"],
        test=out["test"],
        image_shape=shape,
        skipped=skipped,
    )


CheckedFiles = tuple[dict[str, ImageSet], dict[str, list[Path]], list[str], tuple[int, int] | None]


def _check_files(
    file_sets: dict[str, ImageSet],
    data: DataSpec,
    size: tuple[int, int] | None,
    workers: int | None,
) -> CheckedFiles:
    """Decode every file of every set in one parallel pass, keeping the pixels (cache) or not.

    Returns the checked sets, each kept image's file, what was skipped, and (without cache)
    the images' common size.
    """
    names = list(file_sets)
    paths = [p for n in names for p in file_sets[n].paths or []]
    starts = np.cumsum([0] + [len(file_sets[n]) for n in names])
    channels = data.channels or FILE_CHANNELS_DEFAULT
    if data.cache:
        loaded = load_images(paths, size, channels, data.resize, data.on_bad_file, workers)
        kept, skipped, found_size = loaded.kept, loaded.skipped, None
    else:
        probed = probe_images(paths, size, data.on_bad_file, workers)
        kept, skipped, found_size = probed.kept, probed.skipped, probed.image_size
    sets: dict[str, ImageSet] = {}
    files: dict[str, list[Path]] = {}
    for i, name in enumerate(names):
        lo, hi = starts[i], starts[i + 1]
        rows = np.flatnonzero((kept >= lo) & (kept < hi))
        positions = kept[rows] - lo
        labels = file_sets[name].labels[positions]
        files[name] = [Path(paths[lo + p]) for p in positions]
        if data.cache:
            sets[name] = ImageSet(labels, images=loaded.images[rows])
        else:
            sets[name] = ImageSet(labels, paths=files[name])
    return sets, files, skipped, found_size


def _image_shape(
    sets: dict[str, ImageSet], data: DataSpec, size: tuple[int, int] | None
) -> tuple[int, int, int]:
    """The one (height, width, channels) of every set; ``size`` is that of undecoded files."""
    shapes = {
        tuple(int(d) for d in s.images.shape[1:])
        for s in sets.values()
        if s.images is not None and len(s)
    }
    if any(s.paths is not None and len(s) for s in sets.values()) and size is not None:
        shapes.add((int(size[0]), int(size[1]), data.channels or FILE_CHANNELS_DEFAULT))
    if len(shapes) > 1:
        raise UserError(
            [
                Problem(
                    f"the source's sets have different image shapes {sorted(shapes)}; "
                    "set data.image_size and data.channels",
                    key_path="data",
                )
            ]
        )
    if not shapes:
        raise UserError([Problem("no images to tell the image shape from", key_path="data")])
    (shape,) = shapes
    return shape  # type: ignore[return-value]
