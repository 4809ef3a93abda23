"""Run integrity, spec side: hostile YAML, absurd numbers, paths that escape or clobber the
run folder, and ``--set`` paths are all refused at validate time with one located line."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from conftest import run_zoo

from zoo.errors import UserError
from zoo.plugin.manager import default_registry
from zoo.spec import load_spec_text
from zoo.spec.yaml_source import MAX_BYTES, MAX_DEPTH, MAX_NODES

MINIMAL = """\
name: mini
data: {source: digits}
model:
  architecture: mlp
  params: {hidden_units: [64, 128]}
"""


def problems_of(text: str, overrides: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(UserError) as err:
        load_spec_text(text, "spec.yaml", overrides)
    lines = [str(p) for p in err.value.problems]
    assert all("\n" not in line for line in lines)
    return lines


def one_problem(text: str, overrides: tuple[str, ...] = ()) -> str:
    [line] = problems_of(text, overrides)
    return line


def cpu_seconds() -> float:
    """CPU time of this process: other work on a busy machine does not count."""
    default_registry()  # plugins loaded before the clock starts
    return time.process_time()


def billion_laughs() -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return MINIMAL + "\n".join(lines) + "\n"


def nested(depth: int, kind: str) -> str:
    if kind == "list":
        return MINIMAL + "x: " + "[" * depth + "]" * depth + "\n"
    return MINIMAL + "x: " + "{a: " * depth + "1" + "}" * depth + "\n"


# -- hostile YAML ------------------------------------------------------------------------------


def test_hostile_files_exit_2_with_one_located_line_each(tmp_path: Path):
    files = {
        "laughs.yaml": billion_laughs(),
        "keys.yaml": MINIMAL + "".join(f"k{i}: {i}\n" for i in range(200_000)),
        "nul.yaml": MINIMAL.replace("name: mini", "name: mi\x00ni"),
        "deep_list.yaml": nested(3000, "list"),
        "deep_map.yaml": nested(3000, "map"),
        "cycle.yaml": MINIMAL + "x: &x [*x]\n",
        "digits.yaml": MINIMAL + "seed: " + "9" * 5000 + "\n",
        "date.yaml": MINIMAL + "description: 2001-13-45\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    start = time.perf_counter()
    result = run_zoo("validate", *sorted(files), cwd=tmp_path, timeout=120)
    took = time.perf_counter() - start
    assert result.returncode == 2, result.stderr
    out = result.stdout + result.stderr
    assert "Traceback" not in out
    lines = [line for line in out.splitlines() if line.strip()]
    assert sorted(line.split(":")[0] for line in lines) == sorted(files), out
    expected = {
        "laughs.yaml:10:": f"more than {MAX_NODES} keys and values",
        "keys.yaml: ": "larger than 1024 KiB",
        "nul.yaml:1:9: ": "character #x0000 is not allowed",
        "deep_list.yaml:6:": f"nested more than {MAX_DEPTH} levels deep",
        "deep_map.yaml:6:": f"nested more than {MAX_DEPTH} levels deep",
        "cycle.yaml:6:8: ": "alias '*x' refers to a value that contains it",
        "digits.yaml:6:7: ": "number longer than 100 characters",
        "date.yaml:6:14: ": "not valid YAML: cannot read timestamp value",
    }
    for prefix, message in expected.items():
        assert any(line.startswith(prefix) and message in line for line in lines), (prefix, out)
    assert took < 60


def test_billion_laughs_is_refused_in_well_under_two_seconds():
    start = cpu_seconds()
    line = one_problem(billion_laughs())
    assert cpu_seconds() - start < 2
    assert line.startswith("spec.yaml:10:")
    assert f"more than {MAX_NODES} keys and values (aliases expanded)" in line


def test_merge_key_bomb_is_refused():
    lines = ["m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}"]
    lines += [f"m{i}: &m{i} [" + ", ".join([f"*m{i - 1}"] * 8) + "]" for i in range(1, 8)]
    lines += ["bomb: {<<: *m7}"]
    start = cpu_seconds()
    line = one_problem(MINIMAL + "\n".join(lines) + "\n")
    assert cpu_seconds() - start < 2
    assert "keys and values (aliases expanded)" in line


def test_depth_counts_through_aliases():
    chain = [f"d0: &d0 {'[' * 80}1{']' * 80}", f"d1: &d1 {'[' * 30}*d0{']' * 30}"]
    line = one_problem(MINIMAL + "\n".join(chain) + "\n")
    assert (
        line.startswith("spec.yaml:7:") and f"nests the spec more than {MAX_DEPTH} levels" in line
    )


def test_shared_aliases_are_fine_and_duplicates_found_once():
    text = MINIMAL + "training:\n  optimizer: &opt {name: sgd, name: adam}\nx: [*opt, *opt, *opt]\n"
    assert problems_of(text) == ["spec.yaml:7:31: duplicate key 'name' (first set on line 7)"]
    ok = MINIMAL.replace("[64, 128]", "&units [64, 128]") + "description: fine\n"
    assert load_spec_text(ok, "spec.yaml").spec.model.params.hidden_units == [64, 128]


def test_many_keys_take_linear_time_and_are_reported_in_part():
    text = MINIMAL + "".join(f"k{i:x}: 0\n" for i in range(20_000))
    start = cpu_seconds()
    lines = problems_of(text)
    assert cpu_seconds() - start < 10
    assert len(lines) == 51
    assert lines[0].startswith("spec.yaml:6:1: k0: unknown key 'k0'")
    assert lines[-1].startswith("spec.yaml: ... and about 19950 more problems not shown")


def test_size_limit_counts_bytes():
    text = MINIMAL + "description: '" + "é" * (MAX_BYTES // 2) + "'\n"
    assert "spec is larger than 1024 KiB" in one_problem(text)


def test_control_characters_and_weird_keys_stay_on_one_line():
    assert one_problem("name: a\x07b\n").startswith(
        "spec.yaml:1:8: not valid YAML: character #x0007"
    )
    line = one_problem(MINIMAL + '"a\\nb": 1\n')
    assert line.startswith("spec.yaml:6:1: a\\nb: unknown key 'a\\nb'")
    line = one_problem(MINIMAL + "description: " + "x" * 5000 + "\nseed: " + "y" * 5000 + "\n")
    assert len(line) < 300 and line.startswith(
        "spec.yaml:7:7: seed: Input should be a valid integer"
    )


# -- numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, where",
    [
        (
            "training: {optimizer: {learning_rate: .inf}}",
            "training.optimizer.learning_rate: Input should be a finite",
        ),
        (
            "training: {optimizer: {learning_rate: 1e400}}",
            "training.optimizer.learning_rate: Input should be a finite",
        ),
        (
            "training: {optimizer: {learning_rate: 1.0e400}}",
            "training.optimizer.learning_rate: Input should be a finite",
        ),
        (
            "training: {optimizer: {learning_rate: .nan}}",
            "training.optimizer.learning_rate: Input should be a finite",
        ),
        (
            "training: {optimizer: {learning_rate: 1000}}",
            "training.optimizer.learning_rate: Input should be less than",
        ),
        (
            "training: {loss: {label_smoothing: .nan}}",
            "training.loss.label_smoothing: Input should be a finite",
        ),
        (
            "training: {schedule: {name: cosine, alpha: -.inf}}",
            "training.schedule.alpha: Input should be a finite",
        ),
        (
            "callbacks: [{type: early_stopping, min_delta: .inf}]",
            "callbacks[0].min_delta: Input should be a finite",
        ),
        ("seed: 4294967296", "seed: Input should be less than or equal to 4294967295"),
        ("seed: -1", "seed: Input should be greater than or equal to 0"),
        ("seed: 42.0", "seed: Input should be a valid integer"),
        ("training: {batch_size: 1e20}", "training.batch_size: Input should be a valid integer"),
        ("training: {batch_size: 1.0e20}", "training.batch_size: Input should be a valid integer"),
        (
            "training: {batch_size: 65537}",
            "training.batch_size: Input should be less than or equal to 65536",
        ),
        (
            "training: {epochs: 100001}",
            "training.epochs: Input should be less than or equal to 100000",
        ),
        ("training: {epochs: true}", "training.epochs: Input should be a valid integer"),
        (
            "training: {shuffle_buffer: 99999999999999999999}",
            "training.shuffle_buffer: Input should be less",
        ),
        (
            "training: {phases: [{epochs: 1, learning_rate: 0.1, unfreeze: -3}]}",
            "training.phases[0].unfreeze",
        ),
        (
            "callbacks: [{type: early_stopping, patience: 1e9}]",
            "callbacks[0].patience: Input should be a valid integer",
        ),
        ("data: {source: digits, split: {test: .inf}}", "data.split.test: a count of at most"),
        ("data: {source: digits, split: {test: 1e12}}", "data.split.test: expected a fraction"),
        (
            "data: {source: digits, image_size: [8, 100000]}",
            "data.image_size[1]: Input should be less than",
        ),
        (
            "model: {architecture: mlp, num_classes: 1.0e9}",
            "model.num_classes: Input should be a valid integer",
        ),
        (
            "model: {architecture: mlp, params: {dropout: .nan}}",
            "model.params.dropout: Input should be a finite",
        ),
    ],
)
def test_numbers_must_be_finite_and_sane(extra: str, where: str):
    section = extra.split(":")[0]
    text = "\n".join(
        line
        for line in MINIMAL.splitlines()
        if not line.startswith(f"{section}:") and not (section == "model" and line.startswith("  "))
    )
    assert where in one_problem(text + "\n" + extra + "\n")


def test_numbers_at_their_bounds_are_fine():
    text = MINIMAL + "seed: 4294967295\ntraining: {epochs: 100000, batch_size: 65536}\n"
    spec = load_spec_text(text, "spec.yaml").spec
    assert spec.seed == 2**32 - 1 and spec.training.batch_size == 65536


# -- paths inside the run folder ------------------------------------------------------------------


@pytest.mark.parametrize(
    "callback, message",
    [
        ("{type: backup_and_restore, backup_dir: '.'}", "not the folder itself"),
        ("{type: backup_and_restore, backup_dir: './'}", "not the folder itself"),
        (
            "{type: backup_and_restore, backup_dir: checkpoints}",
            "'checkpoints/' is a folder zoo keeps",
        ),
        ("{type: backup_and_restore, backup_dir: exports/b}", "'exports/' is a folder zoo keeps"),
        ("{type: backup_and_restore, backup_dir: ''}", "not be empty"),
        ("{type: backup_and_restore, backup_dir: ../elsewhere}", "'..' leaves it"),
        ("{type: backup_and_restore, backup_dir: a/../../b}", "'..' leaves it"),
        ("{type: backup_and_restore, backup_dir: /tmp/b}", "not an absolute one"),
        ("{type: backup_and_restore, backup_dir: 'C:/b'}", "not an absolute one"),
        ("{type: backup_and_restore, backup_dir: '~/b'}", "not an absolute one"),
        ("{type: backup_and_restore, backup_dir: 'a\\\\b'}", "separate folders with '/'"),
        ('{type: backup_and_restore, backup_dir: "a\\0b"}', "must not contain control characters"),
        (
            "{type: csv_logger, filename: spec.yaml}",
            "'spec.yaml' is a file zoo writes in every run",
        ),
        (
            "{type: csv_logger, filename: ./run.json}",
            "'run.json' is a file zoo writes in every run",
        ),
        ("{type: csv_logger, filename: History.CSV}", "'History.CSV' is a file zoo writes"),
        ("{type: csv_logger, filename: model.keras/x.csv}", "'model.keras' is a file zoo writes"),
        ("{type: csv_logger, filename: backup/log.csv}", "'backup/' is a folder zoo keeps"),
        (
            "{type: csv_logger, filename: checkpoints/log.csv}",
            "'checkpoints/' is a folder zoo keeps",
        ),
        ("{type: tensorboard, log_dir: .}", "not the folder itself"),
        ("{type: tensorboard, log_dir: /var/log}", "not an absolute one"),
        ("{type: tensorboard, log_dir: exports}", "'exports/' is a folder zoo keeps"),
        ("{type: model_checkpoint, filepath: ../w.weights.h5}", "'..' leaves it"),
        (
            "{type: model_checkpoint, filepath: metrics.json/w.weights.h5}",
            "'metrics.json' is a file",
        ),
        (
            "{type: model_checkpoint, filepath: model.keras, save_weights_only: false}",
            "'model.keras' is a file",
        ),
        (
            "{type: model_checkpoint, filepath: 'c/w.{epoch:0999999d}.weights.h5'}",
            "format '{epoch:0999999d}' is not allowed",
        ),
        (
            "{type: model_checkpoint, filepath: 'c/w.{val_loss:.99f}.weights.h5'}",
            "format '{val_loss:.99f}' is not allowed",
        ),
        (
            "{type: model_checkpoint, filepath: 'c/w.{val_loss:d}.weights.h5'}",
            "format '{val_loss:d}' is not allowed",
        ),
        (
            "{type: model_checkpoint, filepath: 'c/w.{epoch.__class__}.weights.h5'}",
            "placeholder {epoch.__class__}",
        ),
        (
            "{type: model_checkpoint, filepath: 'c/w.{0}.weights.h5'}",
            "placeholder {0} is not allowed",
        ),
        (
            "{type: model_checkpoint, filepath: 'c/w.{epoch!r}.weights.h5'}",
            "placeholder {epoch!r} is not allowed",
        ),
        ("{type: model_checkpoint, filepath: 'c/w.{epoch.weights.h5'}", "bad filename template"),
        ("{type: model_checkpoint, filepath: 'c/{epoch:{epoch}}.weights.h5'}", "is not allowed"),
        (
            "{type: model_checkpoint, filepath: c/w.weights.h6}",
            "filepath must end in '.weights.h5'",
        ),
    ],
)
def test_callback_paths_are_confined_to_the_run_folder(callback: str, message: str):
    line = one_problem(MINIMAL + f"callbacks:\n  - {callback}\n")
    assert line.startswith("spec.yaml:7:") and "callbacks[0]." in line and message in line, line


@pytest.mark.parametrize(
    "callbacks, message",
    [
        (
            "[{type: csv_logger, filename: a.csv}, {type: csv_logger, filename: ./A.csv}]",
            "callbacks[1].filename: './A.csv' overlaps callbacks[0].filename 'a.csv'",
        ),
        (
            "[{type: backup_and_restore, backup_dir: state}, {type: csv_logger, filename: state/log.csv}]",
            "callbacks[1].filename: 'state/log.csv' overlaps callbacks[0].backup_dir 'state'",
        ),
        (
            "[{type: tensorboard, log_dir: logs/tb}, {type: backup_and_restore, backup_dir: logs}]",
            "callbacks[1].backup_dir: 'logs' overlaps callbacks[0].log_dir 'logs/tb'",
        ),
        (
            "[{type: model_checkpoint, filepath: c/w.weights.h5}, {type: model_checkpoint, filepath: c/w.weights.h5}]",
            "callbacks[1].filepath: 'c/w.weights.h5' overlaps callbacks[0].filepath",
        ),
        (
            "[{type: backup_and_restore}, {type: backup_and_restore, backup_dir: other}]",
            "callbacks[1]: only one backup_and_restore entry is allowed",
        ),
    ],
)
def test_two_callbacks_never_write_the_same_place(callbacks: str, message: str):
    line = one_problem(MINIMAL + f"callbacks: {callbacks}\n")
    assert line.startswith("spec.yaml:6:") and message in line, line


def test_sensible_callback_paths_are_accepted():
    text = MINIMAL + textwrap.dedent("""\
        callbacks:
          - {type: model_checkpoint, filepath: "checkpoints/weights.{epoch:03d}-{val_loss:.4f}-{acc:.4f}.weights.h5"}
          - {type: model_checkpoint, filepath: "models/m{epoch}.keras", save_weights_only: false}
          - {type: csv_logger, filename: logs/training.csv}
          - {type: tensorboard, log_dir: logs/tensorboard}
          - {type: backup_and_restore, backup_dir: backup/state}
        """)
    spec = load_spec_text(text, "spec.yaml").spec
    assert [getattr(c, "filename", None) for c in spec.callbacks][2] == "logs/training.csv"


# -- --set paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "override", ["model.params.hidden_units.0=abc", "model.params.hidden_units[0]=abc"]
)
def test_set_accepts_both_path_spellings_and_is_blamed(override: str):
    line = one_problem(MINIMAL, (override,))
    assert line == (
        f"--set {override}: model.params.hidden_units[0]: Input should be a valid integer, "
        "unable to parse string as an integer (got 'abc')"
    )


def test_set_is_blamed_for_problems_under_it_whichever_spelling():
    text = MINIMAL + "callbacks: [{type: early_stopping}]\n"
    line = one_problem(text, ("callbacks.0={type: early_stopping, patience: -1}",))
    assert line.startswith(
        "--set callbacks.0={type: early_stopping, patience: -1}: callbacks[0].patience:"
    )
    line = one_problem(text, ("callbacks[0].patience=-1",))
    assert line.startswith(
        "--set callbacks[0].patience=-1: callbacks[0].patience: Input should be greater"
    )
    line = one_problem(MINIMAL, ("model.params.hidden_units=[1, abc]",))
    assert line.startswith(
        "--set model.params.hidden_units=[1, abc]: model.params.hidden_units[1]:"
    )
    line = one_problem(MINIMAL, ("seed.x=1",))
    assert line.startswith("--set seed.x=1: seed: Input should be a valid integer")
    spec = load_spec_text(
        text, "spec.yaml", ("callbacks[0].patience=3", "model.params.hidden_units.1=7")
    )
    assert spec.spec.callbacks[0].patience == 3 and spec.spec.model.params.hidden_units == [64, 7]


@pytest.mark.parametrize(
    "override, message",
    [
        ("a..b=1", "--set a..b=1: not a key path: 'a..b'"),
        ("a[0=1", "--set a[0=1: not a key path"),
        ("=1", "--set =1: override has an empty key path"),
        (
            "callbacks.3.patience=1",
            "--set callbacks.3.patience=1: callbacks[3].patience: cannot set this: callbacks is not set",
        ),
        ("model.params.hidden_units.5=1", "cannot set this: model.params.hidden_units has 2 items"),
        (
            "model.params.hidden_units.x=1",
            "cannot set this: model.params.hidden_units is a list: give an index",
        ),
        ("name.x.y=1", "cannot set this: name is 'mini', not a mapping"),
        ("seed=" + "9" * 200, "number longer than 100 characters"),
        ("seed=&a [*a]", "alias '*a' refers to a value that contains it"),
        ("name=a\nb", "--set name=a\\nb: name: String should match pattern"),
    ],
)
def test_bad_overrides_are_located_on_the_command_line(override: str, message: str):
    line = one_problem(MINIMAL, (override,))
    assert message in line, line


# -- bare plugin names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            "scaling: unit",
            "spec.yaml:6:10: scaling: expected a mapping, not the bare name 'unit'; "
            "write scaling: {recipe: unit}",
        ),
        (
            "augmentation: light",
            "spec.yaml:6:15: augmentation: expected a mapping, not the bare name "
            "'light'; write augmentation: {recipe: light}",
        ),
        ("scaling: unti", "write scaling: {recipe: unit}"),
    ],
)
def test_a_bare_plugin_name_gets_the_mapping_it_needs(extra: str, message: str):
    line = one_problem(MINIMAL + extra + "\n")
    assert line.startswith(message) or (extra.endswith("unti") and message in line), line


def test_bare_model_and_data_names_too():
    lines = problems_of("name: x\ndata: digits\nmodel: mlp\n")
    assert lines == [
        "spec.yaml:2:7: data: expected a mapping, not the bare name 'digits'; write data: {source: digits}",
        "spec.yaml:3:8: model: expected a mapping, not the bare name 'mlp'; write model: {architecture: mlp}",
    ]
