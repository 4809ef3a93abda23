"""Every spec in specs/ is an example that runs: the ones that work offline train at smoke
scale (1 epoch a phase, tiny data, small images, no pretrained weights), so an example can
never rot; the ones that need a download say so in their header, validate, and fail at
train time with a clear message when downloads are forbidden (ZOO_OFFLINE=1).

All of them run by default (ResNet-50 and EfficientNetV2-B0 take about 35 s each on 2 cores).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import SPECS

import zoo
from zoo.errors import UserError


def _specs() -> list[Path]:
    """Spec files (sweep files, which name a spec and a search space, are not specs)."""
    return [
        p
        for p in sorted(SPECS.glob("*.yaml"))
        if isinstance(yaml.safe_load(p.read_text()), dict)
        and "model" in yaml.safe_load(p.read_text())
    ]


def _raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def needs_download(path: Path) -> bool:
    """Keras data sets are downloaded; class folders and the bundled digits are not."""
    return _raw(path)["data"]["source"] == "keras"


def pretrained(path: Path) -> bool:
    return (_raw(path)["model"].get("params") or {}).get("weights") == "imagenet"


def header(path: Path) -> str:
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def smoke_overrides(path: Path) -> list[str]:
    raw = _raw(path)
    out = ["training.epochs=1", "training.batch_size=8", "training.verbose=0"]
    out += [
        f"training.phases[{i}].epochs=1"
        for i in range(len(raw.get("training", {}).get("phases", [])))
    ]
    if raw["data"]["source"] == "digits":
        out.append("data.params.limit=200")
    elif raw["data"].get("image_size"):
        out.append("data.image_size=[32,32]")  # every shipped architecture builds at 32
    if pretrained(path):
        out.append("model.params.weights=none")
    return out


OFFLINE = [p for p in _specs() if not needs_download(p)]
# The two heaviest at smoke scale (70 s and 53 s on 2 cores): ResNet-50 and EfficientNetV2-B0
# are built, trained and saved by test_architectures and test_backbones in the default run.
LONG_SPECS = {"reference_resnet50.yaml", "folder_efficientnetv2b0.yaml"}
DOWNLOAD = [p for p in _specs() if needs_download(p)]


@pytest.mark.parametrize("path", _specs(), ids=lambda p: p.name)
def test_every_shipped_spec_validates_and_says_what_it_needs(path):
    assert zoo.validate_spec(path) == []
    text = header(path)
    if needs_download(path) or pretrained(path):
        assert "Needs" in text and "zoo fetch" in text, f"{path.name}: say what to fetch"
    else:
        assert "Runs offline" in text, f"{path.name}: header must say it needs nothing"
    for word in ("DIGEST", "the note"):
        assert word not in _raw(path).get("description", ""), path.name


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=pytest.mark.long) if p.name in LONG_SPECS else p for p in OFFLINE],
    ids=lambda p: p.name,
)
def test_offline_specs_train_at_smoke_scale(path, tmp_path):
    result = zoo.train(path, out=tmp_path, overrides=smoke_overrides(path))
    assert result.evaluation is not None and result.evaluation.count > 0
    assert (result.run_dir / "model.keras").is_file()


@pytest.mark.parametrize("path", DOWNLOAD, ids=lambda p: p.name)
def test_download_specs_fail_clearly_offline(path, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-cache"))
    with pytest.raises(UserError) as info:
        zoo.train(path, out=tmp_path / "runs", overrides=smoke_overrides(path))
    assert "ZOO_OFFLINE" in str(info.value)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
