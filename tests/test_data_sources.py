"""The built-in data sources on tiny data made here (or the bundled digits); no downloads."""

from __future__ import annotations

import gzip
import http.server
import io
import json
import pickle
import tarfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import zoo
from zoo.plugin import DataContext, FetchContext, OfflineError, ShapeHint, SourceData, UserError

SOURCES = ("digits", "keras", "directory", "csv", "numpy")


def entry(name):
    return zoo.registry().get(name, "data")


def load(name, params, tmp_path=Path("."), **ctx):
    e = entry(name)
    ctx = DataContext(
        image_size=ctx.pop("image_size", None),
        channels=ctx.pop("channels", None),
        seed=0,
        spec_dir=tmp_path,
        **ctx,
    )
    return e.factory(e.params.model_validate(params), ctx)


def ctx(image_size=None, channels=None, spec_dir=Path(".")) -> DataContext:
    """The context a shape hint gets for a data section with these values."""
    return DataContext(image_size=image_size, channels=channels, seed=0, spec_dir=spec_dir)


def messages(exc_info) -> str:
    return "\n".join(str(p) for p in exc_info.value.problems)


def write_image(path: Path, size=(12, 10), colour=True, value=None, suffix=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(str(path))) % 2**32)
    h, w = size
    image = rng.integers(0, 256, (h, w, 3) if colour else (h, w), dtype=np.uint8)
    if value is not None:
        image[:] = value
    assert cv2.imwrite(str(path), image)
    return path


def make_classes(root: Path, counts: dict[str, int], size=(12, 10)) -> Path:
    """root/<class>/<class><n>.<png|jpg|bmp>, gray and colour mixed."""
    suffixes = (".png", ".jpg", ".bmp")
    for c, (name, n) in enumerate(counts.items()):
        for i in range(n):
            path = root / name / f"{name}{i + 1}{suffixes[(i + c) % 3]}"
            write_image(path, size, colour=i % 2 == 0)
    return root


# ---------------------------------------------------------------- registry entries


@pytest.mark.parametrize("name", SOURCES)
def test_each_source_is_registered_with_a_cheap_shape_hint(name):
    e = entry(name)
    assert e.kind == "data" and e.input_kind == "image"
    assert callable(e.capabilities.shape_hint)
    assert e.description


def test_keras_source_offers_fetch():
    assert callable(entry("keras").capabilities.fetch)


# ---------------------------------------------------------------- digits


def test_digits_are_the_bundled_1797_images_scaled_to_uint8():
    src = load("digits", {})
    assert isinstance(src, SourceData) and not src.is_split
    pool = src.splits["all"]
    assert pool.images.shape == (1797, 8, 8, 1) and pool.images.dtype == np.uint8
    assert pool.images.max() == 255 and pool.images.min() == 0
    assert src.class_names == [str(d) for d in range(10)]
    assert np.bincount(pool.labels).min() >= 170


def test_digits_upscale_and_limit():
    src = load("digits", {"upscale": 3, "limit": 100})
    pool = src.splits["all"]
    assert pool.images.shape == (100, 24, 24, 1)
    assert (pool.images[:, :3, :3] == pool.images[:, :1, :1]).all()  # pixels repeated


def test_digits_shape_hint():
    hint = entry("digits").capabilities.shape_hint
    params = entry("digits").params()
    assert hint(params, ctx()) == ShapeHint(image_size=(8, 8), channels=1, num_classes=10)
    assert hint(params, ctx(image_size=(28, 28), channels=3)).image_size == (28, 28)


def test_digits_rejects_unknown_params():
    with pytest.raises(ValueError):
        entry("digits").params.model_validate({"upscal": 2})


# ---------------------------------------------------------------- directory


