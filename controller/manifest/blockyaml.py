"""A fast reader for the plain block-style YAML that manifests are written in.

libyaml hands Python one object per event (a fleet of 5,000 services is 155,000 of them), and
that alone costs more than reading the file should. Most manifests use a small part of YAML:
block mappings and sequences, one-line plain or simply quoted scalars, one-line flow lists and
mappings of those, comments. This reader takes such text a line at a time and builds the same
`Located` as `yamlsrc.load_located(text, lines=False)`: the same data (YAML 1.1 scalars resolved
by PyYAML's own resolver and constructors), the same duplicate keys and coerced scalars with
the same paths and lines; and it notes where the strings with a `$` went (`references`), so
they are resolved there without walking the tree. Anything else — anchors, aliases, tags,
merge keys, block or multi-line scalars, escapes, tabs, carriage returns and control
characters, document markers, text libyaml would refuse — makes it decline (None), and libyaml
reads the text as before; so do errors. Whatever it returns, `load_located` would have returned
too (tests/controller/manifest/test_blockyaml.py compares the two on every fixture and on
mutated manifests).
"""
from __future__ import annotations

import functools
import re
from typing import Any

import yaml

from fleetctl.controller.manifest.yamlsrc import MAX_DEPTH, MAX_NODES, Located, Path, coercion

