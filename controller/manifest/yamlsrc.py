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
    # read without `lines`: the text, read again for them when a line is first asked for
    text: str | None = field(default=None, repr=False)
    # where the strings with a `$` are, as {(id(container), key): (container, key, container's path)}:
    # `data` shares no mapping or list and references are resolved there (None: walk `data`)
    references: dict[tuple[int, str | int], tuple[Any, str | int, Path]] | None = field(default=None, repr=False)

    def line_of(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        if self.text is not None:
            self.lines, self.text = load_located(self.text).lines, None
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

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = super().resolve(kind, value, implicit)
        return tag


def load_located(text: str, *, lines: bool = True) -> Located:
    """Parse exactly one YAML document into data with line numbers.

    Built straight from libyaml's events with an explicit stack: no node tree is composed and
    nothing recurses, so depth, alias loops and alias bombs are bounded here, event by event.
    `lines=False`: the line of every path is found only if one is asked for (`line_of` reads
    the text again), which a valid manifest never does: a tuple per value less to build and
    to hold while the manifest is validated. Duplicates and coercions keep their lines."""
    loader = _SafeLoader(text)
    try:
        located = _EventBuilder(loader, lines).run()
        if not lines:
            located.text = text
        return located
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or str(exc)
        if exc.context:
            problem = f"{problem} ({exc.context})"
        raise YamlSyntaxError(f"invalid YAML: {problem}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {' '.join(str(exc).split())}", None) from None
    finally:
        loader.dispose()


MAX_NODES = 200_000

_MERGE = "tag:yaml.org,2002:merge"
_NO_KEY = object()
_IMMUTABLE = (int, float, bool, type(None))


class _Frame:
    """An open mapping or sequence: what is built so far and where it sits."""

    __slots__ = ("result", "path", "anchor", "line", "key", "key_line", "merges", "nodes", "depth")

    def __init__(self, result: Any, path: Path, anchor: str | None, line: int) -> None:
        self.result = result
        self.path = path
        self.anchor = anchor
        self.line = line
        self.key: Any = _NO_KEY       # a mapping's key waiting for its value
        self.key_line = 0
        self.merges: list[Any] | None = None  # `<<` sources, applied when the mapping closes
        self.nodes = 1                # values in this subtree, for aliases of it
        self.depth = 1                # nesting below and including this collection


class _EventBuilder:
    def __init__(self, loader: _SafeLoader, lines: bool = True) -> None:
        self.loader = loader
        self.track = lines
        self.out = Located(data=None)
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int, int]] = {}   # name -> (value, nodes, depth)
        self.nodes = 0
        self.scalars: dict[tuple[str, str], Any] = {}

    def run(self) -> Located:
        get = self.loader.get_event
        get()  # StreamStart
        if self.loader.check_event(yaml.StreamEndEvent):
            return self.out
        get()  # DocumentStart
        self._document(get)
        get()  # DocumentEnd
        if not self.loader.check_event(yaml.StreamEndEvent):
            event = get()
            raise yaml.composer.ComposerError("expected a single document in the stream", None,
                                              "but found another document", event.start_mark)
        return self.out

    def _document(self, get: Any) -> None:
        stack, lines, resolve, track = self.stack, self.out.lines, self.loader.resolve, self.track
        scalar_event = yaml.ScalarEvent
        while True:
            event = get()
            cls = type(event)
            line = event.start_mark.line + 1
            if cls is scalar_event and stack and event.anchor is None and event.tag is None \
                    and resolve(yaml.ScalarNode, event.value, event.implicit) == _STR:
                # the common case, inlined: a string scalar inside a collection
                self.nodes += 1
                if self.nodes > MAX_NODES:
                    self._count(0, line)
                frame = stack[-1]
                frame.nodes += 1
                result = frame.result
                if result.__class__ is list:
                    if track:
                        lines.setdefault((*frame.path, len(result)), line)
                    result.append(event.value)
                elif frame.key is _NO_KEY:
                    frame.key, frame.key_line = event.value, line
                else:
                    self._value(frame, event.value, line, False)
                continue
            if cls is yaml.ScalarEvent:
                self._new_anchor(event)
                value = self._scalar(event, line)
                if event.anchor is not None:
                    self.anchors[event.anchor] = (value, 1, 0)
                done = self._attach(value, line, 1, 0)
            elif cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
                self._open(event, line, {} if cls is yaml.MappingStartEvent else [])
                continue
            elif cls is yaml.MappingEndEvent or cls is yaml.SequenceEndEvent:
                frame = stack.pop()
                value = self._close(frame)
                if frame.anchor is not None:
                    self.anchors[frame.anchor] = (value, frame.nodes, frame.depth)
                done = self._attach(value, frame.line, frame.nodes, frame.depth, opened=True)
            elif cls is yaml.AliasEvent:
                done = self._alias(event, line)
            else:
                raise YamlSyntaxError(f"invalid YAML: unexpected {cls.__name__}", line)
            if done:
                return

    def _new_anchor(self, event: Any) -> None:
        name = event.anchor
        if name is not None and (name in self.anchors or any(f.anchor == name for f in self.stack)):
            raise yaml.composer.ComposerError(f"found duplicate anchor {name!r}", None,
                                              "second occurrence", event.start_mark)

    def _count(self, nodes: int, line: int) -> None:
        self.nodes += nodes
        if self.nodes > MAX_NODES:
            raise YamlSyntaxError(f"invalid YAML: more than {MAX_NODES} values (alias expansion?)", line)

    def _child_path(self) -> Path:
        if not self.stack:
            return ()
        frame = self.stack[-1]
        if isinstance(frame.result, list):
            return (*frame.path, len(frame.result))
        if frame.key is _NO_KEY:
            return frame.path  # a key: it has no path of its own
        return (*frame.path, frame.key if isinstance(frame.key, str) else str(frame.key))

    def _open(self, event: Any, line: int, result: Any) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise YamlSyntaxError(f"invalid YAML: nested deeper than {MAX_DEPTH} levels", line)
        self._new_anchor(event)
        self._count(1, line)
        path = self._child_path()
        if self.track:
            self.out.lines.setdefault(path, line)
        self.stack.append(_Frame(result, path, event.anchor, line))

    def _alias(self, event: Any, line: int) -> bool:
        name = event.anchor
        if any(f.anchor == name for f in self.stack):
            raise YamlSyntaxError("invalid YAML: an alias refers to its own ancestor", line)
        if name not in self.anchors:
            raise yaml.composer.ComposerError(None, None, f"found undefined alias {name!r}", event.start_mark)
        value, nodes, depth = self.anchors[name]
        if len(self.stack) + depth > MAX_DEPTH:  # aliases can nest what each anchor kept shallow
            raise YamlSyntaxError(f"invalid YAML: nested deeper than {MAX_DEPTH} levels (through aliases)", line)
        self._count(nodes, line)
        return self._attach(value, line, nodes, depth, alias=True)

    def _attach(self, value: Any, line: int, nodes: int, depth: int, *, opened: bool = False,
                alias: bool = False) -> bool:
        """Hand a finished value to its parent; True when it was the document's root."""
        if not opened and not alias:
            self._count(1, line)
        if not self.stack:
            self.out.data = value
            if not opened and self.track:
                self.out.lines.setdefault((), line)
            return True
        frame = self.stack[-1]
        frame.nodes += nodes
        frame.depth = max(frame.depth, depth + 1)
        if isinstance(frame.result, list):
            if not opened and self.track:
                self.out.lines.setdefault((*frame.path, len(frame.result)), line)
            frame.result.append(value)
        elif frame.key is _NO_KEY:
            self._key(frame, value, line)
        else:
            self._value(frame, value, line, opened)
        return False

    def _key(self, frame: _Frame, key: Any, line: int) -> None:
        if key is not _MergeKey and not isinstance(key, (str, int, float, bool)) or key is None:
            key = str(key)
        frame.key, frame.key_line = key, line

    def _value(self, frame: _Frame, value: Any, line: int, opened: bool) -> None:
        key, frame.key = frame.key, _NO_KEY
        if key is _MergeKey:
            frame.merges = (frame.merges or []) + (value if isinstance(value, list) else [value])
            return
        if key in frame.result:  # merged keys join at the end: these are explicit ones only
            self.out.duplicates.append(((*frame.path, key if key.__class__ is str else str(key)), frame.key_line))
        if self.track:
            self.out.lines[(*frame.path, key if key.__class__ is str else str(key))] = frame.key_line
        frame.result[key] = value

    def _close(self, frame: _Frame) -> Any:
        if frame.merges is None:
            return frame.result
        merged: dict[Any, Any] = {}
        for source in reversed(frame.merges):  # the first source wins over later ones
            if not isinstance(source, dict):
                raise YamlSyntaxError("invalid YAML: a merge key (<<) needs a mapping or a list of mappings",
                                      frame.line)
            merged.update(source)
        merged.update(frame.result)
        return merged

    def _scalar(self, event: Any, line: int) -> Any:
        tag = event.tag
        text = event.value
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, text, event.implicit)
        if tag == _STR:
            return text
        if tag == _MERGE and self.stack and not isinstance(self.stack[-1].result, list) \
                and self.stack[-1].key is _NO_KEY:
            return _MergeKey
        cached = self.scalars.get((tag, text))
        if cached is not None or (tag, text) in self.scalars:
            value = cached
        else:
            node = yaml.ScalarNode(tag, text, event.start_mark, event.end_mark, event.style)
            value = _construct(self.loader, node)
            if isinstance(value, _IMMUTABLE):
                self.scalars[(tag, text)] = value
        why = coercion(tag, event.style, text, value)
        if why:
            path = self._child_path()
            if self.stack and not isinstance(self.stack[-1].result, list) and self.stack[-1].key is _NO_KEY:
                path = (*path, text)  # a key: reported at the path it names, kept as written
                self.out.coerced.append((path, line, why))
                return text
            self.out.coerced.append((path, line, why))
        return value


