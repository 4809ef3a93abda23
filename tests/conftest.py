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
