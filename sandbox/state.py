"""The sandbox's state directory: one JSON file per fact, written atomically.

The directory is 0700 and every file in it 0600: it holds the sandbox's AWS credentials and
its NATS passwords, and the logs of tasks that may print secrets.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StatePaths:
    root: Path

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def children(self) -> Path:
        return self.root / "children.json"

    @property
    def outputs(self) -> Path:
        return self.root / "terraform-outputs.json"

    @property
    def daemon_log(self) -> Path:
        return self.root / "daemon.log"

    @property
    def nats_log(self) -> Path:
        return self.root / "nats-server.log"

    @property
    def jetstream(self) -> Path:
        return self.root / "jetstream"

    @property
    def lock(self) -> Path:
        return self.root / "daemon.lock"

    @property
    def credentials(self) -> Path:
        return self.root / "credentials.json"

    @property
    def nats_config(self) -> Path:
        return self.root / "nats-server.conf"

    def make_private(self) -> None:
        """Create the directory 0700 (tightening an existing one) and its files 0600."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        for child in self.root.iterdir():
            if child.is_file() and not child.is_symlink():
                os.chmod(child, 0o600)


def open_private(path: Path, mode: str = "ab") -> Any:
    """Open ``path`` for writing, created 0600 (an existing file is tightened to 0600)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, mode)


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` so a reader sees either the old or the new file, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open_private(tmp, "w") as fh:
        fh.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
