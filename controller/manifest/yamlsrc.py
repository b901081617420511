"""YAML reading that remembers where every value came from.

PyYAML silently keeps the last of two equal keys and forgets line numbers once objects are
built; a manifest checker needs both, so documents are composed into nodes and built here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass
class Located:
    """Plain Python data plus the 1-based line of every path in it."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    duplicates: list[tuple[Path, int]] = field(default_factory=list)
    # plain scalars YAML 1.1 turns into something other than what was written (`NO`, `0755`, `12:30`)
    coerced: list[tuple[Path, int, str]] = field(default_factory=list)

    def line_of(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


class YamlSyntaxError(Exception):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


MAX_DEPTH = 64
"""Deepest nesting of mappings/sequences accepted (a real manifest nests about 8 deep).

PyYAML composes nodes recursively: without a bound, a few hundred nested brackets end in a
RecursionError instead of an error message."""


try:
    from yaml._yaml import CParser as _Parser  # libyaml's scanner and parser, ≈ 10× faster
except ImportError:  # PyYAML built without libyaml
    class _Parser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)


class _SafeLoader(_Parser, yaml.composer.Composer, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """SafeLoader's composer, constructors and resolver over libyaml's events when PyYAML has
    them (the same events, nodes and marks), with implicit tags resolved once per distinct
    scalar: a fleet repeats the same keys and values thousands of times."""

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self._tags: dict[tuple[Any, Any], str] = {}

    # the Python composer (the C one has its own get_single_node and no depth hook)
    get_single_node = yaml.composer.Composer.get_single_node
    compose_document = yaml.composer.Composer.compose_document
    compose_node = yaml.composer.Composer.compose_node

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = super().resolve(kind, value, implicit)
        return tag


class _BoundedLoader(_SafeLoader):
    """A SafeLoader that refuses documents nested deeper than MAX_DEPTH."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def _enter(self) -> None:
        if self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise YamlSyntaxError(f"invalid YAML: nested deeper than {MAX_DEPTH} levels", mark.line + 1)
        self._depth += 1

    # only collections nest: scalars (most nodes) pass through untouched
    def compose_sequence_node(self, anchor: Any) -> Any:
        self._enter()
        try:
            return super().compose_sequence_node(anchor)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: Any) -> Any:
        self._enter()
        try:
            return super().compose_mapping_node(anchor)
        finally:
            self._depth -= 1


def load_located(text: str) -> Located:
    """Parse exactly one YAML document into data with line numbers."""
    loader = None
    try:
        loader = _BoundedLoader(text)
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or str(exc)
        if exc.context:
            problem = f"{problem} ({exc.context})"
        raise YamlSyntaxError(f"invalid YAML: {problem}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {' '.join(str(exc).split())}", None) from None
    finally:
        if loader is not None:
            loader.dispose()
    located = Located(data=None)
    if node is None:
        return located
    try:
        located.data = _build(loader, node, (), located, set())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlSyntaxError(f"invalid YAML: {exc.problem or exc}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {' '.join(str(exc).split())}", None) from None
    return located


MAX_NODES = 200_000


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path, out: Located, active: set[int]) -> Any:
    if id(node) in active:
        raise YamlSyntaxError("invalid YAML: an alias refers to its own ancestor", node.start_mark.line + 1)
    if len(path) > MAX_DEPTH:  # aliases can nest what each anchor kept shallow
        raise YamlSyntaxError(f"invalid YAML: nested deeper than {MAX_DEPTH} levels (through aliases)",
                              node.start_mark.line + 1)
    if len(out.lines) > MAX_NODES:
        raise YamlSyntaxError(f"invalid YAML: more than {MAX_NODES} values (alias expansion?)", node.start_mark.line + 1)
    out.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        active = active | {id(node)}
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _construct(loader, key_node)
            why = coercion(key_node, key)
            if why:
                out.coerced.append(((*path, key_node.value), key_node.start_mark.line + 1, why))
                key = key_node.value
            if not isinstance(key, (str, int, float, bool)) or key is None:
                key = str(key)
            child = (*path, str(key) if not isinstance(key, str) else key)
            if key in result:
                out.duplicates.append((child, key_node.start_mark.line + 1))
            out.lines[child] = key_node.start_mark.line + 1
            result[key] = _build(loader, value_node, child, out, active)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, i), out, active) for i, item in enumerate(node.value)]
    value = _construct(loader, node)
    why = coercion(node, value)
    if why:
        out.coerced.append((path, node.start_mark.line + 1, why))
    return value


_PLAIN_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")


def coercion(node: yaml.Node, value: Any) -> str | None:
    """Why a plain (unquoted, untagged) scalar is refused: YAML 1.1 reads it as a value whose text
    differs from what was written (`NO` -> false, `0755` -> 493, `12:30` -> 750, `1.10` -> 1.1,
    `2024-01-01` -> a date). YAML 1.2 reads several of them differently again; quoting keeps the
    text in both. None when the scalar is what it looks like."""
    # a plain scalar's style is None from PyYAML's parser, "" from libyaml's
    if not isinstance(node, yaml.ScalarNode) or node.style or node.tag is None:
        return None
    text = node.value
    if node.tag == "tag:yaml.org,2002:bool":
        if text.lower() in ("true", "false"):
            return None
        meaning = plain = "true" if value else "false"
    elif node.tag == "tag:yaml.org,2002:int":
        if _PLAIN_INT.fullmatch(text):
            return None
        plain = str(value)
        meaning = f"the number {plain}"
    elif node.tag == "tag:yaml.org,2002:float":
        try:
            if repr(float(text)) == text.lstrip("+"):
                return None
        except ValueError:
            pass
        plain = repr(value) if value == value and abs(value) != float("inf") else None
        meaning = f"the number {value!r}"
    elif node.tag == "tag:yaml.org,2002:timestamp":
        meaning, plain = f"a {'date' if len(text) <= 10 else 'timestamp'}", None
    else:
        return None
    return (f"YAML reads {text} as {meaning}, not the text {text!r}: quote it (\"{text}\") to keep the text"
            + (f", or write {plain}" if plain else ""))


_STR = "tag:yaml.org,2002:str"


def _construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if node.tag == _STR and isinstance(node, yaml.ScalarNode):
        return node.value  # what SafeConstructor.construct_yaml_str returns, without its overhead
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, TypeError, OverflowError, AttributeError) as exc:  # e.g. `!!int abc`
        tag = node.tag.rsplit(":", 1)[-1]
        raise YamlSyntaxError(f"invalid YAML value for tag {tag!r}: {exc}", node.start_mark.line + 1) from None
