"""Background threads whose crashes are logged, never lost."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("sandbox")


def guarded_thread(name: str, target: Callable[[], None]) -> threading.Thread:
    """A started daemon thread running ``target``; an exception is logged with its traceback."""

    def run() -> None:
        try:
            target()
        except Exception:
            log.exception("background thread %s crashed", name)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def guarded_loop(
    name: str, step: Callable[[], None], period: float, stop: threading.Event
) -> threading.Thread:
    """A thread calling ``step`` every ``period`` s until ``stop``; a failing step is logged
    and the loop goes on (after a short pause, so a persistent fault does not spin)."""

    def run() -> None:
        while not stop.is_set():
            try:
                step()
            except Exception:
                log.exception("%s: step failed", name)
                stop.wait(1.0)
            stop.wait(period)

    return guarded_thread(name, run)
