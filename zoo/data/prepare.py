"""From a spec's ``data`` section to split, decoded images: :func:`prepare_data`.

1. The data-source plugin is called with a :class:`~zoo.plugin.contracts.DataContext`.
2. File-based sets are decoded once, as ``data.cache`` says (:mod:`zoo.data.decode`: from
   or into the decoded cache on disk, into memory, or checked and dropped). Bad files stop
   the run with one problem each, or are skipped and counted under
   ``data.on_bad_file: skip``, before training starts.
3. In-memory sets are converted to the spec's channels (gray <-> RGB) and size.
4. The sets are split (stratified, seeded: :mod:`zoo.data.split`) without copying the
   pixels, each split gets a fingerprint (:mod:`zoo.data.fingerprint`) and, when
   ``data.split.export_to`` is set, the splits are written to class folders
   (:mod:`zoo.data.export`).

Everything is deterministic under the split seed (``data.split.seed``, else ``seed``).
No TensorFlow here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from zoo.data.decode import FILE_CHANNELS_DEFAULT, DecodedFiles, decode_file_sets
from zoo.data.export import export_splits
from zoo.data.fingerprint import pixels_key, split_fingerprint
from zoo.data.prepared import PreparedData
from zoo.data.split import plan_splits, split_in_place
from zoo.errors import Problem, UserError
from zoo.images import convert_images
from zoo.plugin.contracts import DataContext
from zoo.plugin.guards import check_source
from zoo.plugin.source import ImageSet, SourceData
from zoo.spec.loader import LoadedSpec
from zoo.spec.sections import DataSpec

log = logging.getLogger("zoo.data")


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
    keys: dict[str, str] = {}
    owned: set[str] = set()  # sets whose pixels zoo decoded: the split may reorder them
    file_size: tuple[int, int] | None = None
    decoded: DecodedFiles | None = None
    file_sets = {k: v for k, v in source.splits.items() if v.paths is not None}
    if file_sets:
        decoded = decode_file_sets(file_sets, data, size, workers)
        sets.update(decoded.sets)
        originals.update(decoded.files)
        keys.update(decoded.keys)
        skipped += decoded.skipped
        file_size = decoded.image_size
        owned = set(decoded.sets) if decoded.cache == "memory" else set()
    for name, image_set in source.splits.items():
        if image_set.images is not None:
            images = convert_images(
                np.asarray(image_set.images), size, data.channels, data.resize, workers
            )
            sets[name] = ImageSet(image_set.labels, images=images)
            keys[name] = pixels_key(images)

    _check_not_empty(sets, source, data, skipped)
    shape = _image_shape(sets, data, size or file_size)

    plan = plan_splits({k: v.labels for k, v in sets.items()}, data.split, spec.split_seed)
    out, out_files, fingerprints = _split(sets, originals, keys, owned, plan)
    train = out["train"]
    assert train is not None
    if len(train) == 0:
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
        train=train,
        validation=out["validation"],
        test=out["test"],
        image_shape=shape,
        skipped=skipped,
        fingerprints=fingerprints,
        cache=decoded.cache if decoded is not None else "source",
        cache_entry=decoded.entry if decoded is not None else None,
        cache_built=decoded.built if decoded is not None else False,
    )


SplitPlan = dict[str, tuple[str, np.ndarray] | None]


def _split(
    sets: dict[str, ImageSet],
    originals: dict[str, list[Path]],
    keys: dict[str, str],
    owned: set[str],
    plan: SplitPlan,
) -> tuple[dict[str, ImageSet | None], dict[str, list[Path] | None], dict[str, str]]:
    """The splits, their files and fingerprints. A set zoo decoded into memory is reordered
    in place so each split is a view of it (no copy); a disk-cache set gives rows read on
    use; a source's own arrays are copied (zoo never writes into a plugin's arrays)."""
    out: dict[str, ImageSet | None] = {}
    out_files: dict[str, list[Path] | None] = {}
    fingerprints: dict[str, str] = {}
    by_origin: dict[str, dict[str, np.ndarray]] = {}
    for split, where in plan.items():
        if where is not None:
            by_origin.setdefault(where[0], {})[split] = np.asarray(where[1], dtype=np.int64)
    for origin, rows in by_origin.items():
        image_set = sets[origin]
        images = image_set.images
        views = (
            split_in_place(images, rows)
            if origin in owned and isinstance(images, np.ndarray)
            else None
        )
        for split, index in rows.items():
            labels = image_set.labels[index]
            if views is not None:
                out[split] = ImageSet(labels, images=views[split])
            else:
                out[split] = image_set.subset(index)
            files = originals.get(origin)
            out_files[split] = [files[i] for i in index] if files is not None else None
            fingerprints[split] = split_fingerprint(keys[origin], labels, index)
    for split, where in plan.items():
        if where is None:
            out[split], out_files[split] = None, None
    return out, out_files, fingerprints


def _check_not_empty(
    sets: dict[str, ImageSet], source: SourceData, data: DataSpec, skipped: list[str]
) -> None:
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
