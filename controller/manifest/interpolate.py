"""`${VAR}`, `${VAR:-default}` and `${tf:name}` references in manifest values.

Environment references always resolve (an unset variable without a default is an error naming
it). The environment is a trust boundary: a variable named like a credential (AWS keys, anything
with SECRET, TOKEN, PASSWORD, KEY, CREDENTIAL in its name) is refused, since its value would be
stored in plain text in the task definition; such values belong in `secrets:`. Every value taken
from the environment is registered with controller.redact, so no message echoes it. Terraform references resolve from a `terraform output -json` file; when no file is at hand
(`validate` of a manifest whose infrastructure outputs are produced elsewhere), they can be left
in place so the structure is still checked.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetctl.controller import redact

_REF = re.compile(r"\$\$|\$\{(?P<body>[^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TF_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
UNRESOLVED_TF = re.compile(r"\$\{tf:[^}]*\}")
MAX_OUTPUTS_BYTES = 16 * 1024 * 1024
_PLAIN = (bool, int, float, type(None))  # values a reference is never found in


class InterpolationError(Exception):
    pass


@dataclass(frozen=True)
class TerraformOutputs:
    """Values of `terraform output -json`: {name: {"value": ..., "sensitive": bool, ...}}."""

    source: str
    values: Mapping[str, Any]
    sensitive: frozenset[str] = frozenset()

    @classmethod
    def read(cls, path: Path) -> "TerraformOutputs":
        try:
            size = path.stat().st_size
            if size > MAX_OUTPUTS_BYTES:
                raise InterpolationError(
                    f"terraform outputs {path}: larger than {MAX_OUTPUTS_BYTES // (1024 * 1024)} MiB; "
                    "not `terraform output -json` output")
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InterpolationError(f"terraform outputs file not found: {path}") from None
        except RecursionError:
            raise InterpolationError(f"cannot read terraform outputs {path}: nested too deeply") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InterpolationError(f"cannot read terraform outputs {path}: {exc}") from None
        if not isinstance(raw, dict) or not all(isinstance(v, dict) and "value" in v for v in raw.values()):
            raise InterpolationError(
                f"{path}: not `terraform output -json` output (expected {{name: {{\"value\": ...}}}})"
            )
        for k, v in raw.items():
            if v.get("sensitive"):
                redact.register(v["value"] if isinstance(v["value"], str) else json.dumps(v["value"]))
        return cls(
            source=str(path),
            values={k: v["value"] for k, v in raw.items()},
            sensitive=frozenset(k for k, v in raw.items() if v.get("sensitive")),
        )


@dataclass
class Interpolator:
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    outputs: TerraformOutputs | None = None
    # With no outputs file, keep `${tf:...}` text instead of failing.
    keep_unresolved_tf: bool = False
    unresolved: set[str] = field(default_factory=set)
    # value -> name of every value taken from the environment
    from_env: dict[str, str] = field(default_factory=dict)

    def value(self, raw: str) -> Any:
        """Resolve every reference in one scalar string.

        A string that is exactly one `${tf:name}` takes the output's value with its type
        (a list of subnets stays a list); anywhere else a reference must be a scalar.
        """
        whole = _REF.fullmatch(raw)
        if whole and whole.group("body") is not None and whole.group("body").startswith("tf:"):
            return self._tf(whole.group("body")[3:], raw, embedded=False)
        return _REF.sub(lambda m: self._sub(m, raw), raw)

    def _sub(self, match: re.Match[str], raw: str) -> str:
        body = match.group("body")
        if body is None:  # `$$` escapes a literal dollar
            return "$"
        if body.startswith("tf:"):
            value = self._tf(body[3:], raw, embedded=True)
            return value if isinstance(value, str) else _scalar(value)
        name, sep, default = body.partition(":-")
        if not _ENV_NAME.fullmatch(name):
            raise InterpolationError(f"malformed reference ${{{body}}} (expected ${{VAR}}, ${{VAR:-default}} or ${{tf:name}})")
        if redact.secret_name(name):
            raise InterpolationError(
                f"${{{name}}}: environment variable {name} is named like a credential and would be stored in "
                "plain text in the task definition; reference a Secrets Manager/SSM ARN under secrets: instead")
        if name in self.env and (self.env[name] != "" or not sep):
            value = self.env[name]
            self.from_env[value] = name
            redact.register(value, f"${{{name}}}")
            return value
        if sep:
            return default
        raise InterpolationError(f"environment variable {name} is not set (give a default with ${{{name}:-value}})")

    def _tf(self, name: str, raw: str, *, embedded: bool) -> Any:
        if not _TF_NAME.fullmatch(name):
            raise InterpolationError(f"malformed terraform reference ${{tf:{name}}}")
        if self.outputs is None:
            if self.keep_unresolved_tf:
                self.unresolved.add(name)
                return f"${{tf:{name}}}"
            raise InterpolationError(f"${{tf:{name}}} needs a terraform outputs file (spec.terraformOutputs or --tf-outputs)")
        if name not in self.outputs.values:
            raise InterpolationError(f"terraform output {name!r} not found in {self.outputs.source}")
        if name in self.outputs.sensitive:
            raise InterpolationError(
                f"terraform output {name!r} is sensitive and would be stored in plain text; pass it through secrets: instead"
            )
        value = self.outputs.values[name]
        if embedded and isinstance(value, (list, dict)):
            raise InterpolationError(f"terraform output {name!r} is a {type(value).__name__} and cannot be part of a string")
        return value

    def walk(self, data: Any, path: tuple[str | int, ...], errors: list[tuple[tuple[str | int, ...], str]]) -> Any:
        """Resolve references throughout nested data, collecting (path, message) errors."""
        if isinstance(data, dict):
            return {k: self._item(v, path, k, errors) for k, v in data.items()}
        if isinstance(data, list):
            return [self._item(v, path, i, errors) for i, v in enumerate(data)]
        if isinstance(data, str) and "$" in data:
            try:
                return self.value(data)
            except InterpolationError as exc:
                errors.append((path, str(exc)))
                return data
        return data

    def resolve_at(self, references: Iterable[tuple[Any, str | int, tuple[str | int, ...]]],
                   errors: list[tuple[tuple[str | int, ...], str]]) -> None:
        """Resolve the strings at (container, key, container's path), each one once, in place."""
        for container, key, path in references:
            value = container[key]
            if value.__class__ is str and "$" in value:
                container[key] = self.walk(value, (*path, key), errors)

    def _item(self, value: Any, parent: tuple[str | int, ...], key: str | int,
              errors: list[tuple[tuple[str | int, ...], str]]) -> Any:
        """`walk` of one member: a path is built only for a collection or a reference."""
        if value.__class__ is str and "$" not in value or isinstance(value, _PLAIN):
            return value
        return self.walk(value, (*parent, key), errors)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def has_unresolved(value: Any) -> bool:
    if isinstance(value, str):
        return bool(UNRESOLVED_TF.search(value))
    if isinstance(value, list):
        return any(has_unresolved(v) for v in value)
    if isinstance(value, dict):
        return any(has_unresolved(v) for v in value.values())
    return False
