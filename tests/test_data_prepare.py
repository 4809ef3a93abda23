"""Decoding, splitting, preparing and exporting data (no TensorFlow, tiny data)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

import zoo
from zoo.data.export import MARKER, folder_names
from zoo.data.prepare import prepare_data
from zoo.data.split import plan_splits, split_indices
from zoo.errors import UserError
from zoo.images import load_images, probe_images, read_image, resize_image
from zoo.spec.sections import SplitSpec


def load_spec(tmp_path: Path, data: dict, seed: int = 42):
    text = yaml.safe_dump(
        {"name": "t", "seed": seed, "data": data, "model": {"architecture": "mlp"}}
    )
    return zoo.load_spec_text(text, str(tmp_path / "spec.yaml"))


def prepare(tmp_path: Path, data: dict, seed: int = 42, **kw):
    return prepare_data(load_spec(tmp_path, data, seed), **kw)


def write_image(path: Path, size=(12, 10), colour=True, seed=0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (*size, 3) if colour else size, dtype=np.uint8)
    assert cv2.imwrite(str(path), image)
    return path


def make_classes(root: Path, counts: dict[str, int], size=(12, 10)) -> Path:
    for c, (name, n) in enumerate(counts.items()):
        for i in range(n):
            write_image(
                root / name / f"{name}{i + 1}.png", size, colour=i % 2 == 0, seed=c * 100 + i
            )
    return root


# ---------------------------------------------------------------- images


def test_read_image_colour_order_gray_alpha_and_16_bit(tmp_path):
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[..., 0] = 200  # blue in OpenCV's order
    cv2.imwrite(str(tmp_path / "blue.png"), bgr)
    rgb = read_image(tmp_path / "blue.png")
    assert rgb.shape == (4, 6, 3) and rgb[0, 0].tolist() == [0, 0, 200]
    cv2.imwrite(str(tmp_path / "gray.png"), np.full((5, 5), 77, np.uint8))
    assert read_image(tmp_path / "gray.png").shape == (5, 5, 1)
    assert read_image(tmp_path / "gray.png", channels=3)[0, 0].tolist() == [77, 77, 77]
    assert read_image(tmp_path / "blue.png", channels=1).shape == (4, 6, 1)
    cv2.imwrite(str(tmp_path / "alpha.png"), np.full((3, 3, 4), 9, np.uint8))
    assert read_image(tmp_path / "alpha.png").shape == (3, 3, 3)
    cv2.imwrite(str(tmp_path / "deep.png"), np.full((3, 3), 65535, np.uint16))
    deep = read_image(tmp_path / "deep.png")
    assert deep.dtype == np.uint8 and deep.max() == 255


def test_resize_stretch_and_keep_aspect_with_padding():
    image = np.full((10, 20, 3), 255, np.uint8)
    assert resize_image(image, (8, 8), "stretch").min() == 255
    padded = resize_image(image, (8, 8), "keep_aspect")
    assert padded.shape == (8, 8, 3)
    assert padded[4, 4].tolist() == [255, 255, 255]  # the image, centred
    assert padded[0, 4].tolist() == [0, 0, 0] and padded[7, 4].tolist() == [0, 0, 0]  # padding
    gray = resize_image(np.zeros((3, 3, 1), np.uint8), (6, 6))
    assert gray.shape == (6, 6, 1)


@pytest.mark.parametrize(
    "content,reason",
    [
        (b"", "empty file"),
        (b"\x89PNG\r\n\x1a\n this is not really a png", "cannot decode"),
        (b"hello", "cannot decode"),
    ],
)
def test_read_image_names_the_bad_file(tmp_path, content, reason):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    with pytest.raises(UserError) as err:
        read_image(bad)
    assert err.value.problems[0].file == str(bad) and reason in str(err.value)


def test_read_image_missing_file(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_image(tmp_path / "nope.png")


def test_load_images_reports_every_bad_file_at_once_or_skips_them(tmp_path):
    paths = [write_image(tmp_path / f"ok{i}.png", seed=i) for i in range(100)]
    (tmp_path / "bad1.jpg").write_bytes(b"garbage")
    (tmp_path / "bad2.png").write_bytes(b"")
    paths[10:10] = [tmp_path / "bad1.jpg"]
    paths[50:50] = [tmp_path / "bad2.png", tmp_path / "gone.bmp"]
    with pytest.raises(UserError) as err:
        load_images(paths, (8, 8), 3, workers=4)
    assert [p.file for p in err.value.problems] == [
        str(tmp_path / n) for n in ("bad1.jpg", "bad2.png", "gone.bmp")
    ]
    images, kept, skipped = load_images(paths, (8, 8), 3, on_bad_file="skip", workers=4)
    assert images.shape == (100, 8, 8, 3) and len(skipped) == 3
    assert [paths[i].name for i in kept] == [f"ok{i}.png" for i in range(100)]
    serial = load_images(paths, (8, 8), 3, on_bad_file="skip", workers=1)
    assert (serial.images == images).all()  # same result whatever the thread count


def test_load_images_mixed_sizes_need_an_image_size(tmp_path):
    paths = [write_image(tmp_path / f"a{i}.png", (10, 10)) for i in range(3)]
    paths.append(write_image(tmp_path / "odd.png", (7, 9)))
    with pytest.raises(UserError) as err:
        load_images(paths)
    assert len(err.value.problems) == 1
    assert err.value.problems[0].file == str(tmp_path / "odd.png")
    assert "7x9" in str(err.value) and "data.image_size" in str(err.value)
    assert load_images(paths, on_bad_file="skip").images.shape == (3, 10, 10, 3)
    assert load_images(paths, (5, 5)).images.shape == (4, 5, 5, 3)


def test_load_images_without_channels_makes_gray_rgb_when_any_is_colour(tmp_path):
    gray = write_image(tmp_path / "g.png", colour=False)
    colour = write_image(tmp_path / "c.png", colour=True)
    assert load_images([gray]).images.shape[-1] == 1
    assert load_images([gray, colour]).images.shape[-1] == 3


def test_probe_images_reads_headers_only(tmp_path):
    paths = [write_image(tmp_path / f"a{i}.png", (6, 4)) for i in range(3)]
    (tmp_path / "bad.png").write_bytes(b"nope")
    probed = probe_images([*paths, tmp_path / "bad.png"], on_bad_file="skip")
    assert probed.image_size == (6, 4) and probed.channels == 3 and len(probed.skipped) == 1
    with pytest.raises(UserError, match="bad.png"):
        probe_images([*paths, tmp_path / "bad.png"])


# ---------------------------------------------------------------- splits


def test_split_matches_the_notes_train_test_split():
    from sklearn.model_selection import train_test_split

    labels = np.repeat(np.arange(5), 40)
    kept, taken = split_indices(labels, 0.2, stratify=True, seed=124)
    want_kept, want_taken = train_test_split(
        np.arange(200), test_size=0.2, random_state=124, stratify=labels
    )
    assert kept.tolist() == list(want_kept) and taken.tolist() == list(want_taken)


def test_split_fractions_counts_stratification_and_seed():
    labels = np.repeat(np.arange(4), [50, 30, 12, 8])
    plan = plan_splits({"all": labels}, SplitSpec(test=0.25, validation=0.2), seed=7)
    train, val, test = (plan[k][1] for k in ("train", "validation", "test"))
    assert len(test) == 25 and len(val) == 15 and len(train) == 60
    assert len(set(train) | set(val) | set(test)) == 100  # disjoint, complete
    assert np.bincount(labels[test]).tolist() == [12, 8, 3, 2]  # proportions kept
    again = plan_splits({"all": labels}, SplitSpec(test=0.25, validation=0.2), seed=7)
    assert again["test"][1].tolist() == test.tolist()
    other = plan_splits({"all": labels}, SplitSpec(test=0.25, validation=0.2), seed=8)
    assert other["test"][1].tolist() != test.tolist()
    counts = plan_splits({"all": labels}, SplitSpec(test=10, validation=20), seed=7)
    assert [len(counts[k][1]) for k in ("train", "validation", "test")] == [70, 20, 10]
    none = plan_splits({"all": labels}, SplitSpec(test=0, validation=0), seed=7)
    assert none["validation"] is None and none["test"] is None and len(none["train"][1]) == 100


def test_split_of_a_source_with_its_own_train_and_test():
    labels = {"train": np.arange(100) % 10, "test": np.arange(20) % 10}
    plan = plan_splits(labels, SplitSpec(validation=0.2, test=0.5), seed=0)
    assert plan["test"][0] == "test" and len(plan["test"][1]) == 20  # shipped test kept
    assert plan["validation"][0] == "train" and len(plan["validation"][1]) == 20
    assert len(plan["train"][1]) == 80
    assert not set(plan["train"][1]) & set(plan["validation"][1])
    only_train = plan_splits({"train": np.arange(100) % 10}, SplitSpec(validation=0.2, test=0.1), 0)
    assert [len(only_train[k][1]) for k in ("train", "validation", "test")] == [72, 18, 10]


def test_split_too_small_to_stratify_is_explained():
    labels = np.array([0, 0, 0, 0, 1])
    with pytest.raises(UserError) as err:
        split_indices(labels, 0.4, stratify=True, seed=0)
    assert "smallest has 1 image" in str(err.value) and "stratify: false" in str(err.value)
    with pytest.raises(UserError, match="leaves no images for training"):
        split_indices(labels, 5, stratify=False, seed=0)


# ---------------------------------------------------------------- prepare_data


def test_prepare_digits_default_split_and_determinism(tmp_path):
    prepared = prepare(tmp_path, {"source": "digits"})
    assert [len(prepared.train), len(prepared.validation), len(prepared.test)] == [1149, 288, 360]
    assert prepared.image_shape == (8, 8, 1) and prepared.num_classes == 10
    assert prepared.train.images.dtype == np.uint8
    again = prepare(tmp_path, {"source": "digits"})
    assert (again.train.images == prepared.train.images).all()
    assert (again.test.labels == prepared.test.labels).all()
    other = prepare(tmp_path, {"source": "digits"}, seed=1)
    assert (other.test.labels != prepared.test.labels).any()


def test_prepare_converts_in_memory_images_to_the_spec(tmp_path):
    prepared = prepare(
        tmp_path,
        {
            "source": "digits",
            "image_size": [16, 12],
            "channels": 3,
            "split": {"validation": 0, "test": 100},
        },
    )
    assert prepared.image_shape == (16, 12, 3) and prepared.train.images.shape[1:] == (16, 12, 3)
    assert prepared.validation is None and len(prepared.test) == 100


def test_prepare_directory_decodes_up_front_when_cached(tmp_path):
    make_classes(tmp_path / "d", {"a": 10, "b": 10, "c": 10}, size=(12, 10))
    prepared = prepare(
        tmp_path,
        {
            "source": "directory",
            "params": {"path": "d"},
            "split": {"test": 0.2, "validation": 0.25},
        },
        workers=3,
    )
    assert prepared.image_shape == (12, 10, 3)  # file images are RGB unless channels says
    assert [len(s) for s in (prepared.train, prepared.validation, prepared.test)] == [18, 6, 6]
    assert np.bincount(prepared.test.labels).tolist() == [2, 2, 2]
    assert prepared.train.images is not None and prepared.train.paths is None


def test_prepare_directory_keeps_paths_without_cache(tmp_path):
    make_classes(tmp_path / "d", {"a": 5, "b": 5})
    data = {
        "source": "directory",
        "params": {"path": "d"},
        "cache": False,
        "channels": 1,
        "split": {"test": 2, "validation": 2},
    }
    prepared = prepare(tmp_path, data)
    assert prepared.train.paths is not None and prepared.train.images is None
    assert prepared.image_shape == (12, 10, 1)
    cached = prepare(tmp_path, {**data, "cache": True})
    assert [p.name for p in prepared.train.paths] == [
        p.name for p in prepare(tmp_path, data).train.paths
    ]
    assert (cached.train.labels == prepared.train.labels).all()  # same split either way


def test_prepare_resizes_files_keep_aspect(tmp_path):
    make_classes(tmp_path / "d", {"a": 4, "b": 4}, size=(20, 10))
    prepared = prepare(
        tmp_path,
        {
            "source": "directory",
            "params": {"path": "d"},
            "image_size": [8, 8],
            "resize": "keep_aspect",
            "split": {"test": 0, "validation": 0},
        },
    )
    assert prepared.image_shape == (8, 8, 3)
    images = prepared.train.images
    assert (images[:, :, 0] == 0).all() and (images[:, :, 7] == 0).all()


def test_prepare_bad_files_error_names_each_or_skip_counts(tmp_path):
    make_classes(tmp_path / "d", {"a": 6, "b": 6})
    (tmp_path / "d" / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    (tmp_path / "d" / "b" / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    data = {"source": "directory", "params": {"path": "d"}, "split": {"test": 2, "validation": 2}}
    with pytest.raises(UserError) as err:
        prepare(tmp_path, data)
    assert sorted(Path(p.file).name for p in err.value.problems) == ["broken.jpg", "broken.png"]
    prepared = prepare(tmp_path, {**data, "on_bad_file": "skip"})
    assert len(prepared.skipped) == 2
    assert len(prepared.train) + len(prepared.validation) + len(prepared.test) == 12


def test_prepare_mixed_sizes(tmp_path):
    make_classes(tmp_path / "d", {"a": 4, "b": 4}, size=(12, 10))
    write_image(tmp_path / "d" / "a" / "big.png", (30, 30))
    data = {"source": "directory", "params": {"path": "d"}, "split": {"test": 0, "validation": 0}}
    with pytest.raises(UserError, match="big.png.*30x30"):
        prepare(tmp_path, data)
    assert prepare(tmp_path, {**data, "image_size": [12, 10]}).image_shape == (12, 10, 3)
    assert len(prepare(tmp_path, {**data, "on_bad_file": "skip"}).skipped) == 1


def test_prepare_every_file_bad_is_an_error_even_when_skipping(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "d" / name).mkdir(parents=True)
        (tmp_path / "d" / name / "x.png").write_bytes(b"junk")
    with pytest.raises(UserError, match="every image"):
        prepare(tmp_path, {"source": "directory", "params": {"path": "d"}, "on_bad_file": "skip"})


# ---------------------------------------------------------------- export


def test_export_in_memory_split_writes_pngs_and_reads_back(tmp_path):
    data = {
        "source": "digits",
        "params": {"limit": 200},
        "split": {"test": 0.2, "validation": 0.2, "export_to": "exported"},
    }
    prepared = prepare(tmp_path, data)
    root = tmp_path / "exported"
    assert json.loads((root / "label_map.json").read_text())["0"] == "0"
    assert (root / MARKER).is_file()
    for split, image_set in prepared.splits().items():
        counts = {c: len(list((root / split / c).glob("*.png"))) for c in prepared.class_names}
        assert list(counts.values()) == np.bincount(image_set.labels, minlength=10).tolist()
    assert (root / "train" / "3" / "3_1.png").is_file()
    params = {"path": "exported", "label_map": "exported/label_map.json"}
    back = prepare(tmp_path, {"source": "directory", "params": params, "channels": 1})
    assert len(back.train) == len(prepared.train) and len(back.test) == len(prepared.test)
    assert back.image_shape == (8, 8, 1)
    back_pixels = np.asarray(back.test.images)  # rows of the disk cache's memory map
    assert sorted(back_pixels.reshape(len(back.test), -1).sum(1).tolist()) == sorted(
        prepared.test.images.reshape(len(prepared.test), -1).sum(1).tolist()
    )  # lossless PNG
    prepare(tmp_path, data)  # a second export replaces the first


def test_export_copies_files_like_the_note(tmp_path):
    make_classes(tmp_path / "original", {"cat": 5, "dog": 5})
    prepare(
        tmp_path,
        {
            "source": "directory",
            "params": {"path": "original"},
            "split": {"test": 2, "validation": 2, "export_to": "animals"},
        },
    )
    copied = sorted((tmp_path / "animals").rglob("*.png"))
    assert len(copied) == 10
    assert {p.parts[-3] for p in copied} == {"train", "validation", "test"}
    for p in copied:  # same bytes as the original of the same name
        assert p.read_bytes() == (tmp_path / "original" / p.parent.name / p.name).read_bytes()


def test_export_never_overwrites_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("precious")
    with pytest.raises(UserError, match="not empty and was not written by zoo"):
        prepare(
            tmp_path, {"source": "digits", "params": {"limit": 100}, "split": {"export_to": "mine"}}
        )
    assert (tmp_path / "mine" / "thesis.docx").read_text() == "precious"


def test_folder_names_are_safe_and_distinct():
    names = folder_names(["T-shirt/top", "T-shirt:top", "a"])
    assert names == ["T-shirt_top", "T-shirt_top_2", "a"]


# ---------------------------------------------------------------- no TensorFlow


def test_data_preparation_never_imports_tensorflow(tmp_path):
    code = (
        "import sys, yaml, zoo\n"
        "from zoo.data.prepare import prepare_data\n"
        "spec = zoo.load_spec_text(yaml.safe_dump({'data': {'source': 'digits'}, "
        "'model': {'architecture': 'mlp'}}))\n"
        "prepare_data(spec)\n"
        "import zoo.cli.cmd_data\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
