"""Data edge cases (issue 9): every image file is read once, in one class and one split;
links cannot loop or copy images; only regular files are opened; bad files are found before
training, reported or skipped; empty data is a clear message. Tiny images, no TensorFlow."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

import zoo
from zoo.data.prepare import prepare_data
from zoo.errors import UserError
from zoo.images import read_image

COUNTS = {"a": 6, "b": 6, "c": 6}


def prepare(tmp_path: Path, data: dict) -> Any:
    text = yaml.safe_dump({"name": "t", "seed": 1, "data": data, "model": {"architecture": "mlp"}})
    return prepare_data(zoo.load_spec_text(text, str(tmp_path / "spec.yaml")))


def write_image(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.random.default_rng(seed).integers(0, 256, (8, 6, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), image)
    return path


def make_classes(root: Path, counts: dict[str, int] = COUNTS) -> Path:
    for c, (name, n) in enumerate(counts.items()):
        for i in range(n):
            write_image(root / name / f"{name}{i}.png", c * 100 + i)
    return root


def directory(path: str = "d", follow_links: bool = False, **data: Any) -> dict:
    return {
        "source": "directory",
        "params": {"path": path, "follow_links": follow_links},
        "cache": False,
        "split": {"test": 0.25, "validation": 0.25},
        **data,
    }


def all_files(prepared: Any) -> list[str]:
    """Real paths of every file in every split, repeats kept."""
    return [os.path.realpath(p) for s in prepared.splits().values() for p in s.paths]


def assert_each_file_once(prepared: Any, expected: int) -> None:
    files = all_files(prepared)
    repeated = [f for f, n in Counter(files).items() if n > 1]
    assert not repeated and len(files) == expected


def finishes(fn: Callable[[], Any], fifo: Path, seconds: float = 30) -> Any:
    """``fn()``'s result or exception; fails (and unblocks the reader) if it hangs on ``fifo``."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 (handed to the test)
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # a writer that leaves: reader sees EOF
        os.close(fd)
        thread.join(5)
        pytest.fail(f"hung opening the FIFO {fifo}")
    if "error" in out:
        raise out["error"]
    return out.get("value")


# ---------------------------------------------------------------- links


@pytest.mark.parametrize(
    "link,target",
    [
        ("a/up", ".."),  # back to the data folder: the 36 images became 516
        ("b/deep/again", "../.."),
        ("c/here", "."),
    ],
)
def test_link_to_an_ancestor_neither_loops_nor_copies_images(tmp_path, link, target):
    root = make_classes(tmp_path / "d")
    (root / link).parent.mkdir(exist_ok=True)
    (root / link).symlink_to(target)
    prepared = prepare(tmp_path, directory(follow_links=True))
    assert prepared.class_names == ["a", "b", "c"]
    assert_each_file_once(prepared, 18)


def test_link_to_another_class_or_split_never_puts_a_file_in_two(tmp_path):
    root = make_classes(tmp_path / "d")
    (root / "a" / "b_too").symlink_to("../b")  # a class folder: not walked again under a
    prepared = prepare(tmp_path, directory(follow_links=True))
    assert_each_file_once(prepared, 18)
    assert (
        Counter(prepared.class_names[i] for s in prepared.splits().values() for i in s.labels)
        == COUNTS
    )
    (root / "a" / "stolen.png").symlink_to(root / "c" / "c0.png")  # one file, two classes
    with pytest.raises(UserError) as err:
        prepare(tmp_path, directory(follow_links=True))
    assert [Path(p.file).name for p in err.value.problems] == ["c0.png"]
    assert "same file as" in str(err.value) and "stolen.png" in str(err.value)
    skipped = prepare(tmp_path, directory(follow_links=True, on_bad_file="skip"))
    assert_each_file_once(skipped, 18)
    assert len(skipped.skipped) == 1


def test_a_file_linked_into_two_splits_is_reported_not_leaked(tmp_path):
    make_classes(tmp_path / "d" / "train", {"a": 4, "b": 4})
    make_classes(tmp_path / "d" / "test", {"a": 2, "b": 2})
    (tmp_path / "d" / "test" / "a" / "leak.png").symlink_to(tmp_path / "d/train/a/a0.png")
    data = {**directory(), "split": {"validation": 0.25}}
    with pytest.raises(UserError, match="same file as"):
        prepare(tmp_path, data)
    prepared = prepare(tmp_path, {**data, "on_bad_file": "skip"})
    assert_each_file_once(prepared, 12)


