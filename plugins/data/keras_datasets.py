"""keras: the Keras data sets (MNIST, Fashion-MNIST, CIFAR-10/100).

Reads the very files ``keras.datasets.*.load_data()`` downloads, from the same cache
(``~/.keras/datasets``, or ``$KERAS_HOME/datasets``), without importing Keras or
TensorFlow. When a file is missing it is downloaded (a short socket timeout, never a hang);
offline, the error says which file to put where. ``zoo fetch SPEC`` downloads ahead of time.

Each set ships its own train/test split; zoo carves validation out of train, stratified and
seeded with the spec's ``seed``, like ``train_test_split(train_images, ..., stratify=...,
test_size=0.2, random_state=seed)``.

Environment:

- ``KERAS_HOME``: the Keras cache folder (default ``~/.keras``); files live in its ``datasets/``.
- ``ZOO_KERAS_DATASETS_URL``: download every file from this base URL (a mirror) instead.
- ``ZOO_DOWNLOAD_TIMEOUT``: socket timeout in seconds (default 10; zoo's one download helper).
- ``ZOO_OFFLINE=1``: never download; report missing files at once.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import Field, model_validator

import zoo
from zoo import plugin
from zoo.plugin import ImageSet, OfflineError, Problem, ShapeHint, SourceData, UserError

GOOGLE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
TORONTO = "https://www.cs.toronto.edu/~kriz/"
URL_ENV, TIMEOUT_ENV, OFFLINE_ENV = "ZOO_KERAS_DATASETS_URL", "ZOO_DOWNLOAD_TIMEOUT", "ZOO_OFFLINE"

FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
CIFAR100_FINE = (
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus "
    "butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch "
    "crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo "
    "keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse "
    "mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy "
    "porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper "
    "snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television "
    "tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm"
).split()
CIFAR100_COARSE = (
    "aquatic_mammals fish flowers food_containers fruit_and_vegetables "
    "household_electrical_devices household_furniture insects large_carnivores "
    "large_man-made_outdoor_things large_natural_outdoor_scenes large_omnivores_and_herbivores "
    "medium_mammals non-insect_invertebrates people reptiles small_mammals trees vehicles_1 "
    "vehicles_2"
).split()


@dataclass(frozen=True)
class RemoteFile:
    """A file of a data set: where Keras keeps it in its cache, and where it comes from."""

    name: str  # file name at the origin
    base: str  # origin folder URL
    cache_path: str  # path under <keras home>/datasets/
    sha256: str | None = None
    # Other places under datasets/ where Keras itself may have left the same content.
    keras_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetInfo:
    files: tuple[RemoteFile, ...]
    image_size: tuple[int, int]
    channels: int
    classes: list[str]


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        (
            RemoteFile(
                "mnist.npz",
                GOOGLE,
                "mnist.npz",
                "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
            ),
        ),
        (28, 28),
        1,
        [str(d) for d in range(10)],
    ),
    "fashion_mnist": DatasetInfo(
        tuple(
            RemoteFile(f, GOOGLE, f"fashion-mnist/{f}")
            for f in (
                "train-labels-idx1-ubyte.gz",
                "train-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz",
            )
        ),
        (28, 28),
        1,
        FASHION_CLASSES,
    ),
    "cifar10": DatasetInfo(
        (
            RemoteFile(
                "cifar-10-python.tar.gz",
                TORONTO,
                "cifar-10-python.tar.gz",
                "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                (
                    "cifar-10-batches-py-target/cifar-10-batches-py",
                    "cifar-10-batches-py-target_archive",
                ),
            ),
        ),
        (32, 32),
        3,
        CIFAR10_CLASSES,
    ),
    "cifar100": DatasetInfo(
        (
            RemoteFile(
                "cifar-100-python.tar.gz",
                TORONTO,
                "cifar-100-python.tar.gz",
                "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
                ("cifar-100-python-target/cifar-100-python", "cifar-100-python-target_archive"),
            ),
        ),
        (32, 32),
        3,
        CIFAR100_FINE,
    ),
}


class KerasDatasetParams(zoo.PluginParams):
    dataset: Literal["mnist", "fashion_mnist", "cifar10", "cifar100"] = Field(
        description="Which Keras data set: mnist, fashion_mnist (the reference data set), "
        "cifar10, cifar100.",
    )
    label_mode: Literal["fine", "coarse"] = Field(
        "fine",
        description="cifar100 only: 100 fine classes or 20 coarse super-classes.",
    )

    @model_validator(mode="after")
    def _label_mode_is_cifar100(self) -> KerasDatasetParams:
        if self.label_mode != "fine" and self.dataset != "cifar100":
            raise ValueError(
                f"label_mode 'coarse' only applies to cifar100. Received: dataset={self.dataset!r}"
            )
        return self


def keras_home() -> Path:
    """The Keras cache folder, as Keras itself finds it."""
    return Path(os.path.expanduser(os.environ.get("KERAS_HOME") or "~/.keras"))


def datasets_dir() -> Path:
    return keras_home() / "datasets"


def _url(remote: RemoteFile) -> str:
    base = os.environ.get(URL_ENV) or remote.base
    return base.rstrip("/") + "/" + remote.name


def _cached(remote: RemoteFile) -> Path | None:
    """Where the file (or Keras's extracted copy of it) already is, if anywhere."""
    root = datasets_dir()
    for rel in (remote.cache_path, *remote.keras_paths):
        path = root / rel
        if path.is_file() or (path.is_dir() and any(path.iterdir())):
            return path
    return None


def _remote(remote: RemoteFile) -> plugin.RemoteFile:
    """The file as zoo's download helper (``plugin.ensure_files``) takes it."""
    cache = PurePosixPath("datasets") / remote.cache_path
    return plugin.RemoteFile(
        fname=cache.name,
        origin=_url(remote),
        file_hash=remote.sha256,
        cache_subdir=str(cache.parent),
    )


def ensure_files(name: str) -> list[Path]:
    """Every file of data set ``name``, downloading what is missing from the cache."""
    info = DATASETS[name]
    missing = [r for r in info.files if _cached(r) is None]
    if missing:
        try:
            plugin.ensure_files([_remote(r) for r in missing], what=f"the '{name}' data set")
        except OfflineError as exc:
            reason = (
                f"{OFFLINE_ENV} is set, so zoo does not download"
                if plugin.offline()
                else "the download failed"
            )
            raise OfflineError(_offline_problems(name, missing, reason) + exc.problems) from None
    return [_cached(r) for r in info.files]  # type: ignore[misc]


def _offline_problems(name: str, missing: list[RemoteFile], reason: str) -> list[Problem]:
    """The first line of the report; zoo's download helper adds one line per file."""
    home_note = ""
    if not os.environ.get("KERAS_HOME"):
        home_note = " (set KERAS_HOME to use another cache than ~/.keras)"
    published = sorted({r.base for r in missing})
    return [
        Problem(
            f"the '{name}' data set is not in the Keras cache and {reason}. Download "
            f"the file(s) below where the network is reachable (or run 'zoo fetch SPEC' "
            f"there; published at {', '.join(published)}) and place them in "
            f"{datasets_dir()}{home_note}"
        )
    ]


def _corrupt(path: Path, exc: BaseException) -> UserError:
    return UserError(
        [
            Problem(
                f"cannot read this Keras data set file ({type(exc).__name__}: "
                f"{exc}); it is corrupt or incomplete: delete it and run again",
                str(path),
            )
        ]
    )


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """CIFAR's pickles hold NumPy arrays and lists; refuse anything else (no code runs)."""

    ALLOWED = frozenset(
        {
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")


def _unpickle(data: bytes) -> dict[str, Any]:
    raw = _NumpyOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}


def _cifar_members(path: Path, names: list[str]) -> dict[str, bytes]:
    """The named members of a CIFAR archive or of Keras's extracted folder."""
    if path.is_dir():
        return {n: (path / n).read_bytes() for n in names}
    out = {}
    with tarfile.open(path, "r:*") as tar:
        by_base = {m.name.rsplit("/", 1)[-1]: m for m in tar.getmembers() if m.isfile()}
        for n in names:
            member = by_base.get(n)
            if member is None:
                raise KeyError(f"no '{n}' in the archive")
            f = tar.extractfile(member)
            assert f is not None
            out[n] = f.read()
    return out


def _load_mnist(paths: list[Path], params: KerasDatasetParams) -> tuple[Any, ...]:
    import numpy as np

    with np.load(paths[0], allow_pickle=False) as f:
        return f["x_train"], f["y_train"], f["x_test"], f["y_test"], None


def _load_fashion(paths: list[Path], params: KerasDatasetParams) -> tuple[Any, ...]:
    import numpy as np

    arrays = []
    for path, offset in zip(paths, (8, 16, 8, 16), strict=True):
        with gzip.open(path, "rb") as f:
            arrays.append(np.frombuffer(f.read(), np.uint8, offset=offset))
    y_train, x_train, y_test, x_test = arrays
    return (
        x_train.reshape(len(y_train), 28, 28),
        y_train,
        x_test.reshape(len(y_test), 28, 28),
        y_test,
        None,
    )


def _load_cifar10(paths: list[Path], params: KerasDatasetParams) -> tuple[Any, ...]:
    import numpy as np

    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    members = _cifar_members(paths[0], names)
    batches = [_unpickle(members[n]) for n in names]
    x = [
        np.asarray(b["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        for b in batches
    ]
    y = [np.asarray(b["labels"], dtype=np.int64) for b in batches]
    return np.concatenate(x[:5]), np.concatenate(y[:5]), x[5], y[5], None


def _load_cifar100(paths: list[Path], params: KerasDatasetParams) -> tuple[Any, ...]:
    import numpy as np

    members = _cifar_members(paths[0], ["train", "test", "meta"])
    key = f"{params.label_mode}_labels"
    out = []
    for n in ("train", "test"):
        batch = _unpickle(members[n])
        out.append(
            np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        )
        out.append(np.asarray(batch[key], dtype=np.int64))
    meta = _unpickle(members["meta"])
    names = [
        n.decode() if isinstance(n, bytes) else str(n)
        for n in meta.get(f"{params.label_mode}_label_names", [])
    ]
    return (*out, names or None)


LOADERS: dict[str, Callable[[list[Path], KerasDatasetParams], tuple[Any, ...]]] = {
    "mnist": _load_mnist,
    "fashion_mnist": _load_fashion,
    "cifar10": _load_cifar10,
    "cifar100": _load_cifar100,
}


def class_names(params: KerasDatasetParams) -> list[str]:
    if params.dataset == "cifar100" and params.label_mode == "coarse":
        return CIFAR100_COARSE
    return DATASETS[params.dataset].classes


def load_keras_dataset(params: KerasDatasetParams, ctx: zoo.DataContext) -> SourceData:
    import numpy as np

    paths = ensure_files(params.dataset)
    try:
        x_train, y_train, x_test, y_test, names = LOADERS[params.dataset](paths, params)
        x_train, x_test = np.asarray(x_train, np.uint8), np.asarray(x_test, np.uint8)
        y_train = np.asarray(y_train, np.int64).reshape(-1)
        y_test = np.asarray(y_test, np.int64).reshape(-1)
    except UserError:
        raise
    except Exception as exc:  # truncated gzip, bad pickle, missing member, wrong shape...
        raise _corrupt(paths[0], exc) from None
    if x_train.ndim == 3:
        x_train, x_test = x_train[..., None], x_test[..., None]
    return SourceData(
        class_names=list(names or class_names(params)),
        splits={
            "train": ImageSet(y_train, images=x_train),
            "test": ImageSet(y_test, images=x_test),
        },
    )


def keras_shape_hint(params: KerasDatasetParams, ctx: zoo.DataContext) -> ShapeHint:
    info = DATASETS[params.dataset]
    return ShapeHint(
        image_size=ctx.image_size or info.image_size,
        channels=ctx.channels or info.channels,
        num_classes=len(class_names(params)),
    )


def fetch_keras_dataset(params: KerasDatasetParams, ctx: plugin.FetchContext) -> list[Path]:
    """Download the data set's files into the Keras cache now (``zoo fetch``)."""
    return ensure_files(params.dataset)


@zoo.hookimpl
def zoo_register_data_sources(registry: plugin.PluginRegistrar) -> None:
    registry.add_data_source(
        "keras",
        params=KerasDatasetParams,
        factory=load_keras_dataset,
        description="Keras data sets (MNIST, Fashion-MNIST, CIFAR-10/100) from the Keras cache; "
        "downloaded when missing.",
        tags={"download", "builtin"},
        input_kind="image",
        shape_hint=keras_shape_hint,
        fetch=fetch_keras_dataset,
    )