_STR = "tag:yaml.org,2002:str"
_TYPED = {"tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_PLAIN_IMPLICIT = (True, False)

# what YAML calls printable, less tabs, carriage returns, the other line breaks of YAML 1.1
# (NEL, LS, PS) and byte order marks: text with those goes to libyaml
_OTHER_CHARS = "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
# `key:` then a space or the end; libyaml refuses implicit keys longer than 1,024 characters
_KEY_TEXT = r"[A-Za-z0-9_][A-Za-z0-9_./-]{0,999}"
_DOUBLE = re.compile(r'"([^"\\]*)"(?: *$| +#.*$)')
_SINGLE = re.compile(r"'([^']*)'(?: *$| +#.*$)")
# one-line flow collections of plain or simply quoted scalars
# words of a plain scalar, spaces between them (no backtracking); a `:` only inside a word
_FLOW_WORD = r"(?:[^,\[\]{}#:?\"' ]|:(?=[A-Za-z0-9/._$~+-]))"
_FLOW_PLAIN = rf"(?:[A-Za-z0-9_./$~+]|-(?=[A-Za-z0-9_./$])){_FLOW_WORD}*(?: +{_FLOW_WORD}+)*"
_FLOW_SCALAR = rf"""(?:"[^"\\]*"|'[^']*'|{_FLOW_PLAIN})"""
_FLOW_SEQ = rf"\[ *(?:{_FLOW_SCALAR} *(?:, *{_FLOW_SCALAR} *)*)?\](?: *$| +#.*$)"
_FLOW_MAP = rf"\{{ *(?:{_KEY_TEXT}: +{_FLOW_SCALAR} *(?:, *{_KEY_TEXT}: +{_FLOW_SCALAR} *)*)?\}}(?: *$| +#.*$)"
# the same, checked a part at a time with string methods once quotes are ruled out: on this
# path a regular expression per scalar would cost more than everything else
_KEY_ONLY = re.compile(_KEY_TEXT)
_KEY_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_FLOW_SPECIAL = frozenset("[]{}#?")
_FLOW_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./$")
_FLOW_FIRST_NOT_DASH = _FLOW_FIRST | frozenset("~+")
_FLOW_COLON = re.compile(r":(?![A-Za-z0-9/._$~+-])")
_FLOW_ITEM = rf""" *(?:"([^"\\]*)"|'([^']*)'|({_FLOW_PLAIN}))"""
_FLOW_ENTRY = rf""" *({_KEY_TEXT}): +(?:"([^"\\]*)"|'([^']*)'|({_FLOW_PLAIN}))"""
# a plain scalar in block context may not start with an indicator (nor `-`, `?`, `:`, which
# start one only before a non-space: left to libyaml)
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")


def _key_text(key: str) -> bool:
    return 0 < len(key) <= 1000 and key[0] in _KEY_FIRST and key.isascii() \
        and (key.isalnum() or _KEY_ONLY.fullmatch(key) is not None)


def _split_key(body: str) -> tuple[str | None, str]:
    """(key, what follows `key:` and its spaces) of `key: ...`, or (None, "")."""
    colon = body.find(":")
    if colon <= 0 or body[colon + 1:colon + 2] not in (" ", "") or not _key_text(body[:colon]):
        return None, ""
    return body[:colon], body[colon + 1:].lstrip(" ")


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    """Patterns that take long to compile, compiled when first needed (not at every start-up)."""
    return re.compile(pattern)


class Decline(Exception):
    """The text is not in the subset: libyaml reads it."""


class _Frame:
    __slots__ = ("seq", "indent", "result", "path", "key", "key_line", "flush")

    def __init__(self, seq: bool, indent: int, path: Path, key: Any = None, key_line: int = 0,
                 flush: bool = False) -> None:
        self.seq = seq
        self.indent = indent
        self.result: Any = [] if seq else {}
        self.path = path
        self.key = key            # in the parent mapping; None: an item of the parent sequence
        self.key_line = key_line
        self.flush = flush        # a sequence at its mapping key's own indent (`key:\n- a`)


def read_block(text: str) -> Located | None:
    """The document as `load_located(text, lines=False)` reads it, or None if not in the subset."""
    # in ASCII text, str.isprintable() refuses exactly the control characters (one pass in C)
    if not text.replace("\n", "").isprintable() if text.isascii() else _compiled(_OTHER_CHARS).search(text):
        return None
    try:
        located = _Reader().run(text)
    except Decline:
        return None
    located.text = text  # for `line_of`, which reads it again with libyaml
    return located


class _Reader:
    def __init__(self) -> None:
        self.out = Located(data=None, references={})
        self.stack: list[_Frame] = []
        self.pending: tuple[_Frame, str, int] | None = None   # a key whose value is on later lines
        self.nodes = 0            # values and keys, as `load_located` counts them
        resolver = yaml.resolver.Resolver()
        self.resolve = resolver.resolve
        # PyYAML looks up implicit resolvers by a scalar's first character: text starting with
        # any other character is a string without asking
        self.typed_first = frozenset(resolver.yaml_implicit_resolvers)
        # first characters of a plain scalar that is a string
        self.simple_first = frozenset(map(chr, range(0x21, 0x7f))) - self.typed_first - _INDICATORS
        if None in self.typed_first:  # a resolver for any first character: always ask
            self.simple_first = frozenset()
        self.flow_strings = self.simple_first & _FLOW_FIRST_NOT_DASH
        self.tags: dict[str, str] = {}
        self.values: dict[tuple[str, str], tuple[Any, str | None]] = {}  # and why it is refused
        self.constructor = yaml.constructor.SafeConstructor()

    def run(self, text: str) -> Located:
        stack, simple, typed = self.stack, self.simple_first, self.typed_first
        lineno = 0
        for line in text.split("\n"):
            lineno += 1
            body = line.lstrip(" ")
            if not body or body[0] == "#":
                continue
            indent = len(line) - len(body)
            dash = body[0] == "-" and (body[1:2] == " " or len(body) == 1)
            if not stack:
                if indent or dash:
                    raise Decline
                self.nodes += 1
                stack.append(_Frame(False, 0, ()))
            top = stack[-1]
            if self.pending is not None or top.indent != indent or (top.flush and not dash):
                self._place(indent, dash)
                top = stack[-1]
                if top.indent != indent:
                    raise Decline  # a continuation line, a misplaced one, an error: libyaml's to read
            if top.seq != dash:
                raise Decline
            # the usual lines inline: `- text`, `- [..]`, `key: text`, `key: [..]`, `key:`
            if dash:
                value = body[2:].strip(" ")
                if value and value[0] in simple and ": " not in value and value[-1] != ":" and " #" not in value:
                    if "$" in value:
                        self._reference(top.result, len(top.result), top.path)
                    top.result.append(value)
                    self.nodes += 1
                elif value and value[0] in "[{\"'":  # not a key: the item's value
                    value = self._value(value, (*top.path, len(top.result)), lineno)
                    if value.__class__ is str and "$" in value:
                        self._reference(top.result, len(top.result), top.path)
                    top.result.append(value)
                else:
                    self._item(top, body, indent, lineno)
                continue
            colon = body.find(":")
            key = body[:colon]
            if not (0 < colon <= 1000 and body[colon + 1:colon + 2] in (" ", "") and key.isalnum()
                    and key.isascii() and key[0] not in typed):
                self._entry(top, *_split_key(body), lineno)  # any other key
                continue
            value = body[colon + 2:].strip(" ")
            if not value or value[0] == "#":
                self.nodes += 1
                self.pending = (top, key, lineno)
                continue
            if value[0] in simple and ": " not in value and value[-1] != ":" and " #" not in value:
                self.nodes += 2
            else:
                self.nodes += 1
                value = self._value(value, (*top.path, key), lineno)
            result = top.result
            if key in result:
                self.out.duplicates.append(((*top.path, key), lineno))
            if value.__class__ is str and "$" in value:
                self._reference(result, key, top.path)
            result[key] = value
        if not stack:
            raise Decline  # empty, or comments only
        self._place(-1, False)
        if self.nodes > MAX_NODES:
            raise Decline
        return self.out

    def _place(self, indent: int, dash: bool) -> None:
        """Open the block a waiting key starts, or give it null; close what this line ends."""
        stack = self.stack
        if self.pending is not None:
            frame, key, key_line = self.pending
            self.pending = None
            self.nodes += 1
            if indent > frame.indent or (indent == frame.indent and dash):
                if len(stack) >= MAX_DEPTH // 2:
                    raise Decline
                stack.append(_Frame(dash, indent, (*frame.path, key), key, key_line, flush=indent == frame.indent))
                return
            self._assign(frame, key, None, key_line)
        while stack:
            top = stack[-1]
            if top.indent > indent or (top.flush and top.indent == indent and not dash):
                stack.pop()
                self._close(top)
            else:
                return

    def _reference(self, container: Any, key: str | int, path: Path) -> None:
        """A string with a `$` (a `${...}` reference, maybe) is going to `container[key]`."""
        self.out.references[(id(container), key)] = (container, key, path)

    def _close(self, frame: _Frame) -> None:
        if not self.stack:
            self.out.data = frame.result
        elif frame.key is None:
            self.stack[-1].result.append(frame.result)
        else:
            self._assign(self.stack[-1], frame.key, frame.result, frame.key_line)

    def _assign(self, frame: _Frame, key: str, value: Any, line: int) -> None:
        if key in frame.result:
            self.out.duplicates.append(((*frame.path, key), line))
        frame.result[key] = value

    def _entry(self, frame: _Frame, key: str | None, rest: str, lineno: int) -> None:
        """`key: rest` (`_split_key`) in the mapping `frame`; `rest` empty: the value is on later lines."""
        if key is None:
            raise Decline
        if key[0] in self.typed_first and self._tag(key) != _STR:
            raise Decline  # `on:`, `1:`, `null:`: keys YAML reads as something else
        self.nodes += 1
        if not rest or rest[0] == "#":
            self.pending = (frame, key, lineno)
            return
        if rest[0] in self.simple_first:  # a string, unless it goes on: `_value` for the rest
            cut = rest.find(" #")
            value = (rest if cut < 0 else rest[:cut]).rstrip(" ")
            if ": " in value or value[-1] == ":":
                raise Decline
            self.nodes += 1
        else:
            value = self._value(rest, (*frame.path, key), lineno)
        result = frame.result
        if key in result:
            self.out.duplicates.append(((*frame.path, key), lineno))
        if value.__class__ is str and "$" in value:
            self._reference(result, key, frame.path)
        result[key] = value

    def _item(self, frame: _Frame, body: str, indent: int, lineno: int) -> None:
        """`- value` or `- key: ...` (a mapping that goes on at the key's column)."""
        rest = body[2:].lstrip(" ")
        if not rest or rest[0] in "#-":
            raise Decline  # an item on later lines, or a sequence in a sequence
        path = (*frame.path, len(frame.result))
        key, value = _split_key(rest)
        if key is not None:
            if len(self.stack) >= MAX_DEPTH // 2:
                raise Decline
            self.nodes += 1
            mapping = _Frame(False, indent + len(body) - len(rest), path)
            self.stack.append(mapping)
            self._entry(mapping, key, value, lineno)
            return
        value = self._value(rest, path, lineno)
        if value.__class__ is str and "$" in value:
            self._reference(frame.result, len(frame.result), frame.path)
        frame.result.append(value)

    def _tag(self, text: str) -> str:
        tag = self.tags.get(text)
        if tag is None:
            tag = self.tags[text] = self.resolve(yaml.ScalarNode, text, _PLAIN_IMPLICIT)
        return tag

    def _value(self, rest: str, path: Path, lineno: int) -> Any:
        """A value that starts and ends on this line (`rest` has no leading spaces)."""
        first = rest[0]
        if first == '"' or first == "'":
            m = (_DOUBLE if first == '"' else _SINGLE).match(rest)
            if m is None:
                raise Decline
            self.nodes += 1
            return m.group(1)
        if first == "[" or first == "{":
            close = rest.find("]" if first == "[" else "}")
            inner = rest[1:close]
            if close < 0 or '"' in inner or "'" in inner or rest[close + 1:].strip(" ") \
                    or not _FLOW_SPECIAL.isdisjoint(inner):  # quotes, a comment: the exact patterns
                return self._flow(rest, path, lineno, *((_compiled(_FLOW_SEQ), _compiled(_FLOW_ITEM), []) if first == "["
                                                        else (_compiled(_FLOW_MAP), _compiled(_FLOW_ENTRY), {})))
            return self._flow_seq(inner, path, lineno) if first == "[" else self._flow_map(inner, path, lineno)
        if first in _INDICATORS:
            raise Decline
        cut = rest.find(" #")
        text = (rest if cut < 0 else rest[:cut]).rstrip(" ")
        if ": " in text or text[-1] == ":":
            raise Decline
        self.nodes += 1
        return text if first not in self.typed_first else self._plain(text, path, lineno)

    def _plain(self, text: str, path: Path, lineno: int) -> Any:
        """A plain scalar as YAML 1.1 reads it; a coercion is noted as `load_located` notes it."""
        tag = self._tag(text)
        if tag == _STR:
            return text
        if tag not in _TYPED:
            raise Decline  # timestamps, merge keys, `=`: left to libyaml
        key = (tag, text)
        if key in self.values:
            value, why = self.values[key]
        else:
            try:
                value = self.constructor.construct_object(yaml.ScalarNode(tag, text, None, None, ""), deep=True)
            except Exception:  # noqa: BLE001 - whatever it is, libyaml's path reports it
                raise Decline from None
            why = coercion(tag, "", text, value)
            self.values[key] = value, why
        if why:
            self.out.coerced.append((path, lineno, why))
        return value

    def _flow(self, rest: str, path: Path, lineno: int, whole: re.Pattern[str], part: re.Pattern[str],
              out: Any) -> Any:
        """A one-line flow sequence (`out` a list) or mapping (`out` a dict)."""
        seq = out.__class__ is list
        close = rest.find("]" if seq else "}")
        inner = rest[1:close]
        if close < 0 or '"' in inner or "'" in inner:
            m = whole.match(rest)  # quoted scalars: the slower, exact pattern
            if m is None:
                raise Decline
            inner = rest[1:rest.rindex("]" if seq else "}", 0, m.end())]
            parts: Any = [found.groups() for found in part.finditer(inner)]
        else:
            tail = rest[close + 1:]
            after = tail.lstrip(" ")
            if after and (after[0] != "#" or after == tail) or not _FLOW_SPECIAL.isdisjoint(inner):
                raise Decline
            if not inner.strip(" "):
                parts = []
            elif seq:  # no quotes: the commas split it
                parts = [(None, None, item) for item in inner.split(",")]
            else:
                parts = [(key, None, None, value) for key, _, value in (e.partition(":") for e in inner.split(","))]
        self.nodes += 1
        for found in parts:
            if seq:
                double, single, plain = found
                key, where = None, (*path, len(out))
            else:
                key, double, single, plain = found
                key = self._flow_key(key, plain)
                where = (*path, key)
            self.nodes += 1
            value = double if double is not None else single if plain is None else self._flow_plain(plain, where, lineno)
            if value.__class__ is str and "$" in value:
                self._reference(out, len(out) if seq else key, path)
            if seq:
                out.append(value)
            else:
                if key in out:
                    self.out.duplicates.append((where, lineno))
                out[key] = value
        return out

    def _flow_seq(self, inner: str, path: Path, lineno: int) -> list[Any]:
        """`[a, b]` without quotes or comment: the commas split it."""
        out: list[Any] = []
        strings = self.flow_strings
        for item in inner.split(",") if inner.strip(" ") else ():
            item = item.strip(" ")
            value = item if item and item[0] in strings and ":" not in item \
                else self._flow_plain(item, (*path, len(out)), lineno)
            if value.__class__ is str and "$" in value:
                self._reference(out, len(out), path)
            out.append(value)
        self.nodes += 1 + len(out)
        return out

    def _flow_map(self, inner: str, path: Path, lineno: int) -> dict[str, Any]:
        """`{a: b, c: d}` without quotes or comment: the commas split it, the first colons split those."""
        out: dict[str, Any] = {}
        strings = self.flow_strings
        entries = inner.split(",") if inner.strip(" ") else []
        for entry in entries:
            key, _, value = entry.partition(":")
            key = self._flow_key(key, value)
            value = value.strip(" ")
            value = value if value and value[0] in strings and ":" not in value \
                else self._flow_plain(value, (*path, key), lineno)
            if key in out:
                self.out.duplicates.append(((*path, key), lineno))
            if value.__class__ is str and "$" in value:
                self._reference(out, key, path)
            out[key] = value
        self.nodes += 1 + len(entries)  # and a key each, counted by `_flow_key`
        return out

    def _flow_key(self, key: str, value: str | None) -> str:
        if value is not None and value[:1] != " ":
            raise Decline  # `key:value`, which is one scalar in a flow mapping
        key = key.strip(" ")
        if not _key_text(key) or key[0] in self.typed_first and self._tag(key) != _STR:
            raise Decline
        self.nodes += 1
        return key

    def _flow_plain(self, text: str, path: Path, lineno: int) -> Any:
        text = text.strip(" ")
        if not text or not (text[0] in _FLOW_FIRST_NOT_DASH or text[0] == "-" and text[1:2] in _FLOW_FIRST) \
                or ":" in text and _FLOW_COLON.search(text):
            raise Decline
        return text if text[0] not in self.typed_first else self._plain(text, path, lineno)