def test_directory_of_class_folders(tmp_path):
    make_classes(tmp_path / "animals", {"dog": 4, "cat": 3, "cow": 5})
    (tmp_path / "animals" / "dog" / "notes.txt").write_text("not an image")  # ignored
    (tmp_path / "animals" / ".hidden").mkdir()
    src = load("directory", {"path": "animals"}, tmp_path)
    assert src.class_names == ["cat", "cow", "dog"]
    pool = src.splits["all"]
    assert len(pool) == 12 and pool.images is None
    assert np.bincount(pool.labels).tolist() == [3, 5, 4]
    for path, label in zip(pool.paths, pool.labels, strict=True):
        assert path.parent.name == src.class_names[label]


def test_directory_nested_files_count_and_classes_param_orders(tmp_path):
    make_classes(tmp_path / "d", {"a": 2, "b": 2, "c": 2})
    write_image(tmp_path / "d" / "a" / "more" / "x.png")
    src = load("directory", {"path": "d", "classes": ["c", "a"]}, tmp_path)
    assert src.class_names == ["c", "a"]
    assert np.bincount(src.splits["all"].labels).tolist() == [2, 3]


def test_directory_with_train_validation_test_folders(tmp_path):
    for split, n in (("train", 4), ("val", 2), ("test", 2)):
        make_classes(tmp_path / "ds" / split, {"x": n, "y": n})
    src = load("directory", {"path": "ds"}, tmp_path)
    assert src.is_split and set(src.splits) == {"train", "validation", "test"}
    assert [len(src.splits[s]) for s in ("train", "validation", "test")] == [8, 4, 4]
    assert src.class_names == ["x", "y"]


def test_directory_label_map_formats(tmp_path):
    make_classes(tmp_path / "raw", {"cane": 2, "gatto": 2, "ragno": 2})
    maps = {
        "map.yaml": "cane: dog\ngatto: cat\nragno: spider\n",
        "map.json": json.dumps({"cane": "dog", "gatto": "cat", "ragno": "spider"}),
        "map.csv": "folder,class\ncane,dog\ngatto,cat\nragno,spider\n",
        # a translate.py written for albumentations 1.x, read as data: the {...} part is never executed
        "translate.py": 'translate = {"cane": "dog", "gatto": "cat", "ragno": "spider"}\n',
    }
    for name, text in maps.items():
        (tmp_path / name).write_text(text)
        src = load("directory", {"path": "raw", "label_map": name}, tmp_path)
        assert src.class_names == ["dog", "cat", "spider"], name


def test_directory_label_map_inverse_like_the_note(tmp_path):
    make_classes(tmp_path / "raw", {"cane": 2, "ragno": 2})
    (tmp_path / "t.py").write_text('translate = {"cane": "dog", "spider": "ragno"}')
    with pytest.raises(UserError) as err:
        load("directory", {"path": "raw", "label_map": "t.py"}, tmp_path)
    assert "folder 'ragno' is not in the label map" in messages(err)
    assert "label_map_inverse" in messages(err)
    params = {"path": "raw", "label_map": "t.py", "label_map_inverse": True}
    src = load("directory", params, tmp_path)
    assert src.class_names == ["dog", "spider"]


def test_directory_folder_missing_from_label_map_is_an_error_or_skipped(tmp_path):
    make_classes(tmp_path / "raw", {"cane": 2, "gatto": 2, "mucca": 2, "pecora": 2})
    (tmp_path / "m.yaml").write_text("cane: dog\ngatto: cat\n")
    with pytest.raises(UserError) as err:
        load("directory", {"path": "raw", "label_map": "m.yaml"}, tmp_path)
    assert len(err.value.problems) == 2  # one per folder, all at once
    assert "mucca" in messages(err) and "pecora" in messages(err)
    src = load("directory", {"path": "raw", "label_map": "m.yaml"}, tmp_path, on_bad_file="skip")
    assert src.class_names == ["dog", "cat"] and len(src.skipped) == 2


def test_label_map_is_never_evaluated(tmp_path):
    make_classes(tmp_path / "raw", {"a": 2})
    marker = tmp_path / "pwned"
    code = f'__import__("os").system("touch {marker}")'
    (tmp_path / "evil.py").write_text(f"x = {{a: {code}}}")
    src = load("directory", {"path": "raw", "label_map": "evil.py"}, tmp_path)
    assert src.class_names == [code]  # read as text, never run
    assert not marker.exists()


