"""Repeated keys in a YAML mapping: found while the document is built, placed when it is done.

YAML says a mapping's keys are unique, but PyYAML keeps the last of two silently: a second
``tenants:`` replaced the first list, a second ``client_id`` the first client. ``KeyWatch`` is
mixed into both of ``yamlfile``'s readers (libyaml's and the pure-Python one), which share
PyYAML's Python constructor, so both find the same repeats. A mapping whose dict came out
shorter than its key-value pairs is the only one looked at again (one length comparison per
mapping, nothing more, in a file without repeats); keys that a merge (``<<: *base``) brings in
may be overridden and are no repeat, but a mapping merged in is itself looked at (one written
in place, ``<<: {a: 1, a: 2}``, is never built on its own). Where a repeating mapping sits in the document (its path)
is found afterwards, by one walk of the node tree, only when there is one. Knows nothing of
grantwarden's settings; ``yamlfile`` calls it, ``loading`` words its findings.
"""

from __future__ import annotations

import collections.abc
import dataclasses
from typing import Any

import yaml

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
Pairs = list[tuple[yaml.Node, yaml.Node]]


@dataclasses.dataclass(frozen=True)
class Repeat:
    """A key written more than once in one mapping."""

    path: tuple[Any, ...] | None
    """Keys and list indices from the top of the document to the mapping; None when the mapping is
    reachable only through a merge (``<<: {a: 1, a: 2}``)."""
    key: Any
    lines: tuple[int, ...]
    """Every line (1-based) the key is written on, in order."""


class KeyWatch(yaml.constructor.SafeConstructor):
    """PyYAML's safe constructor, noting every mapping that repeats a key (``repeats``)."""

    repeats: tuple[Repeat, ...] = ()
    may_flatten = True
    """False when the text holds no ``<<``, ``=`` or ``!``: then it has no merge key (``<<``,
    ``!!merge``) nor value key (``=``, ``!!value``), and PyYAML's search of every mapping for
    them (a loop in Python over every key, a tenth of the time to build a document) is left out."""
    may_merge = True
    """False when the text holds no ``<<`` or ``!``: then no mapping merges another one in."""

    def construct_document(self, node: yaml.Node) -> Any:
        self._own: dict[yaml.Node, Pairs] = {}  # a merging mapping's own pairs (merge keys removed)
        self._found: list[tuple[yaml.Node, Any, tuple[int, ...]]] = []
        self._noted: set[yaml.Node] = set()
        data = super().construct_document(node)
        if self._found:
            self.repeats = self._placed(node)
        return data

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        if not self.may_merge:
            super().flatten_mapping(node)
            return
        own = node.value  # PyYAML deletes merge keys from this list in place, then puts a new one
        merged = [value for key, value in own if key.tag == _MERGE]
        super().flatten_mapping(node)
        if node.value is not own:
            self._own.setdefault(node, own)
        for value in merged:
            for source in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                self._note(source, self._pairs(source))

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if self.may_flatten or not isinstance(node, yaml.MappingNode):
            mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        else:  # what SafeConstructor does, less the search for keys the text cannot hold
            mapping = yaml.constructor.BaseConstructor.construct_mapping(self, node, deep=deep)
        if len(mapping) < len(node.value):  # a repeat, or a merged key overridden
            self._note(node, self._pairs(node))
        return mapping

    def _pairs(self, node: yaml.Node) -> Pairs:
        """A mapping's own key-value pairs: without what a merge brought in."""
        own = self._own.get(node)
        return own if own is not None else list(node.value or ())

    def _note(self, node: yaml.MappingNode, pairs: Pairs) -> None:
        if node in self._noted:
            return
        self._noted.add(node)
        lines: dict[Any, list[int]] = {}
        for key_node, _ in pairs:
            key = self.construct_object(key_node, deep=True)  # built already: a look-up
            if isinstance(key, collections.abc.Hashable):  # else PyYAML refuses it as a key
                lines.setdefault(key, []).append(key_node.start_mark.line + 1)
        self._found += [(node, key, tuple(at)) for key, at in lines.items() if len(at) > 1]

    def _placed(self, root: yaml.Node) -> tuple[Repeat, ...]:
        paths = self._paths(root, {id(node) for node, _, _ in self._found})
        self.constructed_objects = {}
        repeats = [Repeat(paths.get(id(node)), key, lines) for node, key, lines in self._found]
        return tuple(sorted(repeats, key=lambda repeat: repeat.lines))

    def _paths(self, root: yaml.Node, wanted: set[int]) -> dict[int, tuple[Any, ...]]:
        """The path of each wanted node, depth first in document order (an anchored node is found
        where it is written, before any alias); each node visited once, without recursion."""
        found: dict[int, tuple[Any, ...]] = {}
        seen: set[int] = set()
        stack: list[tuple[yaml.Node, tuple[Any, ...]]] = [(root, ())]
        while stack and len(found) < len(wanted):
            node, path = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if id(node) in wanted:
                found[id(node)] = path
            if isinstance(node, yaml.MappingNode):
                pairs = self._pairs(node)
                children = [(value, (*path, self._key(key))) for key, value in pairs]
            elif isinstance(node, yaml.SequenceNode):
                children = [(item, (*path, index)) for index, item in enumerate(node.value)]
            else:
                continue
            stack.extend(reversed(children))
        return found

    def _key(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR:
            return node.value
        return self.construct_object(node, deep=True)
