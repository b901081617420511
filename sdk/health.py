"""Container health from the SDK: a heartbeat file the service refreshes, a cheap check of it.

A service is healthy while it is connected to NATS, every endpoint of its contract is
subscribed and, for a service that uses JetStream, JetStream answers on its connection
(`jetstream_problem`) (the gateway: while its HTTP readiness holds). While that is true the running
service rewrites a small JSON heartbeat every `HEARTBEAT_INTERVAL` seconds; when it stops
being true it writes `ok: false` at once; when it stops it removes the file.

`python -m sdk.health` is the container health check: it reads the heartbeat and exits 0 when
it says ok and is fresh (at most `--max-age` seconds old), else 1 with one line on stderr. It
imports only the standard library and opens no NATS connection, so it costs one interpreter
start per check. `--http URL` checks an HTTP readiness endpoint instead (2xx = healthy);
`$VAR` in the URL expands from the container environment.

The heartbeat path is `$SDK_HEALTH_FILE`, else one per container in the temp directory: on
ECS every container has its own file system; where several containers share a host (the
sandbox), the per-task `ECS_CONTAINER_METADATA_URI_V4` tells them apart.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

HEALTH_FILE_ENV = "SDK_HEALTH_FILE"
HEARTBEAT_INTERVAL = 1.0
MAX_AGE = 5.0
COMMAND = ["CMD", "python", "-m", "sdk.health"]
"""The container healthCheck command every fleet service gets by default."""


def heartbeat_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    explicit = env.get(HEALTH_FILE_ENV)
    if explicit:
        return Path(explicit)
    container = env.get("ECS_CONTAINER_METADATA_URI_V4") or env.get("ECS_CONTAINER_METADATA_URI") or ""
    suffix = hashlib.sha256(container.encode()).hexdigest()[:16] if container else "local"
    name = env.get("SERVICE_NAME") or "service"
    return Path(tempfile.gettempdir()) / f"fleetctl-health-{name}-{suffix}.json"


def write(path: Path, ok: bool, detail: str) -> None:
    """Replace the heartbeat atomically: a check never reads half a file."""
    body = json.dumps({"ok": ok, "at": time.time(), "pid": os.getpid(), "detail": detail})
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        tmp.write_text(body)
        os.replace(tmp, path)
    except OSError:
        pass


def remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def check_file(path: Path, max_age: float = MAX_AGE, now: float | None = None) -> tuple[bool, str]:
    try:
        beat = json.loads(path.read_text())
    except FileNotFoundError:
        return False, f"no heartbeat at {path}: the service has not reported serving yet"
    except (OSError, ValueError) as exc:
        return False, f"unreadable heartbeat {path}: {exc}"
    age = (time.time() if now is None else now) - float(beat.get("at", 0))
    if not beat.get("ok"):
        return False, f"not serving: {beat.get('detail') or 'unknown'}"
    if age > max_age:
        return False, f"heartbeat is {age:.1f}s old (more than {max_age:g}s): the service stopped refreshing it"
    return True, "serving"


def check_http(url: str, timeout: float) -> tuple[bool, str]:
    import urllib.error
    import urllib.request

    url = os.path.expandvars(url)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:  # noqa: S310 (a local readiness URL)
            return 200 <= reply.status < 300, f"{url}: HTTP {reply.status}"
    except urllib.error.HTTPError as exc:
        return False, f"{url}: HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return False, f"{url}: {exc}"


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m sdk.health", description="container health check of an SDK service")
    parser.add_argument("--max-age", type=float, default=float(os.environ.get("SDK_HEALTH_MAX_AGE", MAX_AGE)),
                        help="seconds after which a heartbeat is stale (default %(default)s)")
    parser.add_argument("--file", type=Path, help="heartbeat file (default: $SDK_HEALTH_FILE or the per-container one)")
    parser.add_argument("--http", metavar="URL", help="check an HTTP readiness URL instead of the heartbeat")
    parser.add_argument("--timeout", type=float, default=2.0, help="HTTP timeout in seconds")
    args = parser.parse_args(argv)
    if args.http:
        ok, detail = check_http(args.http, args.timeout)
    else:
        ok, detail = check_file(args.file or heartbeat_path(), args.max_age)
    if not ok:
        print(f"unhealthy: {detail}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())


JETSTREAM_TIMEOUT = 0.5
"""Seconds the heartbeat waits for JetStream's `$JS.API.INFO` answer."""


async def jetstream_problem(client, timeout: float = JETSTREAM_TIMEOUT) -> str | None:
    """Why JetStream is not usable from `client` (the service's own connection), or None when it is.

    One `$JS.API.INFO` request with a short timeout: no new connection, a few hundred bytes."""
    from nats.errors import Error as NatsError
    from nats.errors import NoRespondersError

    try:
        reply = await client.request("$JS.API.INFO", b"", timeout=timeout)
    except NoRespondersError:
        return "JetStream is not enabled on the NATS server"
    except TimeoutError:
        return f"JetStream did not answer within {timeout:g}s"
    except NatsError as exc:
        return f"JetStream not reachable: {type(exc).__name__}"
    try:
        error = json.loads(reply.data).get("error")
    except (ValueError, AttributeError):
        return "JetStream answered $JS.API.INFO with something other than a JSON object"
    if error:
        return f"JetStream unavailable: {error.get('description') or error.get('code')}"
    return None


class Heartbeat:
    """Refreshes the heartbeat from `probe()` (ok, detail) every `interval` seconds while running.

    `probe` may be a coroutine function (a JetStream check is a request). Start it once the
    service serves; `stop()` removes the file, so a draining service reads unhealthy at its next
    check."""

    def __init__(self, probe, path: Path | None = None, interval: float = HEARTBEAT_INTERVAL) -> None:
        self.probe = probe
        self.path = path or heartbeat_path()
        self.interval = interval
        self._task = None

    async def beat(self) -> bool:
        import inspect

        try:
            outcome = self.probe()
            ok, detail = (await outcome) if inspect.isawaitable(outcome) else outcome
        except Exception as exc:  # a broken probe is an unhealthy service, not a crashed one
            ok, detail = False, f"health probe raised {type(exc).__name__}"
        write(self.path, ok, detail)
        return ok

    async def _run(self) -> None:
        import asyncio

        while True:
            await asyncio.sleep(self.interval)
            await self.beat()

    async def start(self) -> "Heartbeat":
        import asyncio

        await self.beat()
        self._task = asyncio.ensure_future(self._run())
        return self

    async def stop(self) -> None:
        import asyncio

        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        remove(self.path)