def test_directory_empty_class_folder(tmp_path):
    make_classes(tmp_path / "d", {"a": 2, "b": 2})
    (tmp_path / "d" / "empty").mkdir()
    (tmp_path / "d" / "only_text").mkdir()
    (tmp_path / "d" / "only_text" / "readme.txt").write_text("x")
    with pytest.raises(UserError) as err:
        load("directory", {"path": "d"}, tmp_path)
    assert len(err.value.problems) == 2
    assert "empty" in messages(err) and "class folder has no images" in messages(err)
    src = load("directory", {"path": "d"}, tmp_path, on_bad_file="skip")
    assert src.class_names == ["a", "b"] and len(src.skipped) == 2


def test_directory_missing_folder_and_no_class_folders(tmp_path):
    with pytest.raises(UserError, match="no such folder"):
        load("directory", {"path": "nope"}, tmp_path)
    write_image(tmp_path / "flat" / "a.png")
    with pytest.raises(UserError, match="no class sub-folders"):
        load("directory", {"path": "flat"}, tmp_path)
    make_classes(tmp_path / "d", {"a": 1})
    with pytest.raises(UserError, match="'zebra'.*does not exist"):
        load("directory", {"path": "d", "classes": ["a", "zebra"]}, tmp_path)


def test_directory_shape_hint_counts_folders_without_opening_images(tmp_path):
    make_classes(tmp_path / "d", {"a": 1, "b": 1, "c": 1})
    hint = entry("directory").capabilities.shape_hint
    params = entry("directory").params(path="d")
    got = hint(params, ctx(image_size=(64, 64), spec_dir=tmp_path))
    assert got == ShapeHint(image_size=(64, 64), channels=3, num_classes=3)
    assert hint(params, ctx(channels=1, spec_dir=tmp_path / "x")) == ShapeHint(
        image_size=None, channels=1, num_classes=None
    )


# ---------------------------------------------------------------- csv


def write_csv(path: Path, rows, header=("file_paths", "target_names")) -> Path:
    lines = [",".join(header)] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_table_like_flow_from_dataframe(tmp_path):
    make_classes(tmp_path / "img", {"cat": 3, "dog": 3})
    rows = [
        (f"img/{p.parent.name}/{p.name}", p.parent.name)
        for p in sorted((tmp_path / "img").rglob("*.*"))
    ]
    write_csv(tmp_path / "table.csv", rows)
    src = load("csv", {"path": "table.csv"}, tmp_path)
    assert src.class_names == ["cat", "dog"]
    assert len(src.splits["all"]) == 6
    assert all(p.is_file() for p in src.splits["all"].paths)


def test_csv_paths_relative_to_the_csv_folder_and_columns_configurable(tmp_path):
    make_classes(tmp_path / "data" / "img", {"1": 2, "10": 2, "2": 2})
    rows = [
        (
            f"img/{p.parent.name}/{p.name}",
            p.parent.name,
            "test" if p.stem.endswith("2") else "train",
        )
        for p in sorted((tmp_path / "data" / "img").rglob("*.*"))
    ]
    write_csv(tmp_path / "data" / "t.csv", rows, header=("file", "label", "split"))
    params = {"path": "data/t.csv", "x_col": "file", "y_col": "label", "split_col": "split"}
    src = load("csv", params, tmp_path)
    assert src.class_names == ["1", "2", "10"]  # integer labels sort as numbers
    assert set(src.splits) == {"train", "test"}


