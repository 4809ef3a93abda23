"""Shared fixtures: third-party plugin packages on the path, fresh registries, CLI runs."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from zoo.plugin.manager import build_registry, reset_registry
from zoo.plugin.registry import Registry

TESTS = Path(__file__).parent
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
SPECS = ROOT / "specs"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Output is wrapped to COLUMNS when it is set (pytest-xdist's workers and some shells export
# it); the CLI tests expect piped, unwrapped output unless they set it themselves.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)
# The decoded-image cache of the tests' folders: one folder per test session (and xdist
# worker), never the user's ~/.cache/zoo; subprocesses inherit it.
os.environ["ZOO_CACHE_DIR"] = tempfile.mkdtemp(prefix="zoo-test-cache-")


# The files that take longest on 2 cores (per-file times from a --junitxml run), handed to the
# test workers first: with the longest last, one worker finishes alone while the other idles.
# make test passes --no-loadscope-reorder, so pytest-xdist keeps this order (it would
# otherwise order files by their number of tests).
HEAVIEST_FIRST = (
    "test_backends.py",
    "test_weights_contract.py",
    "test_shipped_specs.py",
    "test_mlflow_serving.py",
    "test_cli_train.py",
    "test_backbones.py",
    "test_architectures.py",
    "test_graph_augmentation.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(HEAVIEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept


@pytest.fixture
def plugin_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Registry]]:
    """Put fixture packages (their .dist-info entry points included) on sys.path and
    return a function building a fresh registry; the default registry is reset after."""

    def add(*names: str) -> Registry:
        for name in names:
            monkeypatch.syspath_prepend(str(FIXTURES / name))
        reset_registry()
        return build_registry()

    yield add
    reset_registry()


def fixture_pythonpath(*names: str) -> dict[str, str]:
    """Environment for a subprocess that sees the given fixture packages."""
    env = dict(os.environ)
    paths = [str(FIXTURES / n) for n in names]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def run_zoo(
    *args: str,
    fixtures: tuple[str, ...] = (),
    cwd: Path | None = None,
    timeout: float = 600,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run the real ``zoo`` command line in a subprocess."""
    env = fixture_pythonpath(*fixtures)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "zoo", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or ROOT,
        timeout=timeout,
    )
