"""moto's threaded server on loopback, serialised by one re-entrant lock.

moto's backends are plain dicts with no locking. Every HTTP request runs under
``BACKEND_LOCK`` and every in-process writer (the task runner) takes the same lock, so a
request never sees a dictionary change size under it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

BACKEND_LOCK = threading.RLock()
_installed = False


def _install_lock() -> None:
    global _installed
    if _installed:
        return
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    unlocked_call = DomainDispatcherApplication.__call__

    def locked_call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        with BACKEND_LOCK:
            # Materialise the body inside the lock: a lazy iterable could read backends later.
            body = unlocked_call(self, environ, start_response)
            try:
                return list(body)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()

    DomainDispatcherApplication.__call__ = locked_call  # type: ignore[method-assign]
    _installed = True


class AwsServer:
    """The AWS endpoint: ``ThreadedMotoServer`` bound to 127.0.0.1."""

    def __init__(self, port: int = 0) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        _install_lock()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.port = 0

    def start(self) -> str:
        self._server.start()
        _host, self.port = self._server.get_host_and_port()
        return self.endpoint_url

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.stop()
