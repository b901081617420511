"""Read a manifest file into a validated `Fleet`, or fail with every issue found.

Order: read → YAML (with lines, duplicate keys) → `${...}` references → schema (pydantic) →
lint. Nothing here talks to AWS.
"""
from __future__ import annotations

import functools
import gc
import re
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from fleetctl.controller import redact
from fleetctl.controller.errors import ManifestError, ManifestIssue
from fleetctl.controller.manifest.blockyaml import read_block
from fleetctl.controller.manifest.interpolate import (
    InterpolationError,
    Interpolator,
    TerraformOutputs,
    has_unresolved,
)
from fleetctl.controller.manifest.lint import lint
from fleetctl.controller.manifest.tfstate import read_terraform_file
from fleetctl.controller.manifest.models import Fleet
from fleetctl.controller.manifest.yamlsrc import YamlSyntaxError, load_located

MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class LoadedManifest:
    fleet: Fleet
    source: str
    tf_outputs: str | None
    # `${tf:name}` references left in place because no outputs file was at hand.
    unresolved_tf: frozenset[str] = frozenset()
    note: str | None = None


def load_manifest(
    path: str | os.PathLike[str],
    *,
    tf_outputs: str | os.PathLike[str] | TerraformOutputs | None = None,
    env: Mapping[str, str] | None = None,
    require_tf_outputs: bool = True,
) -> LoadedManifest:
    """Load and check a manifest file. Raises ManifestError listing every issue."""
    source = str(path)
    p = Path(path)
    try:
        if p.is_dir():
            raise _one(source, "is a directory, not a manifest file")
        # the size first: nothing larger than a manifest is read, let alone parsed
        if p.stat().st_size > MAX_BYTES:
            raise _too_large(source)
        with p.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)  # a file that grows (or /dev/zero) stops here too
    except FileNotFoundError:
        raise _one(source, "no such file") from None
    except PermissionError:
        raise _one(source, "permission denied") from None
    except OSError as exc:
        raise _one(source, f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise _too_large(source)
    if b"\x00" in raw:
        raise _one(source, "binary file, not a YAML manifest")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _one(source, f"not UTF-8 text (byte {exc.start}); not a YAML manifest") from None
    return parse_manifest(
        text,
        source=source,
        base_dir=p.parent,
        tf_outputs=tf_outputs,
        env=env,
        require_tf_outputs=require_tf_outputs,
    )


def _gc_paused(fn: Any) -> Any:
    """Run `fn` with the cyclic garbage collector off: parsing a manifest allocates hundreds of
    thousands of objects and no cycles, and collections triggered by that growth alone took
    two thirds of the time at 5,000 services. Whatever it leaves behind is collected after."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()
    return wrapper


@_gc_paused
def parse_manifest(
    text: str,
    *,
    source: str = "<manifest>",
    base_dir: Path = Path("."),
    tf_outputs: str | os.PathLike[str] | TerraformOutputs | None = None,
    env: Mapping[str, str] | None = None,
    require_tf_outputs: bool = True,
) -> LoadedManifest:
    located = _read_yaml(text, source)
    data = located.data

    issues: list[ManifestIssue] = []
    seen: set[ManifestIssue] = set()

    def add(path: tuple[str | int, ...], message: str) -> None:
        # a message never echoes a value from the environment or a URL's userinfo
        issue = ManifestIssue(source, format_path(path), redact.text(message), located.line_of(path) if path else None)
        if issue not in seen:
            seen.add(issue)
            issues.append(issue)

    for path, line in located.duplicates:
        issues.append(ManifestIssue(source, format_path(path), f"duplicate key {path[-1]!r} (the first one would be ignored)", line))
    for path, line, message in located.coerced:
        issues.append(ManifestIssue(source, format_path(path), message, line))

    interp = Interpolator(env=dict(os.environ if env is None else env))
    outputs_failed, note = _use_outputs(interp, data, base_dir, tf_outputs, require_tf_outputs, add)
    errors: list[tuple[tuple[str | int, ...], str]] = []
    if located.references is not None:  # the line reader's tree: resolved where it is, not walked
        interp.resolve_at(located.references.values(), errors)
        resolved = data
    else:
        resolved = interp.walk(data, (), errors)
    located.data = data = None  # only the resolved tree is read from here: the raw one goes before validation
    for path, message in errors:
        add(path, message)
    if interp.unresolved and require_tf_outputs and interp.outputs is None and not outputs_failed:
        names = sorted(interp.unresolved)
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        add((), f"{len(names)} ${{tf:...}} references ({shown}) need a terraform outputs file: "
                "set spec.terraformOutputs or pass --tf-outputs")

    fleet, suppressed = _validate(resolved, interp, add)
    if fleet is not None:
        for path, message in lint(fleet):
            add(path, message)

    if issues:
        issues.sort(key=lambda i: (i.line or 0, i.path))
        raise ManifestError(issues)
    if fleet is None:
        path, message = suppressed[0]
        raise ManifestError([ManifestIssue(
            source, format_path(path), f"{message} (a ${{tf:...}} value; pass --tf-outputs to check it)",
            located.line_of(path))])
    if interp.unresolved and note is None:
        note = "no terraform outputs file: ${tf:...} references were not checked"
    return LoadedManifest(
        fleet=fleet,
        source=source,
        tf_outputs=str(interp.outputs.source) if interp.outputs else None,
        unresolved_tf=frozenset(interp.unresolved),
        note=note if interp.unresolved else None,
    )


def _read_yaml(text: str, source: str) -> Any:
    """The document with its line numbers; a mapping, else a ManifestError."""
    if not text.strip():
        raise _one(source, "empty manifest: expected apiVersion, kind, metadata and spec")
    try:
        # plain block-style YAML is read a line at a time, the rest by libyaml; lines of paths
        # are found again (by libyaml) only for an issue's line
        located = read_block(text) or load_located(text, lines=False)
    except YamlSyntaxError as exc:
        raise ManifestError([ManifestIssue(source, "", str(exc), exc.line)]) from None
    data = located.data
    if data is None:
        raise _one(source, "empty manifest: expected apiVersion, kind, metadata and spec")
    if not isinstance(data, dict):
        kind = "nothing" if data is None else type(data).__name__
        raise ManifestError([ManifestIssue(source, "", f"expected a mapping with apiVersion, kind, metadata and spec, got {kind}", 1)])
    return located


def _use_outputs(interp: Interpolator, data: dict[str, Any], base_dir: Path, tf_outputs: Any,
                 require_tf_outputs: bool, add: Any) -> tuple[bool, str | None]:
    """Give `interp` the terraform outputs: values already read (stdin, S3) or a file
    (`terraform output -json` or a v4 state). Returns (the file failed, a note for the reader)."""
    outputs_path = None if isinstance(tf_outputs, TerraformOutputs) else _outputs_path(data, base_dir, tf_outputs, interp, add)
    if isinstance(tf_outputs, TerraformOutputs):
        interp.outputs = tf_outputs
    elif outputs_path is not None:
        try:
            interp.outputs = read_terraform_file(outputs_path)
        except InterpolationError as exc:
            interp.keep_unresolved_tf = True  # one error for the file, not one per reference
            if not outputs_path.exists() and tf_outputs is None and not require_tf_outputs:
                return False, f"terraform outputs file {outputs_path} not found: ${{tf:...}} references were not checked"
            add(("spec", "terraformOutputs") if tf_outputs is None else (), str(exc))
            return True, None
    else:
        interp.keep_unresolved_tf = True
    return False, None


def _validate(resolved: Any, interp: Interpolator, add: Any) -> tuple[Fleet | None, list[tuple[tuple[str | int, ...], str]]]:
    """The Fleet model of the resolved document, its errors reported through `add`; errors at
    unresolved ${tf:...} references are held back (returned) until the value is known."""
    suppressed: list[tuple[tuple[str | int, ...], str]] = []
    try:
        return Fleet.model_validate(resolved), suppressed
    except ValidationError as exc:
        for err in exc.errors():
            path = _data_path(resolved, err["loc"], err["type"])
            if interp.keep_unresolved_tf and has_unresolved(_get(resolved, path)):
                # a reference standing for a value of another type; checked once resolved
                suppressed.append((path, _message(err, path)))
                continue
            add(path, _message(err, path))
    return None, suppressed


def _outputs_path(data: dict[str, Any], base_dir: Path, option: Any, interp: Interpolator, add: Any) -> Path | None:
    if option is not None:
        return Path(option)
    spec = data.get("spec")
    declared = spec.get("terraformOutputs") if isinstance(spec, dict) else None
    if declared is None:
        return None
    if not isinstance(declared, str):
        add(("spec", "terraformOutputs"), "expected a file path")
        return None
    try:
        value = interp.value(declared)
    except InterpolationError as exc:
        add(("spec", "terraformOutputs"), str(exc))
        return None
    path = Path(value)
    return Path(os.path.normpath(path if path.is_absolute() else base_dir / path))


def _too_large(source: str) -> ManifestError:
    return _one(source, f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB; not a manifest")


def _one(source: str, message: str) -> ManifestError:
    return ManifestError([ManifestIssue(source, "", message)])


def format_path(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += ("." if out else "") + part
        else:
            out += f"[{part!r}]"
    return out


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$@/:-]+")


def _get(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _data_path(data: Any, loc: tuple[Any, ...], kind: str) -> tuple[str | int, ...]:
    """Map a pydantic error location onto the path in the YAML data."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif i == len(loc) - 1 and kind == "missing" and isinstance(part, str):
            path.append(part)
        # else: a union/validator tag such as 'str' or 'function-before[...]'; skip it
    return tuple(path)


_TYPE_MESSAGES = {
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected a whole number",
    "float_parsing": "expected a number",
    "string_type": "expected a string",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
}


def _message(err: Any, path: tuple[str | int, ...]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        key = path[-1] if path else err["loc"][-1]
        allowed = _allowed_keys(err["loc"][:-1])
        import difflib  # only for a hint

        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else (f" (allowed: {', '.join(allowed)})" if allowed else "")
        return f"unknown key {key!r}{hint}"
    if kind == "missing":
        return f"missing required key {str(path[-1]) if path else err['loc'][-1]!r}"
    if kind in _TYPE_MESSAGES:
        return f"{_TYPE_MESSAGES[kind]}, got {_type_name(err.get('input'))}"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        return msg[len("Value error, "):]
    if kind == "literal_error":
        return msg.replace("Input should be", "expected") + f", got {_short(err.get('input'))}"
    if kind == "string_pattern_mismatch":
        return f"{_short(err.get('input'))} does not match {err.get('ctx', {}).get('pattern')}"
    return msg[0].lower() + msg[1:] if msg else kind


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "nothing"}.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(redact.text(value) if isinstance(value, str) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The YAML keys accepted at a location, for 'did you mean' hints."""
    model: Any = Fleet
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return []
        model = _unwrap(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if origin is None or not args:
            return annotation
        if origin is typing.Annotated:
            annotation = args[0]
        elif origin in (list, tuple, set, frozenset):
            annotation = args[0]
        elif origin is dict:
            annotation = args[-1]
        else:  # Union / Optional
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else args[0]
