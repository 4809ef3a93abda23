"""The decoded cache on disk and data fingerprints: a second run does not decode again, a
changed file is never served stale, a damaged entry is rebuilt, a killed builder leaves
nothing trusted, two builders never tear an entry, and the split holds the pixels once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import zoo
import zoo.images
from zoo.cli.main import main
from zoo.data.disk_cache import clear, entries
from zoo.data.prepare import prepare_data
from zoo.errors import UserError
from zoo.plugin.source import Rows
from zoo.spec.loader import load_spec_text

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("ZOO_CACHE_DIR", str(root))
    return root


def make_folder(root: Path, per_class: int = 12, size: int = 10) -> Path:
    rng = np.random.default_rng(0)
    for c in ("cat", "dog", "owl"):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = rng.integers(0, 256, (size, size + 2, 3), dtype=np.uint8)
            assert cv2.imwrite(str(root / c / f"{i}.png"), image)
    return root


def spec_text(folder: Path, cache: str = "auto", **data) -> str:
    spec = {
        "data": {
            "source": "directory",
            "params": {"path": str(folder)},
            "image_size": [8, 8],
            "cache": cache,
            **data,
        },
        "model": {"architecture": "mlp", "params": {"hidden_units": [8]}},
        "training": {"epochs": 1, "verbose": 0},
    }
    return yaml.safe_dump(spec)


def prepare(folder: Path, cache: str = "auto", **data):
    return prepare_data(load_spec_text(spec_text(folder, cache, **data), "<spec>"))


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """Every file decoded (zoo.images.read_image is what each decode goes through)."""
    seen: list[str] = []
    real = zoo.images.read_image

    def counting(path, *args, **kwargs):
        seen.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(zoo.images, "read_image", counting)
    return seen


def pixels(prepared) -> dict[str, np.ndarray]:
    return {k: np.asarray(v.images) for k, v in prepared.splits().items()}


def test_a_second_run_reads_the_cache_instead_of_decoding(tmp_path, cache_dir, decodes):
    folder = make_folder(tmp_path / "photos")
    first = prepare(folder)
    assert first.cache == "disk" and first.cache_built and len(decodes) == 36
    decodes.clear()
    second = prepare(folder)
    assert second.cache == "disk" and not second.cache_built and decodes == []
    assert second.fingerprints == first.fingerprints
    for split, images in pixels(first).items():
        np.testing.assert_array_equal(pixels(second)[split], images)
    memory = prepare(folder, cache="memory")  # the very pixels decoding into memory gives
    for split, images in pixels(memory).items():
        np.testing.assert_array_equal(pixels(first)[split], images)
    assert memory.fingerprints == first.fingerprints  # the same images, however cached


def test_a_changed_file_is_never_served_stale(tmp_path, cache_dir, decodes):
    folder = make_folder(tmp_path / "photos")
    before = prepare(folder)
    victim = folder / "dog" / "3.png"
    assert cv2.imwrite(str(victim), np.full((10, 12, 3), 7, dtype=np.uint8))
    os.utime(victim, ns=(1, 1))  # a new modification time, whatever the clock's resolution
    decodes.clear()
    after = prepare(folder)
    assert after.cache_built and len(decodes) == 36  # a new entry, decoded afresh
    assert after.fingerprints != before.fingerprints
    images = np.concatenate(list(pixels(after).values()))
    assert (images == 7).all(axis=(1, 2, 3)).sum() == 1  # the new pixels are there
    assert len(entries()) == 2


def test_a_damaged_entry_is_found_by_checksum_and_rebuilt(tmp_path, cache_dir, capfd):
    folder = make_folder(tmp_path / "photos")
    good = pixels(prepare(folder))
    (entry,) = cache_dir.glob("[0-9a-f]*[0-9a-f]")
    data = bytearray((entry / "images.npy").read_bytes())
    data[-40] ^= 0xFF  # one flipped byte in the pixels
    (entry / "images.npy").write_bytes(bytes(data))
    again = prepare(folder)
    assert again.cache_built
    err = capfd.readouterr().err
    assert err.count("is damaged (a checksum of images.npy does not match); rebuilding") == 1
    for split, images in pixels(again).items():
        np.testing.assert_array_equal(good[split], images)


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=300,
    )


PREPARE = """
import json
from zoo.data.prepare import prepare_data
from zoo.spec.loader import load_spec_text
prepared = prepare_data(load_spec_text({text!r}, "<spec>"))
print(json.dumps({{"built": prepared.cache_built, "fp": prepared.fingerprints,
                  "sum": int(sum(int(v.images[:].sum()) for v in prepared.splits().values()))}}))
