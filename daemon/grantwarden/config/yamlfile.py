"""YAML text to plain data as PyYAML's pure-Python reader reads it, at libyaml's speed.

The configuration loader (``loading``) calls ``read``, and ``lines`` when it has problems to
report. The pure-Python reader needs 10 s for a file of 10,000 tenants, libyaml one; but the
two disagree on a few texts. libyaml accepts a tab between tokens, a ``?`` inside an unquoted
value in a ``[...]`` or ``{...}`` collection, a byte-order mark at the start of any line and a
comment glued to a ``|`` or ``>``, all of which the pure reader refuses (or reads as part of a
key); it reads an empty value tagged ``!`` as "" where the pure reader reads null; and it nests
1000 levels deep where the pure reader ran out of stack near 500. So libyaml reads first, and
the pure reader decides whenever libyaml refuses a text or the text has one of those features:
what a file means, and what its errors say (line, column, problem), stay what they always were
(without libyaml in PyYAML, the pure reader reads everything). Both note the keys a mapping
repeats (``yamlkeys``): the data is what PyYAML always made of it (the last one wins), and
``Document.repeats`` says where that happened.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from grantwarden.config import yamlkeys

MAX_NESTING = 400
"""Levels of lists and mappings a text may nest. The pure reader ran out of stack a little below
500 and libyaml stops at 1000; this keeps both readers' answer the same (too deep) and leaves
the stack room to copy an inherited value that deep. Real files nest fewer than 10 levels."""

_LIBYAML: type[Any] | None = getattr(yaml, "CSafeLoader", None)
_BLOCK_HEADER_END = re.compile(r"[|>][-+0-9]*\Z")  # ``|``, ``>-``, ``|2+`` ...: a block scalar's header
_BANG = re.compile(r"!(?=[\s,\]}]|\Z)")  # a ``!`` tag with no name: the first half of a lone ``!``
_TAG_ERRORS = (IndexError, KeyError, AttributeError)  # what PyYAML's safe constructors raise on ``!!bool x``


class UnreadableError(Exception):
    """The text is no YAML document: ``where`` (``line 3, column 5``, ``YAML`` or empty) and ``why``."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"{where}: {why}" if where else why)
        self.where = where
        self.why = why


@dataclasses.dataclass(frozen=True)
class Document:
    data: Any
    """What PyYAML's pure reader makes of the text: where a key repeats, the last one wins."""
    repeats: tuple[yamlkeys.Repeat, ...] = ()
    """Keys written more than once in one mapping, in the order of their first line."""


def read(text: str) -> Document:
    """The document in ``text``; raises ``UnreadableError``."""
    document = _read_fast(text)
    if document is None:
        document = _read_pure(text)
    if _deeper_than(document.data, MAX_NESTING):
        raise UnreadableError("", "nested too deeply to read")
    return document


def lines(text: str, paths: Iterable[tuple[Any, ...]]) -> dict[tuple[Any, ...], int]:
    """The line (1-based) each path is written on: a key's own line, a list item's first line;
    a path the text does not hold (a missing setting) gets the line of the deepest part it does
    hold, and a path with nothing in the text (the document itself) no line. Composes the text
    again: 0.5 s at 10,000 tenants, spent only on a file with problems to report."""
    composers = [yaml.SafeLoader] if _LIBYAML is None or _readers_may_differ(text) else [_LIBYAML, yaml.SafeLoader]
    for composer in composers:
        loader = composer(text)
        try:
            root = loader.get_single_node()
        except (yaml.YAMLError, RecursionError, ValueError):
            continue
        finally:
            loader.dispose()
        found = {path: _line_of(loader, root, path) for path in paths}
        return {path: line for path, line in found.items() if line is not None}
    return {}


def _fast_loader() -> type[Any] | None:
    """libyaml's parser and composer with PyYAML's safe constructor noting repeated keys; None
    when PyYAML was built without libyaml."""
    if _LIBYAML is None:
        return None
    return type("_FastLoader", (yamlkeys.KeyWatch, _LIBYAML), {})


_FAST_LOADER = _fast_loader()


def _load(loader_type: type[Any], text: str) -> Document:
    loader = loader_type(text)
    loader.may_merge = "<<" in text or "!" in text
    loader.may_flatten = loader.may_merge or "=" in text
    try:
        data = loader.get_single_data()  # a safe loader: plain data only
    finally:
        loader.dispose()
    return Document(data, getattr(loader, "repeats", ()))


def _read_fast(text: str) -> Document | None:
    """libyaml's reading, or None where it may differ or refuses the text (then the pure reader
    says what is wrong, in the words it always used)."""
    if _FAST_LOADER is None or _readers_may_differ(text):
        return None
    try:
        document = _load(_FAST_LOADER, text)
    except (yaml.YAMLError, RecursionError, ValueError, *_TAG_ERRORS):
        return None
    if "?" in text and _has_string_with(document.data, "?"):
        return None
    return document


