"""The command line agrees with itself (issue 11): one name for a sample count, optional
--out with defaults, counts of 0 honoured and negative ones refused, --format json
everywhere, tables that fit the terminal, nested parameters listed, no private wording."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SPECS, run_zoo

from zoo.cli.output import Progress, print_table

IMAGE = SPECS / "data" / "animals" / "cane" / "cane0.png"


def zoo_cli(*args: str, cwd: Path | None = None, columns: int | None = None):
    env = {"COLUMNS": str(columns)} if columns else None
    return run_zoo(*args, cwd=cwd, extra_env=env)


def test_data_and_preview_share_samples_with_defaults_for_out(tmp_path):
    done = zoo_cli("data", str(SPECS / "digits_mlp.yaml"), "--samples", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "digits-mlp-samples.png").is_file()
    done = zoo_cli(
        "preview",
        str(SPECS / "folder_efficientnetv2b0.yaml"),
        "--image",
        str(IMAGE),
        "--samples",
        "2",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["augmented"] == 2 and report["out"] == "folder-efficientnetv2b0-preview.png"
    assert (tmp_path / report["out"]).is_file()
    # the old names still work, hidden
    done = zoo_cli(
        "preview",
        str(SPECS / "folder_efficientnetv2b0.yaml"),
        "--image",
        str(IMAGE),
        "-n",
        "1",
        "--out",
        str(tmp_path / "p.png"),
        "--format",
        "json",
    )
    assert json.loads(done.stdout)["augmented"] == 1


def test_zero_samples_is_honoured_and_negative_refused(tmp_path):
    done = zoo_cli(
        "data", str(SPECS / "digits_mlp.yaml"), "--samples", "0", "--format", "json", cwd=tmp_path
    )
    assert done.returncode == 0 and json.loads(done.stdout)["grid"] is None
    assert not list(tmp_path.glob("*.png"))
    done = zoo_cli("data", str(SPECS / "digits_mlp.yaml"), "--samples", "-1")
    assert done.returncode == 2 and "0 or more" in done.stderr


def test_schema_accepts_format_json():
    done = zoo_cli("schema", "--format", "json")
    assert done.returncode == 0 and json.loads(done.stdout)["type"] == "object"


def test_help_documents_epochs_with_phases():
    done = zoo_cli("train", "--help")
    assert "every phase" in " ".join(done.stdout.split())


@pytest.mark.parametrize("args", [("list",), ("info", "simple_cnn"), ("info", "resnet50")])
def test_tables_fit_the_terminal(args):
    done = zoo_cli(*args, columns=100)
    assert done.returncode == 0, done.stderr
    long = [line for line in done.stdout.splitlines() if len(line) > 100]
    assert not long, long[:3]


def test_info_expands_nested_parameter_models():
    done = zoo_cli("info", "simple_cnn", "--format", "text", columns=120)
    names = {line.split()[0] for line in done.stdout.splitlines() if line[:1].isalpha()}
    assert {
        "head",
        "head.pooling",
        "head.dense_units",
        "blocks[].convs",
        "blocks[].convs[].filters",
    } <= names


def test_user_facing_text_has_no_private_wording():
    done = zoo_cli("list", "--format", "json")
    texts = [p["description"] for p in json.loads(done.stdout)["plugins"]]
    for name in ("simple_cnn", "resnet50", "vgg", "googlenet", "mlp", "unit", "keras_style"):
        info = json.loads(zoo_cli("info", name, "--format", "json").stdout)
        texts += [p["description"] for p in info["parameters"]]
    helps = subprocess.run(
        [sys.executable, "-m", "zoo", "--help"], capture_output=True, text=True, cwd=ROOT
    ).stdout
    for text in [*texts, helps]:
        assert not re.search(r"\bthe note\b|DIGEST", text), text


def test_info_shows_the_renamed_presets_and_tag():
    info = json.loads(zoo_cli("info", "simple_cnn", "--format", "json").stdout)
    [preset] = [p for p in info["parameters"] if p["name"] == "preset"]
    assert "(gray, gray_dropout, rgb, performance)" in preset["description"]
    assert "reference" in info["tags"] and "note" not in info["tags"]
    assert "note_" not in json.dumps(info)


# "the note", "note's", "the notes" in any case; DIGEST only as an uppercase word or in
# "DIGEST section" (digest/hexdigest are hashing terms).
PRIVATE_WORDING = re.compile(
    r"(?i:\bthe\s+notes?\b|\bnote['\u2019]s\b|\bdigest\s+section\b)|\bDIGEST\b"
)


def test_code_comments_docstrings_and_specs_have_no_private_wording():
    """Every .py file of zoo/ and plugins/ (comments and docstrings too) and every file of
    specs/ states the fact itself, never where it was first written down."""
    files = [
        *sorted((ROOT / "zoo").rglob("*.py")),
        *sorted((ROOT / "plugins").rglob("*.py")),
        *sorted(
            p
            for p in SPECS.rglob("*")
            if p.is_file() and p.suffix in (".yaml", ".yml", ".py", ".json", ".csv", ".md")
        ),
    ]
    assert len(files) > 50 and any(f.suffix == ".yaml" for f in files)
    found = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            if PRIVATE_WORDING.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "state the fact itself instead:\n" + "\n".join(found)


def test_private_wording_pattern_spares_hashing_terms():
    for private in (
        "as the note makes them",
        "The note's table",
        "the notes' image grid",
        "The Notes say",
        "(DIGEST section 6)",
        "digest section 4",
        "see DIGEST",
    ):
        assert PRIVATE_WORDING.search(private), private
    for fine in (
        "digest = hashlib.new(algorithm)",
        "hashlib.sha256(data).hexdigest()",
        "a sha256 digest of the file",
        "NOTE says why",
        "note = None",
        "preset note_gray",
        "the notebook",
    ):
        assert not PRIVATE_WORDING.search(fine), fine


def test_print_table_wraps_the_last_column():
    import io

    out = io.StringIO()
    print_table([("a", "word " * 30)], ("X", "DESCRIPTION"), stream=out, width=40)
    lines = out.getvalue().splitlines()
    assert len(lines) > 3 and all(len(line) <= 40 for line in lines)
    assert lines[3].startswith("   ")  # continuation under the column


def test_print_table_folds_a_long_middle_column_without_cutting_it():
    """A tags column too wide for the terminal breaks after commas (zoo list's TAGS with a
    plugin package's long tag lists); every tag is still printed, every line fits."""
    import io

    tags = "deit,hub,image,pretrained,transfer,transformer"
    rows = [("deit_base_distilled_patch16_224", tags, "85,807,882", "a description " * 8)]
    headers = ("NAME", "TAGS", "PARAMS", "DESCRIPTION")
    out = io.StringIO()
    print_table(rows, headers, stream=out, width=70, fold=(1,))
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 70 for line in lines), lines
    assert (
        lines[2].startswith("deit_base_distilled_patch16_224  deit,hub,")
        and "85,807,882" in lines[2]
    )
    column = lines[2].index("deit,")
    folded = [lines[2][column:].split()[0]]
    for line in lines[3:]:
        if line.startswith("    a description"):  # the description below, as before
            break
        assert line[:column].strip() == "" and line[column] != " ", line  # under TAGS
        folded.append(line.strip())
    assert len(folded) > 1 and "".join(folded) == tags
    # piped (no width): one line per row, nothing folded
    out = io.StringIO()
    print_table(rows, headers, stream=out, fold=(1,))
    assert tags in out.getvalue().splitlines()[2]


def test_progress_is_silent_off_a_terminal():
    import io

    out = io.StringIO()
    with Progress("decoding", 3, stream=out) as progress:
        progress.update()
    assert out.getvalue() == ""


def test_progress_draws_on_a_terminal_and_clears_the_line():
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    with Progress("decoding images", 2, stream=out) as progress:
        progress.update()
        progress.update()
    text = out.getvalue()
    assert "\rdecoding images: 0/2" in text and "decoding images: 2/2" in text
    assert text.endswith("\r")


def test_library_use_draws_no_progress(capfd):
    from zoo.progress import progress

    with progress("evaluating") as bar:  # the CLI enables it; the library leaves it off
        bar.update()
    assert capfd.readouterr().err == ""


def test_schema_descriptions_have_no_private_wording():
    import zoo

    text = json.dumps(zoo.spec_json_schema(zoo.registry()))
    assert not re.search(r"\bthe note\b|\bnote's\b|DIGEST", text)