def test_top_level_link_to_the_data_folder_is_not_a_class(tmp_path):
    root = make_classes(tmp_path / "d")
    (root / "self").symlink_to(".")
    prepared = prepare(tmp_path, directory())  # follow_links false: the link is ignored
    assert prepared.class_names == ["a", "b", "c"]
    assert_each_file_once(prepared, 18)
    with pytest.raises(UserError, match="holds the data folder itself"):
        prepare(tmp_path, directory(follow_links=True))
    skipped = prepare(tmp_path, directory(follow_links=True, on_bad_file="skip"))
    assert skipped.class_names == ["a", "b", "c"] and len(skipped.skipped) == 1
    named = directory()
    named["params"]["classes"] = ["a", "self"]
    with pytest.raises(UserError, match="is a link to a folder; set data.params.follow_links"):
        prepare(tmp_path, named)


# ---------------------------------------------------------------- files that are not files


@pytest.mark.parametrize("cache", [True, False])
def test_a_fifo_named_like_an_image_is_a_bad_file_and_never_opened(tmp_path, cache):
    make_classes(tmp_path / "d")
    fifo = tmp_path / "d" / "a" / "x.png"
    os.mkfifo(fifo)
    with pytest.raises(UserError) as err:
        finishes(lambda: prepare(tmp_path, directory(cache=cache)), fifo)
    assert err.value.problems[0].file == str(fifo) and "FIFO" in str(err.value)
    prepared = finishes(lambda: prepare(tmp_path, directory(cache=cache, on_bad_file="skip")), fifo)
    assert prepared.skipped == [f"{fifo}: is a FIFO (named pipe), not an image file"]
    with pytest.raises(UserError, match="FIFO"):
        finishes(lambda: read_image(fifo), fifo)


def test_a_broken_link_is_a_bad_file(tmp_path):
    make_classes(tmp_path / "d")
    (tmp_path / "d" / "a" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(UserError, match="gone.png: broken symbolic link"):
        prepare(tmp_path, directory())


# ---------------------------------------------------------------- found before training


def test_a_truncated_file_is_found_before_training_without_cache(tmp_path):
    make_classes(tmp_path / "d")
    whole = (tmp_path / "d" / "b" / "b0.png").read_bytes()
    cut = tmp_path / "d" / "b" / "cut.png"
    cut.write_bytes(whole[: len(whole) // 2])  # the header is intact
    with pytest.raises(UserError) as err:
        prepare(tmp_path, directory())
    assert [p.file for p in err.value.problems] == [str(cut)]
    prepared = prepare(tmp_path, directory(on_bad_file="skip"))
    assert len(prepared.skipped) == 1 and prepared.skipped[0].startswith(str(cut))
    assert str(cut) not in {str(p) for s in prepared.splits().values() for p in s.paths}
    assert_each_file_once(prepared, 18)


# ---------------------------------------------------------------- empty data


@pytest.mark.parametrize(
    "arrays,message",
    [
        (
            {"x": np.zeros((0, 8, 8), np.uint8), "y": np.zeros(0, np.int64)},
            "'x' holds no images (shape (0, 8, 8, 1)): there is nothing to train on",
        ),
        (
            {
                "x_train": np.zeros((0, 8, 8), np.uint8),
                "y_train": np.zeros(0, np.int64),
                "x_test": np.zeros((4, 8, 8), np.uint8),
                "y_test": np.arange(4),
            },
            "'x_train' holds no images",
        ),
        (
            {
                "x_train": np.zeros((4, 8, 8), np.uint8),
                "y_train": np.arange(4),
                "x_test": np.zeros((0, 8, 8), np.uint8),
                "y_test": np.zeros(0, np.int64),
            },
            "'x_test' holds no images (shape (0, 8, 8, 1)); leave it out of the file",
        ),
    ],
)
def test_an_npz_with_no_images_is_a_located_message(tmp_path, arrays, message):
    np.savez(tmp_path / "e.npz", **arrays)
    with pytest.raises(UserError) as err:
        prepare(tmp_path, {"source": "numpy", "params": {"path": "e.npz"}})
    assert len(err.value.problems) == 1
    assert err.value.problems[0].file == str(tmp_path / "e.npz")
    assert message in err.value.problems[0].message


def test_a_source_with_no_training_images_is_a_clear_message(tmp_path):
    make_classes(tmp_path / "d" / "test", {"a": 2, "b": 2})
    for name in ("a", "b"):
        (tmp_path / "d" / "train" / name).mkdir(parents=True)
    data = {"source": "directory", "params": {"path": "d"}, "on_bad_file": "skip"}
    with pytest.raises(UserError) as err:
        prepare(tmp_path, data)
    assert str(err.value) == (
        "data.params: data source 'directory' found no images for the training set"
    )