"""


def test_a_killed_builder_leaves_nothing_a_reader_trusts(tmp_path, cache_dir):
    folder = make_folder(tmp_path / "photos")
    code = PREPARE.format(text=spec_text(folder))
    killed = _python(code, {"ZOO_CACHE_DIR": str(cache_dir), "ZOO_FAULT": "during_cache"})
    assert killed.returncode == -9, killed.stderr[-1000:]
    assert [e for e in entries() if e["whole"]] == []  # only a hidden staging folder is left
    done = _python(code, {"ZOO_CACHE_DIR": str(cache_dir)})
    assert done.returncode == 0, done.stderr[-1000:]
    result = json.loads(done.stdout)
    assert result["built"] and result["sum"] == int(
        sum(int(v.sum()) for v in pixels(prepare(folder, cache="memory")).values())
    )


def test_two_processes_building_one_entry_never_tear_it(tmp_path, cache_dir):
    folder = make_folder(tmp_path / "photos", per_class=40, size=24)
    code = PREPARE.format(text=spec_text(folder))
    env = {**os.environ, "ZOO_CACHE_DIR": str(cache_dir)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    results = [json.loads(o[0]) for o in outs]
    assert sorted(r["built"] for r in results) == [False, True]  # one built, one read it
    assert results[0]["fp"] == results[1]["fp"] and results[0]["sum"] == results[1]["sum"]
    assert len(entries()) == 1


def test_an_unwritable_cache_folder_is_one_line(tmp_path, monkeypatch, capfd):
    folder = make_folder(tmp_path / "photos")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ZOO_CACHE_DIR", str(blocker / "cache"))
    prepared = prepare(folder)  # auto: goes on in memory, says why once
    assert prepared.cache == "memory"
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "keeping the images in memory instead" in err[0]
    with pytest.raises(UserError, match="the decoded cache on disk is not available"):
        prepare(folder, cache="disk")  # asked for the disk: stops, in one line


def test_a_full_disk_while_building_falls_back_to_memory(tmp_path, cache_dir, monkeypatch, capfd):
    folder = make_folder(tmp_path / "photos")
    monkeypatch.setenv("ZOO_FAULT", "during_cache:enospc")
    prepared = prepare(folder)
    assert prepared.cache == "memory"
    assert "no space left in" in capfd.readouterr().err
    assert entries() == [] and not any(cache_dir.glob(".*building*"))


def test_memory_split_holds_the_pixels_once(tmp_path, cache_dir):
    folder = make_folder(tmp_path / "photos")
    prepared = prepare(folder, cache="memory")
    train, validation, test = (np.asarray(s.images) for s in prepared.splits().values())
    base = train.base
    assert base is not None and validation.base is base and test.base is base  # views of one
    assert len(train) + len(validation) + len(test) == len(base)


def test_disk_splits_are_rows_of_one_memory_map(tmp_path, cache_dir):
    prepared = prepare(make_folder(tmp_path / "photos"))
    bases = {id(s.images.base) for s in prepared.splits().values()}
    assert all(isinstance(s.images, Rows) for s in prepared.splits().values())
    assert len(bases) == 1


@settings(max_examples=60, deadline=None)
@given(
    index=st.lists(st.integers(0, 19), min_size=1, max_size=20),
    picks=st.lists(st.integers(-5, 30), max_size=10),
    start=st.integers(-25, 25),
    stop=st.integers(-25, 25),
)
def test_rows_read_what_indexing_the_copy_reads(index, picks, start, stop):
    base = np.arange(20 * 2 * 2 * 1, dtype=np.uint8).reshape(20, 2, 2, 1)
    rows, copy = Rows(base, np.array(index)), base[np.array(index)]
    assert rows.shape == copy.shape and len(rows) == len(copy)
    np.testing.assert_array_equal(np.asarray(rows), copy)
    np.testing.assert_array_equal(rows[start:stop], copy[start:stop])
    valid = [p for p in picks if -len(copy) <= p < len(copy)]
    if valid:
        np.testing.assert_array_equal(rows[np.array(valid)], copy[np.array(valid)])
        np.testing.assert_array_equal(rows[valid[0]], copy[valid[0]])
        np.testing.assert_array_equal(
            rows[np.array(valid), 1, :, 0], copy[np.array(valid), 1, :, 0]
        )


def test_rows_of_a_memory_map_read_what_the_array_holds(tmp_path):
    """Rows of an ``.npy`` map (header before row 0, rows spanning pages) are hinted to the
    kernel before the gather; the hint must never change what is read."""
    path = tmp_path / "images.npy"
    written = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(40, 37, 61, 3))
    written[:] = np.random.default_rng(0).integers(0, 256, written.shape, dtype=np.uint8)
    expected = np.array(written)
    del written
    base = np.load(path, mmap_mode="r")
    index = np.random.default_rng(1).permutation(40)[:30]
    rows = Rows(base, index)
    np.testing.assert_array_equal(np.asarray(rows), expected[index])
    picks = np.array([29, 0, 7, 7, 15])
    np.testing.assert_array_equal(rows[picks], expected[index[picks]])


def test_zoo_cache_ls_and_clear(tmp_path, cache_dir, capsys):
    prepare(make_folder(tmp_path / "photos"))
    assert main(["cache", "ls"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "photos") in out and "1 entries" in out
    (entry,) = entries()
    assert main(["cache", "clear", entry["key"][:10], "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] == [entry["key"]]
    assert entries() == []
    assert main(["cache", "clear", "feedface"]) == 2
    assert "no cache entry 'feedface'" in capsys.readouterr().err
    assert clear() == []


def test_runs_record_the_data_and_resume_refuses_changed_data(tmp_path, cache_dir, capsys):
    folder = make_folder(tmp_path / "photos")
    text = spec_text(folder)
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    out = tmp_path / "runs"
    first = zoo.train(spec, out=out)
    second = zoo.train(spec, out=out, overrides=["seed=3", "data.split.seed=42"])
    assert first.record.data.splits["test"] == second.record.data.splits["test"]
    assert first.record.data.cache == "disk"
    other = zoo.train(spec, out=out, overrides=["data.split.seed=7"])
    assert other.record.data.splits["test"] != first.record.data.splits["test"]
    assert main(["runs", "--compare", str(first.run_dir), str(second.run_dir)]) == 0
    assert "TEST DATA" not in capsys.readouterr().out
    assert main(["runs", "--compare", str(first.run_dir), str(other.run_dir)]) == 0
    table = capsys.readouterr().out
    assert "TEST DATA" in table and "were not tested on the same images" in table
    # a run interrupted, its folder then changed: resuming would mix two data sets
    record = json.loads((first.run_dir / "run.json").read_text())
    record["status"] = "interrupted"
    (first.run_dir / "run.json").write_text(json.dumps(record))
    (folder / "owl" / "0.png").unlink()
    with pytest.raises(UserError, match="the data changed since the run started"):
        zoo.train(resume=first.run_dir)
