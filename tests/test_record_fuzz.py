"""Property-based tests of every reader of run folders, exports and sweep files.

Whatever sits where a record, a history, a manifest or a sweep file should be (random
bytes, a truncated file, a value of the wrong type at any key, a missing key, a link to a
device, a FIFO, a folder), reading it either gives a valid record or raises one
:class:`~zoo.errors.UserError` of one-line problems, quickly; ``zoo runs`` lists the folder
either way. ``ZOO_FUZZ_PROFILE=dev`` draws new examples; ``pytest -m long`` runs many more.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_record import V1_MANIFEST, V1_METRICS, V1_RUN

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from zoo.cli.main import main  # noqa: E402
from zoo.errors import UserError  # noqa: E402
from zoo.record.folder import list_runs, run_state  # noqa: E402
from zoo.record.history import read_history  # noqa: E402
from zoo.record.manifest import read_manifest  # noqa: E402
from zoo.record.results import read_results  # noqa: E402
from zoo.record.run import read_run_record  # noqa: E402
from zoo.sweep.config import load_sweep  # noqa: E402

PROFILE = os.environ.get("ZOO_FUZZ_PROFILE", "ci")
COMMON: dict[str, Any] = dict(
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
EXAMPLES = {"ci": 60, "dev": 60, "long": 1500}[PROFILE]
FUZZ = settings(max_examples=EXAMPLES, derandomize=PROFILE == "ci", **COMMON)
SECONDS = 3.0  # one read, however hostile the file

HISTORY = (
    "epoch,phase,accuracy,loss,val_accuracy,val_loss\n1,0,0.5,1.0,0.4,1.2\n2,0,0.6,0.8,0.5,1.0\n"
)
SWEEP = """\
spec: spec.yaml
space:
  training.optimizer.learning_rate: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}
objective: {metric: accuracy, split: validation}
trials: 2
"""

# ---- what can stand where a file should ------------------------------------------------------

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.lists(st.integers(-5, 100000), max_size=4),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated_json(draw: Callable, base: dict[str, Any]) -> bytes:
    """The base record with some values replaced, keys deleted, or the text cut or noised."""
    data = copy.deepcopy(base)
    paths = _paths(data)
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(paths))
        parent = data
        try:
            for step in path[:-1]:
                parent = parent[step]
            if draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(VALUES)
        except (KeyError, IndexError, TypeError):
            continue
    text = json.dumps(data, indent=2).encode()
    how = draw(st.sampled_from(["whole", "cut", "noise", "bytes", "empty"]))
    if how == "cut":
        text = text[: draw(st.integers(0, max(0, len(text) - 1)))]
    elif how == "noise":
        at = draw(st.integers(0, max(0, len(text) - 1)))
        text = text[:at] + draw(st.binary(min_size=1, max_size=8)) + text[at:]
    elif how == "bytes":
        text = draw(st.binary(max_size=200))
    elif how == "empty":
        text = b""
    return text


def place(path: Path, content: bytes, kind: str) -> None:
    """Put ``content`` at ``path`` as a regular file, or something else in its place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "file":
        path.write_bytes(content)
    elif kind == "devzero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "dangling":
        path.symlink_to(path.parent / "nowhere")
    elif kind == "loop":
        path.symlink_to(path)


KINDS = st.sampled_from(["file"] * 6 + ["devzero", "fifo", "folder", "dangling", "loop"])


def one_line_or_value(read: Callable[[], Any]) -> Any:
    """``read()`` gives a value, or a UserError whose every problem is one line, quickly."""
    start = time.monotonic()
    try:
        value = read()
    except UserError as exc:
        assert exc.problems, "a UserError without problems"
        for problem in exc.problems:
            assert "\n" not in str(problem), str(problem)
        value = exc
    assert time.monotonic() - start < SECONDS, "the read took too long"
    return value


# ---- the readers -------------------------------------------------------------------------


@FUZZ
@given(content=mutated_json(V1_RUN), kind=KINDS)
def test_run_records(content: bytes, kind: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "runs" / "r"
        place(run / "run.json", content, kind)
        (run / "spec.yaml").write_text("name: x\n")
        got = one_line_or_value(lambda: read_run_record(run))
        if isinstance(got, UserError):
            assert len(got.problems) == 1
        state = run_state(run)  # the listing never raises
        assert (state.status == "unreadable") == isinstance(got, UserError)
        rows = list_runs(Path(tmp) / "runs")
        assert [r["status"] for r in rows] == [state.status]


@FUZZ
@given(content=mutated_json(V1_METRICS), kind=KINDS)
def test_results(content: bytes, kind: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "r"
        (run).mkdir()
        (run / "run.json").write_text(json.dumps(V1_RUN))
        place(run / "metrics.json", content, kind)
        got = one_line_or_value(lambda: read_results(run))
        if not isinstance(got, UserError):
            assert got.weights.kept in ("best", "last")
        rows = list_runs(Path(tmp))  # a damaged metrics.json costs its numbers, not the row
        assert rows[0]["status"] == "finished"


@FUZZ
@given(content=mutated_json(V1_MANIFEST), kind=KINDS)
def test_manifests(content: bytes, kind: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "export"
        place(folder / "manifest.json", content, kind)
        got = one_line_or_value(lambda: read_manifest(folder / "manifest.json"))
        if not isinstance(got, UserError):
            shape = got.input.image_shape
            assert all(0 < side <= 4096 for side in shape[:2])  # never a 30 GB allocation
            assert not Path(got.artifact).is_absolute() and ".." not in Path(got.artifact).parts


@FUZZ
@given(
    content=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(str.encode),
        st.integers(0, len(HISTORY)).map(lambda n: HISTORY[:n].encode()),
    ),
    kind=KINDS,
)
def test_histories(content: bytes, kind: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.csv"
        place(path, content, kind)
        got = one_line_or_value(lambda: read_history(path))
        if not isinstance(got, UserError):
            assert all(len(v) == len(got.get("epoch", v)) for v in got.values())


@FUZZ
@given(
    content=st.one_of(
        st.binary(max_size=300),
        st.integers(0, len(SWEEP)).map(lambda n: SWEEP[:n].encode()),
        st.text(max_size=200).map(lambda t: (SWEEP + t).encode()),
    ),
    kind=st.sampled_from(["file"] * 6 + ["devzero", "fifo", "folder"]),
)
def test_sweep_files(content: bytes, kind: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sweep.yaml"
        place(path, content, kind)
        one_line_or_value(lambda: load_sweep(path))


@settings(max_examples=max(8, EXAMPLES // 6), derandomize=PROFILE == "ci", **COMMON)
@given(content=mutated_json(V1_RUN), kind=KINDS)
def test_commands_on_a_damaged_run_end_in_one_line_and_exit_2(
    content: bytes, kind: str, capsys: Any
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "r"
        place(run / "run.json", content, kind)
        (run / "spec.yaml").write_text("name: x\n")
        for args in (["evaluate", str(run)], ["train", "--resume", str(run)]):
            capsys.readouterr()
            code = main(args)
            err = capsys.readouterr().err
            assert "Traceback" not in err
            if code != 0:  # a sound record of a run without a model is still an error
                assert code == 2 and len(err.strip().splitlines()) == 1, err