def test_csv_missing_files_each_named_with_their_line(tmp_path):
    make_classes(tmp_path / "img", {"a": 2})
    rows = [
        ("img/a/a1.png", "a"),
        ("img/a/gone.png", "a"),
        ("img/a/a2.jpg", "a"),
        ("missing.jpg", "b"),
    ]
    write_csv(tmp_path / "t.csv", rows)
    with pytest.raises(UserError) as err:
        load("csv", {"path": "t.csv"}, tmp_path)
    problems = err.value.problems
    assert [p.line for p in problems] == [3, 5]
    assert "gone.png" in str(problems[0]) and "missing.jpg" in str(problems[1])
    src = load("csv", {"path": "t.csv"}, tmp_path, on_bad_file="skip")
    assert len(src.splits["all"]) == 2 and len(src.skipped) == 2


def test_csv_missing_column_lists_the_columns(tmp_path):
    write_csv(tmp_path / "t.csv", [("a.png", "a")], header=("path", "label"))
    with pytest.raises(UserError) as err:
        load("csv", {"path": "t.csv"}, tmp_path)
    assert "no column 'file_paths'" in messages(err) and "path, label" in messages(err)


def test_csv_labels_checked_against_classes_and_label_map(tmp_path):
    make_classes(tmp_path / "img", {"a": 2, "b": 2})
    rows = [
        (f"img/{p.parent.name}/{p.name}", p.parent.name)
        for p in sorted((tmp_path / "img").rglob("*.*"))
    ]
    write_csv(tmp_path / "t.csv", rows)
    with pytest.raises(UserError) as err:
        load("csv", {"path": "t.csv", "classes": ["a"]}, tmp_path)
    assert len(err.value.problems) == 2 and "label 'b' is not one of" in messages(err)
    (tmp_path / "m.json").write_text('{"a": "apple"}')
    with pytest.raises(UserError, match="label 'b' is not in the label map"):
        load("csv", {"path": "t.csv", "label_map": "m.json"}, tmp_path)
    (tmp_path / "m.json").write_text('{"a": "apple", "b": "banana"}')
    assert load("csv", {"path": "t.csv", "label_map": "m.json"}, tmp_path).class_names == [
        "apple",
        "banana",
    ]


def test_csv_shape_hint_counts_labels(tmp_path):
    write_csv(tmp_path / "t.csv", [("x.png", "a"), ("y.png", "b"), ("z.png", "a")])
    hint = entry("csv").capabilities.shape_hint
    got = hint(entry("csv").params(path="t.csv"), ctx(spec_dir=tmp_path))
    assert got.num_classes == 2


# ---------------------------------------------------------------- numpy


def test_npz_pool_with_class_names(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (30, 6, 5), dtype=np.uint8)
    y = np.arange(30) % 3
    np.savez(tmp_path / "d.npz", x=x, y=y, class_names=np.array(["r", "g", "b"]))
    src = load("numpy", {"path": "d.npz"}, tmp_path)
    assert src.class_names == ["r", "g", "b"]
    assert src.splits["all"].images.shape == (30, 6, 5, 1)
    hint = entry("numpy").capabilities.shape_hint(
        entry("numpy").params(path="d.npz"), ctx(spec_dir=tmp_path)
    )
    assert hint == ShapeHint(image_size=(6, 5), channels=1, num_classes=3)


def test_npz_keras_style_split_one_hot_and_float_images(tmp_path):
    x = np.random.default_rng(1).random((20, 4, 4, 3)).astype(np.float32)  # 0..1 floats
    y = np.eye(4)[np.arange(20) % 4]
    np.savez(
        tmp_path / "d.npz", images_train=x, labels_train=y, images_test=x[:8], labels_test=y[:8]
    )
    src = load("numpy", {"path": "d.npz", "x_key": "images", "y_key": "labels"}, tmp_path)
    assert set(src.splits) == {"train", "test"} and src.class_names == ["0", "1", "2", "3"]
    train = src.splits["train"]
    assert train.images.dtype == np.uint8 and train.images.max() > 200
    assert train.labels.tolist() == (np.arange(20) % 4).tolist()


def test_npz_string_labels(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 2, 2), np.uint8), y=np.array(["b", "a", "b", "a"]))
    src = load("numpy", {"path": "d.npz"}, tmp_path)
    assert src.class_names == ["a", "b"] and src.splits["all"].labels.tolist() == [1, 0, 1, 0]


