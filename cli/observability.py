"""Commands that explain a fleet: diagnose, probe, logs (registered on the main app)."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the observability commands to `app`."""
