"""Read YAML safely and keep the position of every key, so errors can say file:line:col.

A spec is small, so hostile input (an alias bomb, a file of a million keys, lists nested
thousands deep, a number of thousands of digits) is refused with one located line instead
of hanging or crashing: the work done is linear in the size of the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from zoo.errors import Problem, UserError

MAX_BYTES = 1 << 20  # a spec is a few kilobytes; 1 MiB leaves room for inline class lists
MAX_DEPTH = 100  # levels of nesting, counted through aliases
MAX_NODES = 50_000  # keys and values once every alias is expanded (a spec has hundreds)
MAX_NUMBER_CHARS = 100  # digits of one integer (Python refuses to print ints of > 4300 digits)


@dataclass
class YamlDocument:
    """The plain data of a YAML file and the node tree that knows where each value was."""

    data: Any
    root: yaml.Node | None
    file: str


class _LimitError(Exception):
    """The text is beyond what a spec may be; carries where it went over."""

    def __init__(self, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _Bounds:
    """Bounds on nesting and on the values aliases expand to, kept while composing.

    Counting happens while the node tree is composed, in document order, so an alias bomb
    is caught at the alias that makes it too large, before anything walks the expansion.
    Mixed into a loader ahead of ``Composer`` (whose ``compose_node`` it wraps).
    """

    def _start_bounds(self) -> None:
        self._depth = 0  # nesting of the node being composed
        self._reach = 0  # deepest level any value reaches so far, aliases expanded
        self._total = 0  # values composed so far, aliases expanded
        self._measured: dict[int, tuple[int, int]] = {}  # anchored node -> (values, height)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[attr-defined]
        depth = self._depth + 1
        if depth > MAX_DEPTH:
            raise _LimitError(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)  # type: ignore[misc]
            self._count_alias(node, depth, event)
            return node
        before, outer_reach = self._total, self._reach
        self._depth, self._reach = depth, depth
        try:
            node = super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth = depth - 1
        self._total += 1
        height = self._reach - depth + 1
        self._reach = max(outer_reach, self._reach)
        self._check_total(event)
        if event.anchor is not None:
            self._measured[id(node)] = (self._total - before, height)
        return node

    def _count_alias(self, node: yaml.Node, depth: int, event: Any) -> None:
        measured = self._measured.get(id(node))
        if measured is None:
            raise _LimitError(
                f"alias '*{event.anchor}' refers to a value that contains it", event.start_mark
            )
        size, height = measured
        self._total += size
        self._reach = max(self._reach, depth + height - 1)
        if self._reach > MAX_DEPTH:
            raise _LimitError(
                f"alias '*{event.anchor}' nests the spec more than {MAX_DEPTH} levels deep",
                event.start_mark,
            )
        self._check_total(event)

    def _check_total(self, event: Any) -> None:
        if self._total > MAX_NODES:
            raise _LimitError(
                f"more than {MAX_NODES} keys and values (aliases expanded); a spec is far smaller",
                event.start_mark,
            )


class _Constructor(yaml.constructor.SafeConstructor):
    """The safe constructor, refusing values Python cannot build with a located error."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """A tagged value Python cannot build (``!!int x``, ``2001-13-45``) is a located
        YAML error, not a crash."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError) as exc:
            kind = str(node.tag).rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"cannot read {kind} value ({_one_line(str(exc))})",
                node.start_mark,
            ) from None

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """Integers of absurd length are refused before Python converts them."""
        if len(node.value) > MAX_NUMBER_CHARS:
            raise _LimitError(f"number longer than {MAX_NUMBER_CHARS} characters", node.start_mark)
        return super().construct_yaml_int(node)


_Constructor.add_constructor(  # type: ignore[type-var]  # stubs expect a SafeLoader subclass
    "tag:yaml.org,2002:int", _Constructor.construct_yaml_int
)


class _PyLoader(
    _Bounds,
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    _Constructor,
    yaml.resolver.Resolver,
):
    """Pure-Python parsing (where PyYAML was built without libyaml)."""

    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Constructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self._start_bounds()


_CParser = getattr(getattr(yaml, "_yaml", None), "CParser", None) if yaml.__with_libyaml__ else None

if _CParser is not None:

    class _CLoader(
        _Bounds,
        yaml.composer.Composer,
        _CParser,  # type: ignore[misc, valid-type]
        _Constructor,
        yaml.resolver.Resolver,
    ):
        """libyaml's parser (ten times faster) under the same bounded Python composer."""

        def __init__(self, text: str) -> None:
            _CParser.__init__(self, text)  # type: ignore[misc]  # libyaml's parser: untyped
            yaml.composer.Composer.__init__(self)
            _Constructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self._start_bounds()

    _Loader: type = _CLoader
