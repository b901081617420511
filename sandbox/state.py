"""The sandbox's state directory: one JSON file per fact, written atomically."""

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


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` so a reader sees either the old or the new file, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
