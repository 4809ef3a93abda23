"""Read YAML safely and keep the position of every key, so errors can say file:line:col."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from zoo.errors import Problem, UserError


@dataclass
class YamlDocument:
    """The plain data of a YAML file and the node tree that knows where each value was."""

    data: Any
    root: yaml.Node | None
    file: str


def parse_yaml(text: str, file: str) -> YamlDocument:
    """Parse with the safe loader only; duplicate keys are errors, not silent overwrites."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return YamlDocument({}, None, file)
        problems = list(_duplicate_keys(root, file))
        if problems:
            raise UserError(problems)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise UserError([Problem(f"not valid YAML: {exc.problem}", file, line, col)]) from None
    except yaml.YAMLError as exc:
        raise UserError([Problem(f"not valid YAML: {exc}", file)]) from None
    finally:
        loader.dispose()
    return YamlDocument(data, root, file)


def _duplicate_keys(node: yaml.Node, file: str):
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, yaml.Node] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    first = seen[key.value].start_mark.line + 1
                    yield Problem(
                        f"duplicate key '{key.value}' (first set on line {first})",
                        file, key.start_mark.line + 1, key.start_mark.column + 1,
                    )
                seen[key.value] = key
            yield from _duplicate_keys(value, file)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(item, file)


def locate(root: yaml.Node | None, path: Sequence[str | int], key: bool = False) -> tuple[int, int] | None:
    """Line and column (1-based) of the value at ``path``; of its key when ``key`` is true.

    Walks as far as the path exists, so a missing key points at its parent mapping.
    """
    node = root
    if node is None:
        return None
    mark = node.start_mark
    for index, step in enumerate(path):
        found = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(step):
                    found = (k, v)
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if 0 <= step < len(node.value):
                item = node.value[step]
                found = (item, item)
        if found is None:
            break
        key_node, node = found
        last = index == len(path) - 1
        mark = (key_node if key and last else node).start_mark
    return mark.line + 1, mark.column + 1
