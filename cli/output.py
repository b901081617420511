"""Writing results: data to stdout, diagnostics to stderr, errors as one line each."""
from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer

from fleetctl.controller.errors import FleetError, ManifestError

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_USAGE = 2

_kept: list[Any] | None = None


def keep_until_exit() -> None:
    """The process ends with os._exit right after the command (cli.main): `keep` holds values."""
    global _kept
    _kept = []


def keep(value: Any) -> None:
    """Free `value` with the process, not object by object when the command returns (a loaded
    5,000-service manifest takes ≈ 0.05 s to free). A no-op unless `keep_until_exit` was called."""
    if _kept is not None:
        _kept.append(value)


def _color(stream: Any) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


def info(message: str) -> None:
    typer.echo(message, err=True)


def note(message: str) -> None:
    typer.secho(f"note: {message}", err=True, fg="yellow" if _color(sys.stderr) else None)


def error_line(message: str) -> None:
    prefix = typer.style("error:", fg="red", bold=True) if _color(sys.stderr) else "error:"
    typer.echo(f"{prefix} {message}", err=True)


def fail(exc: FleetError) -> NoReturn:
    if isinstance(exc, ManifestError):
        for line in str(exc).splitlines():  # one line per issue, at most ManifestError.SHOWN of them
            error_line(line)
    else:
        error_line(str(exc))
    raise typer.Exit(exc.exit_code)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def emit_yaml(data: Any) -> None:
    import yaml

    class NoAliases(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    sys.stdout.write(yaml.dump(data, Dumper=NoAliases, sort_keys=False, default_flow_style=False, width=120))


def emit(fmt: Any, data: Any) -> None:
    """`data` as JSON or YAML on stdout (`fmt` is an output-format enum or its value)."""
    if getattr(fmt, "value", fmt) == "yaml":
        emit_yaml(data)
    else:
        emit_json(data)


def is_text(fmt: Any) -> bool:
    return getattr(fmt, "value", fmt) == "text"