class _MergeKeyType:
    def __repr__(self) -> str:
        return "<<"


_MergeKey = _MergeKeyType()


_PLAIN_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")


def coercion(tag: str | None, style: str | None, text: str, value: Any) -> str | None:
    """Why a plain (unquoted, untagged) scalar is refused: YAML 1.1 reads it as a value whose text
    differs from what was written (`NO` -> false, `0755` -> 493, `12:30` -> 750, `1.10` -> 1.1,
    `2024-01-01` -> a date). YAML 1.2 reads several of them differently again; quoting keeps the
    text in both. None when the scalar is what it looks like."""
    # a plain scalar's style is None from PyYAML's parser, "" from libyaml's
    if style or tag is None:
        return None
    if tag == "tag:yaml.org,2002:bool":
        if text.lower() in ("true", "false"):
            return None
        meaning = plain = "true" if value else "false"
    elif tag == "tag:yaml.org,2002:int":
        if _PLAIN_INT.fullmatch(text):
            return None
        plain = str(value)
        meaning = f"the number {plain}"
    elif tag == "tag:yaml.org,2002:float":
        try:
            if repr(float(text)) == text.lstrip("+"):
                return None
        except ValueError:
            pass
        plain = repr(value) if value == value and abs(value) != float("inf") else None
        meaning = f"the number {value!r}"
    elif tag == "tag:yaml.org,2002:timestamp":
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
