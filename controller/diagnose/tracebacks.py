"""Python tracebacks and structured log lines, parsed from a container's log tail. Pure: no I/O.

A log tail arrives as CloudWatch events: one line each (awslogs without a multiline pattern),
a whole traceback in one event (with one), or JSON records whose `exc_info`/`exception`/
`exc_text`/`stack_trace` field holds the traceback. `parse_log` flattens all of these into
`Record`s in log order:

- an `Exception` record for every exception of every traceback: type, message (with its
  continuation lines, as pydantic prints them), the module of the frame that raised it, its
  position in the chain (`depth` 0 is the earliest cause: Python prints causes first, joined by
  "During handling of the above exception…" or "…was the direct cause…"), and for exception
  groups (3.11+, the `| ` boxed form) the members as exceptions of their own;
- a plain `line` record for everything else (a JSON record contributes its message text and
  the fields rules may look at).

Tracebacks of Python 3.9 to 3.13 differ in caret lines (`^^^^`, `~~~^^^`), `<frozen os>` frames
and group boxes; all are skipped or unwrapped here, so rules never see them.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Iterable

_TRACEBACK = re.compile(r"^(?:[\w.]+: )?Traceback \(most recent call last\):\s*$")
_GROUP_TRACEBACK = re.compile(r"^\+ Exception Group Traceback \(most recent call last\):\s*$")
_CHAIN = re.compile(r"^(?:During handling of the above exception, another exception occurred:"
                    r"|The above exception was the direct cause of the following exception:)\s*$")
_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line \d+(?:, in (?P<func>.+))?')
_EXC_LINE = re.compile(r"^(?P<type>(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Warning|Group"
                       r"|Violation|Timeout|Refused|NotFound|Failure|Denied|Invalid|error|gaierror|herror"
                       r"|timeout|StopIteration|Iteration|Skew|Mismatch)?)(?::(?: (?P<msg>.*))?)?$")
_PREFIX = re.compile(  # `aws logs tail`/docker prefixes: timestamp [stream]
    r"^(?:\d{4}-\d\d-\d\d[T ][\d:.,]+(?:Z|[+-]\d\d:?\d\d)? (?:[\w./-]+/[\w-]{8,} )?)")
_LEVEL_PREFIX = re.compile(r"^(?:\[?(?:ERROR|CRITICAL|FATAL|WARNING|WARN|INFO|DEBUG|error|critical|fatal)\]?[:\s]"
                           r"|\d{4}-\d\d-\d\d[ T]\d\d:\d\d)")
_CARETS = re.compile(r"[\s^~]+")
_SUB = re.compile(r"\(\d+ sub-exceptions?\)")
_BOX_PREFIX = re.compile(r"^\s*(?:\+-[-+ \d.]*$|\+ (?=Exception Group)|\| ?)")
_EXC_FIELDS = ("exc_info", "exception", "exc_text", "stack_trace", "stack", "traceback", "exc", "error.stack")
_MSG_FIELDS = ("msg", "message", "event", "error", "err", "detail", "reason")
MAX_MESSAGE = 2000
MAX_LINE = 8000   # a plain log line longer than this is cut (rules look at its beginning)


@dataclass(frozen=True)
class Frame:
    path: str
    func: str
    source: str = ""              # the source line Python printed under it, if any

    @property
    def module(self) -> str:
        return module_of(self.path)


@dataclass
class Exc:
    type: str                     # as printed: `nats.errors.NoServersError`, `KeyError`
    message: str
    frames: list[Frame] = field(default_factory=list)
    depth: int = 0                # position in its chain: 0 = printed first = the earliest cause
    chain: int = 0                # which traceback (chain) of the log this belongs to
    group_member: bool = False
    is_group: bool = False
    last_in_chain: bool = False

    @property
    def name(self) -> str:
        return self.type.rsplit(".", 1)[-1]

    @property
    def module(self) -> str:
        """Module of the frame that raised it ('' when the traceback showed no frame)."""
        if "." in self.type and not self.type.startswith("builtins."):
            qual = self.type.rsplit(".", 1)[0]
            if not qual.startswith("__main__"):
                return qual
        for frame in reversed(self.frames):
            mod = frame.module
            if mod and not mod.startswith(("asyncio", "concurrent", "runpy", "importlib", "<")):
                return mod
        return self.frames[-1].module if self.frames else ""

    @property
    def origin(self) -> str:
        """Top-level package the exception comes from: nats, pydantic, google, grpc, botocore, app, …"""
        mod = self.module
        if "." in self.type:
            mod = self.type.rsplit(".", 1)[0]
        return mod.split(".", 1)[0] if mod else ""

    @property
    def text(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


@dataclass
class Record:
    """One thing the log said: an exception (exc is set) or a plain line."""

    index: int
    text: str
    exc: Exc | None = None
    fields: dict[str, str] = field(default_factory=dict)


def module_of(path: str) -> str:
    """`/usr/local/lib/python3.11/site-packages/nats/aio/client.py` -> `nats.aio.client`."""
    path = path.replace("\\", "/")
    if path.startswith("<frozen "):
        return path[8:].rstrip(">").strip()
    if path.startswith("<"):
        return path
    for marker in ("site-packages/", "dist-packages/"):
        if marker in path:
            path = path.rsplit(marker, 1)[1]
            break
    else:
        m = re.search(r"/lib/python\d(?:\.\d+)?/(.+)$", path)
        if m:
            path = m.group(1)
        else:
            path = path.lstrip("./")
            for root in ("app/", "srv/", "code/", "src/", "opt/", "usr/src/app/", "home/"):
                if path.startswith(root):
                    path = path[len(root):]
    path = re.sub(r"\.pyc?$", "", path)
    path = re.sub(r"/__init__$", "", path)
    return path.replace("/", ".")


def _firelens(event: str) -> str | None:
    """FireLens/Fluent Bit wraps each line as {"log": "...", "source": "stderr", "container_name": ...}."""
    if not (event.startswith('{"') and '"log"' in event):
        return None
    doc = _json_record(event)
    if doc is None or not isinstance(doc.get("log"), str):
        return None
    if not ({"source", "container_name", "container_id", "ecs_task_arn", "stream"} & doc.keys()):
        return None
    return str(doc["log"]).rstrip("\n")


def events_to_lines(events: Iterable[str]) -> list[str]:
    """CloudWatch events -> lines: multi-line events split, `aws logs tail` prefixes and FireLens
    records unwrapped."""
    out: list[str] = []
    for event in events:
        if event is None:
            continue
        event = str(event)
        inner = _firelens(event)
        if inner is not None:
            event = inner
        for line in event.replace("\r\n", "\n").split("\n"):
            out.append(_PREFIX.sub("", line, count=1) if line[:4].isdigit() else line)
    while out and not out[-1].strip():
        out.pop()
    return out


def _json_record(line: str) -> dict | None:
    s = line.strip()
    if not (s.startswith("{") and s.endswith("}")):
        return None
    try:
        doc = json.loads(s)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _flatten(doc: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in doc.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, list) and all(isinstance(x, str) for x in v):
            out[key] = "\n".join(v) if any("\n" in x or x.startswith("  ") for x in v) or key.endswith(
                ("exc_info", "exception", "stack", "traceback", "stack_trace")) else " ".join(v)
        elif v is not None:
            out[key] = str(v)
    return out


class _Parser:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self.chain = 0

    def parse_lines(self, lines: list[str], base_fields: dict[str, str] | None = None) -> None:
        i = 0
        n = len(lines)
        while i < n:
            line = lines[i]
            stripped = line.strip()
            if ("Traceback (" in stripped and (_TRACEBACK.match(stripped) or _GROUP_TRACEBACK.match(stripped))) \
                    or (stripped[:6] == 'File "' and _FRAME.match(line)):
                # a traceback, or a SyntaxError of the main script (printed without the Traceback line)
                i = self._traceback(lines, i, base_fields)
                continue
            doc = _json_record(line) if stripped[:1] == "{" else None
            if doc is not None:
                self._json(doc)
                i += 1
                continue
            if stripped:
                text = line.rstrip()
                if len(text) > MAX_LINE:
                    text = text[:MAX_LINE]
                self.records.append(Record(len(self.records), text, fields=dict(base_fields or {})))
            i += 1

    def _json(self, doc: dict) -> None:
        fields = _flatten(doc)
        exc_text = next((fields[k] for k in _EXC_FIELDS if k in fields and fields[k]), None)
        message = " ".join(fields[k] for k in _MSG_FIELDS if k in fields and fields[k] and len(fields[k]) < 4000
                           and "Traceback (most recent call last)" not in fields[k])
        shown = {k: v for k, v in doc.items() if k not in _EXC_FIELDS} if exc_text else doc
        text = json.dumps(shown, separators=(",", ":"), default=str)
        self.records.append(Record(len(self.records), text if len(text) < 4000 else message, fields=fields))
        if exc_text:
            sub = events_to_lines([exc_text])
            if not any(_TRACEBACK.match(s.strip()) or _GROUP_TRACEBACK.match(s.strip()) for s in sub):
                # a bare "Type: message" (structlog's format_exc_info off, or exception=str(e))
                m = _EXC_LINE.match(sub[-1].strip()) if sub else None
                if m and m.group("msg") is not None:
                    self._add_exc(Exc(m.group("type"), m.group("msg") or "", [], 0, self.chain, last_in_chain=True), fields)
                    self.chain += 1
                return
            self.parse_lines(sub, fields)

    def _add_exc(self, exc: Exc, fields: dict[str, str] | None = None) -> None:
        self.records.append(Record(len(self.records), exc.text, exc, dict(fields or {})))

    def _traceback(self, lines: list[str], i: int, fields: dict[str, str] | None) -> int:
        """Parse from a `Traceback` line to the end of its chain; returns the next index."""
        n = len(lines)
        block = [_unbox_line(lines[i])]
        expecting_exc = True     # frames seen, the exception line still to come
        j = i + 1
        while j < n:
            raw = lines[j]
            st = raw.strip()
            boxed = st[:1] in ("|", "+")
            u = _unbox_line(raw) if boxed else raw
            st = u.strip() if boxed else st
            if not st and raw.strip():
                j += 1                          # a group box's border
                continue
            if not st:
                k = j + 1
                while k < n and not lines[k].strip():
                    k += 1
                after_chain = bool(_CHAIN.match(block[-1].strip()))
                if k < n and (_CHAIN.match(_unbox_line(lines[k]).strip()) or lines[k].lstrip().startswith(("|", "+-"))
                              or (after_chain and _TRACEBACK.match(lines[k].strip()))):
                    j = k
                    continue
                break
            is_frame = st[:6] == 'File "' and _FRAME.match(u) is not None
            if "Traceback (" in st and (_TRACEBACK.match(st) or _GROUP_TRACEBACK.match(st)
                                        or st.startswith("Exception Group Traceback")):
                expecting_exc = True
            elif st[:6] in ("During", "The ab") and _CHAIN.match(st):
                expecting_exc = True
            elif is_frame or u[:1].isspace() or boxed:
                if is_frame:
                    expecting_exc = True
                elif boxed and not u[:1].isspace():
                    expecting_exc = False
            elif expecting_exc:
                expecting_exc = False           # the exception line
            else:
                # after the exception: a continuation only if it introduces an indented line (pydantic)
                nxt = lines[j + 1] if j + 1 < n else ""
                if not (nxt[:1].isspace() and nxt.strip() and not _FRAME.match(nxt)) or (
                        st[:1] == "{" and _json_record(raw) is not None) or _LEVEL_PREFIX.match(st):
                    break
            block.append(u)
            j += 1
        self._chain_block(block, fields)
        self.chain += 1
        return j

    def _chain_block(self, block: list[str], fields: dict[str, str] | None) -> None:
        frames: list[Frame] = []
        excs: list[Exc] = []
        current: Exc | None = None
        cont: list[str] = []
        group: Exc | None = None

        def close() -> None:
            nonlocal current, cont
            if current is not None and cont:
                current.message = (current.message + "\n" + "\n".join(cont)).strip()[:MAX_MESSAGE]
            current, cont = None, []

        for raw in block:
            st = raw.strip()
            if not st:
                continue
            if ("Traceback (" in st and (_TRACEBACK.match(st) or _GROUP_TRACEBACK.match(st)
                                         or st.startswith("Exception Group Traceback"))) \
                    or (st[:6] in ("During", "The ab") and _CHAIN.match(st)):
                close()
                frames = []
                continue
            fm = _FRAME.match(raw) if st[:6] == 'File "' else None
            if fm:
                close()
                frames.append(Frame(fm.group("path"), fm.group("func") or ""))
                continue
            if current is None and frames and raw[:1].isspace() and not frames[-1].source \
                    and not _CARETS.fullmatch(raw):
                frames[-1] = Frame(frames[-1].path, frames[-1].func, st)
                continue
            if current is not None:
                cont.append(st)
                continue
            if raw[:1].isspace():
                continue                        # source and caret lines
            m = _EXC_LINE.match(st)
            if m is None:
                continue
            is_group = m.group("type").endswith("Group") and bool(_SUB.search(m.group("msg") or ""))
            current = Exc(m.group("type"), (m.group("msg") or "")[:MAX_MESSAGE], frames, 0, self.chain,
                          group_member=group is not None and not is_group, is_group=is_group)
            excs.append(current)
            if is_group:
                group = current
            frames = []
        close()
        for depth, exc in enumerate(excs):
            exc.depth = depth
        if excs:
            excs[-1].last_in_chain = True
            for e in excs:
                if e.is_group:
                    e.last_in_chain = True
        for exc in excs:
            self._add_exc(exc, fields)


def _unbox_line(line: str) -> str:
    """Exception groups print members inside `| ` boxes: strip the box so they parse like any traceback."""
    s = line
    for _ in range(8):
        if s.lstrip()[:1] not in ("|", "+"):
            break
        m = _BOX_PREFIX.match(s)
        if not m:
            break
        if s.lstrip().startswith("+-"):
            return ""
        s = s[m.end():]
    return s


def parse_log(events: Iterable[str] | None) -> list[Record]:
    """Every exception and every other line of a log tail, in log order."""
    if not events:
        return []
    parser = _Parser()
    parser.parse_lines(events_to_lines(events))
    return parser.records


def exceptions(records: list[Record]) -> list[Exc]:
    return [r.exc for r in records if r.exc is not None]