def _readers_may_differ(text: str) -> bool:
    """A tab, a byte-order mark after the first character (libyaml skips both as spaces), a
    comment straight after ``|`` or ``>`` (libyaml takes it as one, the pure reader refuses), or
    a lone ``!`` tag (on an empty value libyaml reads "", the pure reader null). Each look is a
    scan for one character, so a file without them costs a few milliseconds: this runs in the
    reload thread, holding the interpreter lock (a regular expression took 170 ms)."""
    if "\t" in text or text.find("\ufeff", 1) != -1:
        return True
    comment = text.find("#")
    while comment != -1:
        if _BLOCK_HEADER_END.search(text, max(0, comment - 8), comment):
            return True
        comment = text.find("#", comment + 1)
    for bang in _BANG.finditer(text):
        at = bang.start()
        if at == 0 or text[at - 1].isspace() or text[at - 1] in "[{,\ufeff":
            return True
    return False


class _PureLoader(yamlkeys.KeyWatch, yaml.SafeLoader):
    """PyYAML's pure-Python safe loader, noting repeated keys, except that a value its tag cannot
    read (``!!bool x``, ``!!int x``, ``!!timestamp x``) is a YAML error at the value's line, not a
    bare IndexError, KeyError, AttributeError or ValueError from inside PyYAML."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (*_TAG_ERRORS, ValueError) as exc:
            if isinstance(exc, ValueError) and not str(exc).startswith(("invalid literal", "could not convert")):
                raise  # an integer too long to read: told as such by ``_read_pure``
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            raise ConstructorError(None, None, f"not a valid {tag} value", node.start_mark) from None


def _read_pure(text: str) -> Document:
    try:
        return _load(_PureLoader, text)
    except RecursionError:
        raise UnreadableError("", "nested too deeply to read") from None
    except ValueError as exc:  # an integer of thousands of digits (sys.int_info limit), for one
        raise UnreadableError("", f"a value too large to read ({str(exc).split('(')[0].strip()})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "YAML"
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UnreadableError(where, f"YAML syntax error: {problem}") from None


def _containers_in(node: Any) -> list[Any]:
    values = node.values() if isinstance(node, dict) else node
    return [child for child in values if isinstance(child, dict | list)]


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether lists and mappings nest more than ``limit`` levels, aliases followed. A quick look
    level by level (30 ms at 10,000 tenants) clears nearly every file; what it cannot clear is
    measured exactly (``_height``), since a list that holds itself (``&x [*x]``) never runs out
    of levels but was read by the pure reader without complaint."""
    level = [document] if isinstance(document, dict | list) else []
    for _ in range(limit):
        if not level:
            return False
        below: dict[int, Any] = {}  # each node once per level, however many aliases point at it
        for node in level:
            for child in node.values() if isinstance(node, dict) else node:
                if isinstance(child, dict | list):
                    below[id(child)] = child
        level = list(below.values())
    return bool(level) and _height(document) > limit


def _height(document: Any) -> int:
    """Levels of lists and mappings below and including ``document``: depth first without
    recursion, each node measured once (an alias bomb costs its distinct nodes, never its
    expansion), and an alias back to a node being measured (a cycle) adding nothing."""
    heights: dict[int, int] = {}  # 0 while a node is being measured
    stack: list[tuple[Any, bool]] = [(document, False)]
    while stack:
        node, measured_below = stack.pop()
        children = _containers_in(node)
        if measured_below:
            heights[id(node)] = 1 + max((heights[id(child)] for child in children), default=0)
        elif id(node) not in heights:
            heights[id(node)] = 0
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in heights)
    return heights[id(document)]


def _has_string_with(document: Any, fragment: str) -> bool:
    """Whether any key or value (a string) holds ``fragment``; each list or mapping looked at once."""
    seen: set[int] = set()
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, str) and fragment in node:
            return True
        if isinstance(node, dict | list) and id(node) not in seen:
            seen.add(id(node))
            pending.extend([*node, *node.values()] if isinstance(node, dict) else node)
    return False


def _line_of(loader: Any, node: yaml.Node, path: tuple[Any, ...]) -> int | None:
    """Where ``path`` is written below ``node``: see ``lines``."""
    line = None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            loader.flatten_mapping(node)  # keys a merge brings in are found too
            pairs = [(key, value) for key, value in node.value if _same_key(loader, key, part)]
            if not pairs:
                return line
            key_node, node = pairs[-1]  # where a key repeats, the last one counts
            line = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _same_key(loader: Any, node: yaml.Node, key: Any) -> bool:
    if not isinstance(node, yaml.ScalarNode):
        return False
    if node.tag == "tag:yaml.org,2002:str":
        return bool(node.value == key)
    try:
        return bool(loader.construct_object(node, deep=True) == key)
    except (yaml.YAMLError, *_TAG_ERRORS, ValueError):
        return False
