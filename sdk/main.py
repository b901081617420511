"""Process entry points: settings, logging, signals and exit codes live only here.

`run_service(MyService)` is the whole `__main__` of a service. A missing or malformed
setting ends the process with one line and exit code 1; NATS unreachable within the
connect deadline ends it with exit code 3; SIGTERM or SIGINT drains and exits 0.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any, Awaitable, Callable, NoReturn

from pydantic_settings import BaseSettings

from sdk import log as logging_setup
from sdk.errors import EXIT_CONFIG, EXIT_CONNECT, EXIT_OK, ConfigError, ConnectError
from sdk.settings import Settings, load

Body = Callable[[Settings, Any, asyncio.Event], Awaitable[int]]


def _fail_config(name: str, error: ConfigError) -> int:
    log = logging_setup.configure("info", service=name)
    log.error("config_invalid", str(error), variable=error.variable)
    return EXIT_CONFIG


def run(name: str, body: Body, config_model: type[BaseSettings] | None = None) -> NoReturn:
    """Load settings, configure logs, and run `body(settings, config, stop)` until it returns an exit code."""
    try:
        settings = load(Settings)
        if settings.service_name is not None and settings.service_name != name:
            raise ConfigError("SERVICE_NAME", f"is {settings.service_name!r} but this image runs {name!r}")
        config = load(config_model) if config_model is not None else None
    except ConfigError as error:
        sys.exit(_fail_config(name, error))
    log = logging_setup.configure(settings.log_level, service=name)
    code = _run_bounded(_supervise(name, body, settings, config, log))
    sys.exit(code)


def _run_bounded(main: Awaitable[int]) -> int:
    """Like `asyncio.run`, but tasks left behind get one second to finish, never more.

    `asyncio.run` waits without limit for leftover tasks, and a TLS transport that failed
    verification can keep one alive; a stopping process must not hang on it.
    """
    loop = asyncio.new_event_loop()
    try:
        code = loop.run_until_complete(main)
        leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in leftovers:
            task.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.wait(leftovers, timeout=1.0))
        return code
    finally:
        loop.close()


async def _supervise(name: str, body: Body, settings: Settings, config: Any, log: logging_setup.EventLogger) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _on_signal, stop, log, signum)
    try:
        code = await body(settings, config, stop)
    except ConnectError as error:
        log.error("service_stopped", str(error), cause=error.cause, url=error.url, exit_code=EXIT_CONNECT)
        return EXIT_CONNECT
    except ConfigError as error:
        log.error("config_invalid", str(error), variable=error.variable, exit_code=EXIT_CONFIG)
        return EXIT_CONFIG
    log.info("service_stopped", f"{name} stopped", exit_code=code)
    return code


def _on_signal(stop: asyncio.Event, log: logging_setup.EventLogger, signum: int) -> None:
    if not stop.is_set():
        log.info("stop_requested", f"received {signal.Signals(signum).name}; draining")
    stop.set()


def run_service(cls: Any) -> NoReturn:
    """The `__main__` of a service: serve `cls` until SIGTERM, then drain and exit 0."""
    from sdk.service import serve

    async def body(settings: Settings, config: Any, stop: asyncio.Event) -> int:
        async with serve(cls, settings, config) as running:
            closed = asyncio.ensure_future(running.closed.wait())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({closed, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for waiter in (closed, stopping):
                waiter.cancel()
            if not stop.is_set():
                running.service.log.error("nats_closed", "NATS connection closed for good", exit_code=EXIT_CONNECT)
                return EXIT_CONNECT
        return EXIT_OK

    run(cls.name, body, cls.config)
