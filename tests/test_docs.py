"""The documentation: generated reference pages up to date, README links that lead somewhere,
a site that builds with ``mkdocs build --strict``.

Run alone: ``.venv/bin/python -m pytest tests/test_docs.py -n 0`` (a few seconds).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
GENERATOR = ROOT / "tools" / "gen_reference.py"
README_MAX_LINES = 180


def load_generator() -> ModuleType:
    """tools/gen_reference.py as a module (tools/ is not a package on the test path)."""
    name = "zoo_docs_gen_reference"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_generated_reference_pages_are_up_to_date() -> None:
    gen = load_generator()
    stale = gen.stale_pages()
    assert not stale, (
        f"docs/reference is out of date: {', '.join(stale)}; "
        "run: .venv/bin/python tools/gen_reference.py"
    )


def test_generator_check_mode_names_a_stale_page(tmp_path: Path, capsys) -> None:
    gen = load_generator()
    pages = gen.generate()
    for name, content in pages.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    assert gen.stale_pages(tmp_path) == []
    first = sorted(pages)[0]
    (tmp_path / first).write_text(pages[first] + "edited by hand\n", encoding="utf-8")
    (tmp_path / "extra.md").write_text("# not generated\n", encoding="utf-8")
    assert gen.stale_pages(tmp_path) == sorted([first, "extra.md"])


def test_generated_pages_are_deterministic() -> None:
    gen = load_generator()
    first = gen.generate()
    second = gen.generate()
    assert first == second
    text = "\n".join(first.values())
    for machine_specific in (str(ROOT), str(Path.home()), sys.prefix):
        assert machine_specific not in text


def test_generating_imports_no_backend() -> None:
    """The reference comes from the registry and the models: no TensorFlow, Keras, JAX or
    torch import (zoo list and zoo info import none either)."""
    code = textwrap.dedent(f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("gen", {str(GENERATOR)!r})
        gen = importlib.util.module_from_spec(spec)
        sys.modules["gen"] = gen
        spec.loader.exec_module(gen)
        gen.generate()
        heavy = sorted({{m.split(".")[0] for m in sys.modules}}
                       & {{"tensorflow", "keras", "jax", "torch"}})
        print(",".join(heavy))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "", f"generating imported {proc.stdout.strip()}"


def _without_code(markdown: str) -> str:
    """Markdown with fenced blocks and inline code removed (links there are examples)."""
    markdown = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", markdown)


def _targets(markdown: str) -> list[str]:
    text = _without_code(markdown)
    inline = re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    reference = re.findall(r"^\s*\[[^\]]+\]:\s*(\S+)", text, flags=re.M)
    html = re.findall(r"(?:src|href)=\"([^\"]+)\"", text)
    return inline + reference + html


def _anchors(markdown: str) -> set[str]:
    """Heading ids as GitHub and MkDocs make them (lowercase, punctuation dropped, spaces to
    hyphens), and explicit ``{#id}`` ones."""
    ids = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", _strip_fences(markdown), flags=re.M):
        explicit = re.search(r"\{#([^}]+)\}\s*$", heading)
        if explicit:
            ids.add(explicit.group(1))
            heading = heading[: explicit.start()]
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        ids.add(slug)
    return ids


def _strip_fences(markdown: str) -> str:
    return re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)


def test_readme_relative_links_point_at_existing_files() -> None:
    targets = [
        t
        for t in _targets(README.read_text(encoding="utf-8"))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", t)
    ]  # http:, mailto: ...
    assert targets, "README.md links to no documentation page"
    broken = []
    for target in targets:
        path, _, anchor = target.partition("#")
        file = (ROOT / path) if path else README
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md":
            if anchor not in _anchors(file.read_text(encoding="utf-8")):
                broken.append(f"{target}: no heading #{anchor} in {path or 'README.md'}")
    assert not broken, "README.md has broken links:\n" + "\n".join(broken)


def test_readme_stays_short() -> None:
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines < README_MAX_LINES, (
        f"README.md has {lines} lines; keep it under {README_MAX_LINES} and move the rest "
        "into a page of docs/"
    )


def test_docs_keep_private_wording_out() -> None:
    pages = [README, ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]
    found = []
    for page in pages:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\b[Tt]he note\b|\bDIGEST\b", line):
                found.append(f"{page.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "state the fact itself instead:\n" + "\n".join(found)


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None,
    reason="mkdocs is not installed (pip install mkdocs mkdocs-material)",
)
def test_site_builds_strict(tmp_path: Path) -> None:
    """A broken link or anchor anywhere in docs/ fails the build."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--quiet",
            "--site-dir",
            str(tmp_path / "site"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").is_file()