else:
    _Loader = _PyLoader


def parse_yaml(text: str, file: str) -> YamlDocument:
    """Parse with the safe loader only; duplicate keys are errors, not silent overwrites."""
    try:
        data, root = _load(text, file)
    except _LimitError as exc:
        raise UserError([_limit_problem(exc, file)]) from None
    except yaml.YAMLError as exc:
        raise UserError([_yaml_problem(exc, text, file)]) from None
    return YamlDocument(data, root, file)


def parse_value(text: str, file: str) -> Any:
    """A ``--set`` value: read as YAML, or taken as the text itself when it is not YAML.

    The same bounds as a spec file apply; a breach is a :class:`UserError` against ``file``.
    """
    if not text.strip():
        return None
    try:
        return _load(text, file)[0]
    except _LimitError as exc:
        raise UserError([_limit_problem(exc, file, located=False)]) from None
    except yaml.YAMLError:
        return text


def _load(text: str, file: str) -> tuple[Any, yaml.Node | None]:
    """The data and node tree of ``text``; raises ``_LimitError`` or ``yaml.YAMLError``."""
    size = len(text) if len(text) > MAX_BYTES else len(text.encode("utf-8", "replace"))
    if size > MAX_BYTES:
        raise _LimitError(f"spec is larger than {MAX_BYTES // 1024} KiB ({size} bytes)")
    _check_characters(text)
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return {}, None
        problems = _duplicate_keys(root, file)
        if problems:
            raise UserError(problems)
        return loader.construct_document(root), root
    finally:
        loader.dispose()


def _check_characters(text: str) -> None:
    """What YAML does not allow (NUL, other control characters), found before parsing."""
    match = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if match:
        raise yaml.reader.ReaderError(
            "<spec>",
            match.start(),
            ord(match.group()),
            "unicode",
            "special characters are not allowed",
        )


def _limit_problem(exc: _LimitError, file: str, located: bool = True) -> Problem:
    mark = exc.mark if located else None
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    return Problem(exc.message, file, line, col)


def _yaml_problem(exc: yaml.YAMLError, text: str, file: str) -> Problem:
    """One located line for a syntax error (or a character YAML does not allow)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        if "maximum nesting depth" in str(exc.problem):  # libyaml's own bound, above ours
            return Problem(f"nested more than {MAX_DEPTH} levels deep", file, line, col)
        text = _one_line(str(exc.problem or exc.context))
        return Problem(f"not valid YAML: {text}", file, line, col)
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        return Problem(
            f"not valid YAML: character #x{exc.character:04x} is not allowed "
            "(control characters and NUL cannot appear in YAML)",
            file,
            line,
            col,
        )
    return Problem(f"not valid YAML: {_one_line(str(exc))}", file)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _duplicate_keys(root: yaml.Node, file: str) -> list[Problem]:
    """Keys set twice in one mapping; each node is visited once, however often it is aliased."""
    problems = []
    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            problems += _duplicates_in(node, file)
            for key, value in node.value:
                stack += (value, key)
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return problems


def _duplicates_in(node: yaml.MappingNode, file: str) -> list[Problem]:
    seen: dict[Any, yaml.Node] = {}
    out = []
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode):
            if key.value in seen:
                first = seen[key.value].start_mark.line + 1
                out.append(
                    Problem(
                        f"duplicate key {_shown(key.value)} (first set on line {first})",
                        file,
                        key.start_mark.line + 1,
                        key.start_mark.column + 1,
                    )
                )
            seen[key.value] = key
    return out


def _shown(key: str, limit: int = 60) -> str:
    """A key quoted for a one-line message: control characters escaped, long keys cut."""
    text = key if key.isprintable() else key.encode("unicode_escape").decode("ascii")
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"'{text}'"


def locate(
    root: yaml.Node | None, path: Sequence[str | int], key: bool = False
) -> tuple[int, int] | None:
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
            found = _pairs(node).get(str(step))
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


def _pairs(node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """Key text -> (key, value) of a mapping, built once per node: many lookups stay linear."""
    index = getattr(node, "_zoo_pairs", None)
    if index is None:
        index = {}
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value not in index:
                index[k.value] = (k, v)
        node._zoo_pairs = index  # type: ignore[attr-defined]
    return index
