"""The one error family of fleetctl.

The CLI turns a FleetError into one clear line (or one line per issue) and an exit code; any
other exception is a bug and keeps its traceback.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class FleetError(Exception):
    """Base of every error fleetctl reports to a user."""

    exit_code = 2


@dataclass(frozen=True)
class ManifestIssue:
    """One problem in a manifest: where it is and what was expected."""

    source: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "line": self.line, "path": self.path, "message": self.message}


def _clip(line: str, width: int) -> str:
    return line if len(line) <= width else f"{line[:width]}… ({len(line)} characters)"


class ManifestError(FleetError):
    """The manifest cannot be used. Terminal: retrying does not help."""

    SHOWN = 50
    """Issues the message lists, one line each (all of them stay in `issues`): a mutated manifest can
    have thousands, and a screenful says what is wrong as well as all of them would."""
    WIDTH = 1000
    """Characters of one issue's line: a line that quotes a huge value is cut, and says how long it was."""

    def __init__(self, issues: list[ManifestIssue]):
        self.issues = issues
        lines = [_clip(str(i), self.WIDTH) for i in issues[: self.SHOWN]]
        if len(issues) > self.SHOWN:
            lines.append(f"... and {len(issues) - self.SHOWN} more issue(s)")
        super().__init__("\n".join(lines))


@dataclass
class CloudError(FleetError):
    """An AWS call failed after retries."""

    operation: str
    code: str
    message: str
    exit_code: int = field(default=2)
    # throttling, a 5xx or a connection that failed: the same call may succeed when repeated
    retryable: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.operation} failed: {self.code}: {self.message}"
