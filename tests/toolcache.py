"""Virtualenvs of the pinned tools some tests run (checkov, the aws CLI), kept outside the checkout.

In a clean clone (CI) they would be installed again on every run: checkov's dependency tree alone
takes about a minute. They live under $FLEETCTL_TOOL_CACHE (default ~/.cache/fleetctl), one per
tool and set of pins, so changed pins get a fresh virtualenv; the install itself is unchanged.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def tool_venv(name: str, pins: str) -> Path:
    """Where the virtualenv of `name`, installed from `pins` (its version or requirements), lives."""
    cache = os.environ.get("FLEETCTL_TOOL_CACHE") or (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fleetctl")
    key = hashlib.sha256(f"{pins}\npy{sys.version_info.major}.{sys.version_info.minor}".encode()).hexdigest()[:12]
    return Path(cache) / f"venv-{name}-{key}"


@contextmanager
def installing(venv: Path) -> Iterator[None]:
    """Around creating `venv`: one test session at a time (several may share the machine), and an
    install that did not finish (a timeout killed it) is thrown away and made again."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    done = venv / ".installed"
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if venv.exists() and not done.exists():
            shutil.rmtree(venv)
        yield
        done.touch()
