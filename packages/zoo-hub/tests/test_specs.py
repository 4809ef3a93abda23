"""The example specs validate, say in their header what they need, and the offline one
trains at smoke scale (one epoch, 100 digits)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
import zoo

SPECS = sorted((Path(__file__).resolve().parents[1] / "specs").glob("*.yaml"))


def _header(path: Path) -> str:
    return "\n".join(line for line in path.read_text().splitlines() if line.startswith("#"))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_example_specs_validate_and_say_what_they_need(path):
    assert zoo.validate_spec(path) == []
    weights = yaml.safe_load(path.read_text())["model"]["params"]["weights"]
    text = _header(path)
    if weights in (None, "none"):
        assert "Runs offline" in text
    else:
        assert "Needs" in text and "zoo fetch" in text


@pytest.mark.long
def test_the_offline_example_trains_at_smoke_scale(tmp_path):
    [path] = [p for p in SPECS if "Runs offline" in _header(p)]
    result = zoo.train(
        path,
        out=tmp_path,
        overrides=[
            "training.epochs=1",
            "training.batch_size=4",
            "training.verbose=0",
            "data.params.limit=100",
        ],
    )
    assert (result.run_dir / "model.keras").is_file()