@pytest.mark.parametrize(
    "arrays,message",
    [
        ({"x": np.zeros((4, 3, 8, 8), np.uint8), "y": np.zeros(4)}, "channels first"),
        ({"x": np.zeros((4, 2, 2), np.uint8), "y": np.array([0, 1, 2, 7])}, "outside 0..2"),
        ({"x": np.zeros((4, 2, 2), np.uint8), "y": np.zeros(3)}, "3 labels for 4 images"),
        ({"x": np.full((4, 2, 2), 300.0), "y": np.zeros(4)}, "values from 300"),
        ({"images": np.zeros((4, 2, 2))}, "no images found"),
    ],
)
def test_npz_bad_arrays_are_explained(tmp_path, arrays, message):
    np.savez(tmp_path / "d.npz", **arrays)
    params = {"path": "d.npz"}
    if "outside" in message:
        params["class_names"] = ["a", "b", "c"]
    with pytest.raises(UserError, match=message):
        load("numpy", params, tmp_path)


def test_npz_corrupt_file(tmp_path):
    (tmp_path / "d.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UserError) as err:
        load("numpy", {"path": "d.npz"}, tmp_path)
    assert err.value.problems[0].file == str(tmp_path / "d.npz")


# ---------------------------------------------------------------- keras


@pytest.fixture
def keras_cache(tmp_path, monkeypatch):
    """An empty Keras cache; downloads go to a closed port on this machine."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("ZOO_KERAS_DATASETS_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("ZOO_DOWNLOAD_TIMEOUT", "5")
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)
    return tmp_path / "keras_home" / "datasets"


def test_keras_offline_says_what_to_put_where(keras_cache):
    start = time.monotonic()
    with pytest.raises(OfflineError) as err:
        load("keras", {"dataset": "fashion_mnist"})
    assert time.monotonic() - start < 10
    text = messages(err)
    assert "not in the Keras cache" in text and "127.0.0.1:9" in text
    assert str(keras_cache / "fashion-mnist" / "train-images-idx3-ubyte.gz") in text
    assert "https://storage.googleapis.com/tensorflow/tf-keras-datasets/" in text
    assert len(err.value.problems) == 5  # the reason, then one line per file


def test_keras_zoo_offline_never_downloads(keras_cache, monkeypatch):
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(OfflineError, match="ZOO_OFFLINE is set") as err:
        entry("keras").capabilities.fetch(entry("keras").params(dataset="cifar10"), FetchContext())
    assert str(keras_cache / "cifar-10-python.tar.gz") in messages(err)


def _idx(array: np.ndarray, header: int) -> bytes:
    return gzip.compress(b"\0" * header + array.astype(np.uint8).tobytes())


@pytest.fixture
def local_mirror(tmp_path, monkeypatch, keras_cache):
    """A web server on 127.0.0.1 serving tiny fake data set files."""
    root = tmp_path / "mirror"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ZOO_KERAS_DATASETS_URL", f"http://127.0.0.1:{server.server_port}/")
    try:
        yield root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_keras_fashion_mnist_downloads_from_a_mirror(local_mirror, keras_cache):
    rng = np.random.default_rng(0)
    x_train, y_train = rng.integers(0, 256, (30, 28, 28)), np.arange(30) % 10
    x_test, y_test = rng.integers(0, 256, (10, 28, 28)), np.arange(10) % 10
    for name, data in (
        ("train-labels-idx1-ubyte.gz", _idx(y_train, 8)),
        ("train-images-idx3-ubyte.gz", _idx(x_train, 16)),
        ("t10k-labels-idx1-ubyte.gz", _idx(y_test, 8)),
        ("t10k-images-idx3-ubyte.gz", _idx(x_test, 16)),
    ):
        (local_mirror / name).write_bytes(data)
    files = entry("keras").capabilities.fetch(
        entry("keras").params(dataset="fashion_mnist"), FetchContext()
    )
    assert [Path(f).parent for f in files] == [keras_cache / "fashion-mnist"] * 4
    src = load("keras", {"dataset": "fashion_mnist"})
    assert src.class_names[0] == "T-shirt/top" and src.class_names[9] == "Ankle boot"
    assert src.splits["train"].images.shape == (30, 28, 28, 1)
    assert (src.splits["train"].images[..., 0] == x_train).all()
    assert src.splits["test"].labels.tolist() == y_test.tolist()


def test_keras_download_with_wrong_checksum_is_refused(local_mirror, keras_cache):
    buf = io.BytesIO()
    np.savez(
        buf,
        x_train=np.zeros((2, 28, 28)),
        y_train=np.zeros(2),
        x_test=np.zeros((1, 28, 28)),
        y_test=np.zeros(1),
    )
    (local_mirror / "mnist.npz").write_bytes(buf.getvalue())
    with pytest.raises(UserError, match="hash does not match"):
        load("keras", {"dataset": "mnist"})
    assert not (keras_cache / "mnist.npz").exists()


def _cifar_tar(path: Path, members: dict[str, dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, content in members.items():
            data = pickle.dumps({k.encode(): v for k, v in content.items()})
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_keras_cifar10_read_from_the_cached_archive(keras_cache):
    rng = np.random.default_rng(0)
    members = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        members[f"cifar-10-batches-py/{name}"] = {
            "data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
            "labels": [0, 1, 2, 9],
        }
    _cifar_tar(keras_cache / "cifar-10-python.tar.gz", members)
    src = load("keras", {"dataset": "cifar10"})
    assert src.splits["train"].images.shape == (20, 32, 32, 3)
    assert len(src.splits["test"]) == 4 and src.class_names[9] == "truck"
    first = members["cifar-10-batches-py/data_batch_1"]["data"][0].reshape(3, 32, 32)
    assert (src.splits["train"].images[0] == first.transpose(1, 2, 0)).all()


def test_keras_cifar100_coarse_labels_from_keras_extracted_folder(keras_cache):
    folder = keras_cache / "cifar-100-python-target" / "cifar-100-python"
    folder.mkdir(parents=True)
    for name in ("train", "test"):
        content = {
            "data": np.zeros((3, 3072), np.uint8),
            "fine_labels": [0, 5, 99],
            "coarse_labels": [0, 3, 19],
        }
        (folder / name).write_bytes(pickle.dumps({k.encode(): v for k, v in content.items()}))
    names = entry("keras").factory.__globals__
    meta = {
        "fine_label_names": [n.encode() for n in names["CIFAR100_FINE"]],
        "coarse_label_names": [n.encode() for n in names["CIFAR100_COARSE"]],
    }
    (folder / "meta").write_bytes(pickle.dumps({k.encode(): v for k, v in meta.items()}))
    src = load("keras", {"dataset": "cifar100", "label_mode": "coarse"})
    assert len(src.class_names) == 20 and src.splits["train"].labels.tolist() == [0, 3, 19]
    assert src.class_names[19] == "vehicles_2"


def test_keras_refuses_pickles_that_run_code(keras_cache, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    folder = keras_cache / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}))
    with pytest.raises(UserError, match="corrupt or incomplete"):
        load("keras", {"dataset": "cifar10"})
    assert not marker.exists()


def test_keras_params_and_shape_hints():
    params = entry("keras").params
    with pytest.raises(ValueError, match="only applies to cifar100"):
        params(dataset="mnist", label_mode="coarse")
    hint = entry("keras").capabilities.shape_hint
    assert hint(params(dataset="fashion_mnist"), ctx()) == ShapeHint(
        image_size=(28, 28), channels=1, num_classes=10
    )
    assert hint(params(dataset="cifar100", label_mode="coarse"), ctx()).num_classes == 20
    assert hint(params(dataset="cifar10"), ctx(channels=1)).channels == 1
