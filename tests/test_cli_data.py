"""`zoo data SPEC`: split sizes, class counts, the sample grid; errors as exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from zoo.cli.main import main


def write_spec(tmp_path: Path, data: dict, name: str = "digits_mlp") -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        yaml.safe_dump({"name": name, "seed": 124, "data": data, "model": {"architecture": "mlp"}})
    )
    return spec


def test_zoo_data_prints_splits_and_class_counts_and_saves_a_grid(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    spec = write_spec(tmp_path, {"source": "digits"})
    assert main(["data", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "source 'digits', 1797 images of 8x8x1, 10 classes" in out
    lines = out.splitlines()
    assert any(line.split()[:2] == ["train", "1149"] for line in lines)
    assert any(line.split()[:2] == ["validation", "288"] for line in lines)
    assert any(line.split()[:2] == ["test", "360"] for line in lines)
    assert any(line.split() == ["CLASS", "TRAIN", "VALIDATION", "TEST"] for line in lines)
    grid = tmp_path / "digits_mlp-samples.png"
    assert f"sample grid: {grid.name}" in out
    image = cv2.imread(str(grid))
    assert image is not None and image.shape[0] > 100 and image.shape[1] > 100
    assert not list(tmp_path.glob(".*.tmp*"))  # written atomically, nothing left over


def test_zoo_data_json(tmp_path, capsys):
    spec = write_spec(tmp_path, {"source": "digits", "split": {"test": 100, "validation": 0.1}})
    out_png = tmp_path / "out" / "grid.png"
    assert (
        main(
            [
                "data",
                str(spec),
                "--format",
                "json",
                "--out",
                str(out_png),
                "--set",
                "data.channels=3",
                "--samples",
                "4",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["image_shape"] == [8, 8, 3] and report["num_classes"] == 10
    sizes = {k: v["size"] for k, v in report["splits"].items()}
    assert sizes == {"train": 1527, "validation": 170, "test": 100}
    assert sum(report["splits"]["test"]["class_counts"].values()) == 100
    assert report["grid"] == str(out_png) and out_png.is_file()
    assert report["skipped"] == []


def test_zoo_data_no_grid(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    spec = write_spec(tmp_path, {"source": "digits", "params": {"limit": 100}})
    assert main(["data", str(spec), "--no-grid"]) == 0
    assert "sample grid" not in capsys.readouterr().out
    assert not list(tmp_path.glob("*.png"))


def _folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / "img" / cls).mkdir(parents=True)
        for i in range(6):
            cv2.imwrite(
                str(tmp_path / "img" / cls / f"{cls}{i + 1}.png"),
                rng.integers(0, 256, (9, 9, 3), dtype=np.uint8),
            )
    (tmp_path / "img" / "dog" / "dog7.png").write_bytes(b"not a png")


def test_zoo_data_bad_file_exits_2_naming_the_file(tmp_path, capsys):
    _folder(tmp_path)
    spec = write_spec(tmp_path, {"source": "directory", "params": {"path": "img"}})
    assert main(["data", str(spec), "--no-grid"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "img" / "dog" / "dog7.png") in err and "cannot decode" in err
    assert "Traceback" not in err


def test_zoo_data_skip_mode_lists_what_was_skipped(tmp_path, capsys):
    _folder(tmp_path)
    spec = write_spec(
        tmp_path,
        {
            "source": "directory",
            "params": {"path": "img"},
            "on_bad_file": "skip",
            "cache": False,
            "split": {"test": 2, "validation": 2},
        },
    )
    out_png = tmp_path / "grid.png"
    assert main(["data", str(spec), "--out", str(out_png)]) == 0
    out = capsys.readouterr().out
    assert "skipped 1 bad file(s)" in out and "dog7.png" in out
    assert "12 images of 9x9x3" in out and "(decoded as read)" in out
    assert out_png.is_file()  # samples decoded from their files


def test_zoo_data_keras_offline_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_cache"))
    monkeypatch.setenv("ZOO_KERAS_DATASETS_URL", "http://127.0.0.1:9/")
    spec = write_spec(tmp_path, {"source": "keras", "params": {"dataset": "mnist"}})
    assert main(["data", str(spec), "--no-grid"]) == 2
    err = capsys.readouterr().err
    assert "not in the Keras cache" in err
    assert str(tmp_path / "empty_cache" / "datasets" / "mnist.npz") in err


@pytest.mark.parametrize("args", [["data"], ["data", "nope.yaml"]])
def test_zoo_data_usage_errors(args, capsys):
    if len(args) == 1:
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2
    else:
        assert main(args) == 2
        assert "no such spec file" in capsys.readouterr().err
