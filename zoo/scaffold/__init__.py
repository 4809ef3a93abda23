"""``zoo plugin new NAME``: a pip-installable plugin package, one example entry of each kind.

The files live in ``template/`` (package data): ``__package__`` in a path becomes the import
package (``zoo_NAME``), ``.tmpl`` is dropped, and ``{{name}}``, ``{{package}}``,
``{{dist}}`` and ``{{title}}`` in the text are filled in.
"""

from __future__ import annotations

import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from zoo.errors import Problem, UserError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
SUFFIX = ".tmpl"


def names(name: str) -> dict[str, str]:
    """The spellings of ``name``: entry-point name, import package, distribution, title."""
    if not NAME_PATTERN.match(name):
        raise UserError(
            [
                Problem(
                    f"plugin name must be lowercase letters, digits and '_', "
                    f"starting with a letter. Received: {name!r}"
                )
            ]
        )
    return {
        "name": name,
        "package": f"zoo_{name}",
        "dist": "zoo-" + name.replace("_", "-"),
        "title": name.replace("_", " ").title(),
    }


def _files() -> list[tuple[str, str]]:
    """(relative path, text) of every template file."""
    root = resources.files(__package__) / "template"
    out = []

    def walk(node: Traversable, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.name == "__pycache__":
                continue
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, rel + "/")
            else:
                out.append((rel, child.read_text(encoding="utf-8")))

    walk(root, "")
    return out


def render(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def new_plugin(name: str, out: str | Path = ".") -> Path:
    """Write the package into ``out/zoo-NAME`` and return that folder; never overwrites."""
    values = names(name)
    dest = Path(out) / values["dist"]
    if dest.exists():
        raise UserError(
            [
                Problem(
                    f"{dest} already exists; choose another NAME or --out "
                    "(zoo plugin new never overwrites)"
                )
            ]
        )
    for rel, text in _files():
        rel = rel.replace("__package__", values["package"])
        if rel.endswith(SUFFIX):
            rel = rel[: -len(SUFFIX)]
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(text, values), encoding="utf-8")
    return dest
