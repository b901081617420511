"""moto's threaded server on loopback, behind the SigV4 gate, serialised by one re-entrant lock.

moto's backends are plain dicts with no locking. Every HTTP request runs under
``BACKEND_LOCK`` and every in-process writer (the task runner) takes the same lock, so a
request never sees a dictionary change size under it. Every request first passes
``sandbox.auth.SigV4Gate``: only requests signed with the sandbox's credentials reach moto.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fleetctl.sandbox.auth import Credentials, SigV4Gate

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
    """The AWS endpoint: moto's WSGI app behind ``SigV4Gate``, served on 127.0.0.1."""

    def __init__(self, credentials: Credentials, port: int = 0) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        _install_lock()
        self.credentials = credentials
        self._requested_port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = SigV4Gate(DomainDispatcherApplication(create_backend_app), self.credentials)
        self._server = make_server(
            "127.0.0.1", self._requested_port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-endpoint", daemon=True)
        self._thread.start()
        return self.endpoint_url

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
