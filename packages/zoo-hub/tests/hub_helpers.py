"""What zoo-hub's tests share: which entries this package registers, how big they are, and
a smoke-scale digits spec. Nothing here downloads: KerasHub's presets are out of reach, so
tests build from configs with random weights and from preset folders they write.

This folder has no ``conftest.py``: zoo's tests have one, both folders run in one pytest
session (``make test``), and zoo's tests import theirs as the module ``conftest``, which a
second one would replace. What a conftest would hold is here, imported by the tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import zoo

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
for _name in ("COLUMNS", "LINES"):  # the CLI wraps to these; tests read piped output
    os.environ.pop(_name, None)

DISTRIBUTION = "zoo-hub"
# a variant's check builds it twice and saves and loads it: about 16 bytes a parameter
BYTES_PER_PARAM = 16
# test_contract's default run: ViT-B/16 and the smallest DeiT, DINOv2, DINOv3 and HGNetV2
# (test_families builds every other family at its smallest input)
DEFAULT_RUN = {
    "vit_base_patch16_224",
    "deit_tiny_distilled_patch16_224",
    "dinov2_small",
    "dinov3_vit_small",
    "hgnetv2_b4",
}


def hub_entries(kind: str | None = None) -> list[Any]:
    """Every registry entry this distribution registers (new families are picked up)."""
    return [
        e
        for e in zoo.registry()
        if e.provenance.distribution == DISTRIBUTION and (kind is None or e.kind == kind)
    ]


def available_memory() -> int:
    """Bytes of memory available now (Linux), or a large number where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def digits_spec(architecture: str, size: int, **params: Any) -> dict[str, Any]:
    """One epoch on 100 bundled digits at ``size`` px: splits of 64/16/20 images, so batches
    of 4 fill every step (one traced graph per split, no retracing for a short batch)."""
    return {
        "name": f"hub-{architecture}",
        "seed": 3,
        "data": {"source": "digits", "params": {"limit": 100}, "image_size": [size, size]},
        "scaling": {"recipe": "auto"},
        "model": {"architecture": architecture, "params": {"weights": "none", **params}},
        "training": {"epochs": 1, "batch_size": 4, "verbose": 0},
    }


def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No downloads, and an empty KerasHub (kagglehub) cache in ``tmp_path``: its folder."""
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    cache = tmp_path / "kagglehub"
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(cache))
    return cache
