"""The sandbox daemon: AWS endpoint + task runner + nats-server, until SIGTERM.

Started detached by ``sandbox.api.ensure_running`` as ``python -m fleetctl.sandbox daemon --dir D``.
It writes ``D/state.json`` (with ``ready: true`` once everything serves) and keeps
``D/children.json`` listing every process it started, so ``down`` can verify by pid.
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from fleetctl.sandbox.config import SandboxConfig, fleet_dir
from fleetctl.sandbox.procs import ProcRef, free_port
from fleetctl.sandbox.state import StatePaths, read_json, write_json

log = logging.getLogger("sandbox.daemon")


def parse_args(argv: list[str]) -> tuple[Path, SandboxConfig]:
    parser = argparse.ArgumentParser(prog="python -m fleetctl.sandbox daemon")
    parser.add_argument("--dir", required=True, type=Path)
    for field in dataclasses.fields(SandboxConfig):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default)
    args = vars(parser.parse_args(argv))
    state_dir = Path(args.pop("dir")).resolve()
    return state_dir, SandboxConfig(**args)


def run(state_dir: Path, config: SandboxConfig) -> int:
    from fleetctl.sandbox import images, infra, moto_fixes
    from fleetctl.controller import natsperms
    from fleetctl.sandbox.auth import Credentials, nats_password
    from fleetctl.sandbox.backends import freeze_task_auto_advance
    from fleetctl.sandbox.natsd import NatsSupervisor
    from fleetctl.sandbox.runner.loop import TaskRunner
    from fleetctl.sandbox.server import AwsServer

    if not (config.workdir and config.nats_manifest):  # started by hand: the default fleet checkout
        config = config.for_fleet(fleet_dir())
    os.umask(0o077)  # everything the daemon writes (logs, JetStream, outputs) is private
    paths = StatePaths(state_dir)
    paths.make_private()
    lock = open(paths.lock, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log.error("another sandbox daemon holds %s", paths.lock)
        return 3

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    me = ProcRef.of(os.getpid())
    state: dict[str, object] = {
        "pid": me.pid, "pid_start": me.start, "state_dir": str(state_dir), "ready": False,
        "started_at": time.time(), "config": dataclasses.asdict(config),
    }  # fmt: skip
    write_json(paths.state, state)

    # New keys and passwords for every daemon: moto's state is new too.
    fleet = natsperms.load_manifest_doc(Path(config.nats_manifest))
    nats_passwords = {user: nats_password() for user in natsperms.users_of(fleet)}
    credentials = Credentials.generate(natsperms.PROBE_USER, nats_passwords[natsperms.PROBE_USER])
    credentials.save(paths.credentials)
    moto_fixes.apply()
    server = AwsServer(credentials, config.port)
    nats = NatsSupervisor(
        config.nats_port or free_port(), paths.jetstream, paths.nats_log, paths.nats_config,
        natsperms.render_accounts(fleet), nats_passwords,
    )  # fmt: skip

    children_lock = threading.Lock()

    def record_children(refs: list[ProcRef]) -> None:
        nats_ref = nats.ref()
        everything = refs + ([nats_ref] if nats_ref else [])
        with children_lock:
            write_json(paths.children, [r.to_json() for r in everything])

    runner = TaskRunner(config, on_children=record_children)
    try:
        endpoint_url = server.start()
        freeze_task_auto_advance()  # moto advances a task per DescribeTasks; the runner owns status
        nats.start()
        record_children([])
        runner.start()
        infra.ensure(endpoint_url, credentials, nats.port, paths, nats_passwords)
        built = images.build(endpoint_url, credentials, Path(config.workdir))
        state.update(
            ready=True, endpoint_url=endpoint_url, port=server.port, nats_url=nats.url,
            nats_port=nats.port, outputs=str(paths.outputs), credentials=str(paths.credentials),
            images=[b.repository for b in built], ready_at=time.time(),
        )  # fmt: skip
        write_json(paths.state, state)
        log.info("sandbox ready: aws %s, nats %s, %d images", endpoint_url, nats.url, len(built))
        last_nats = nats.ref()
        while not stop.wait(1.0):
            if nats.ref() != last_nats:  # restarted: keep children.json current
                last_nats = nats.ref()
                record_children(runner.children())
    finally:
        log.info("shutting down")
        runner.shutdown(config.shutdown_stop_timeout)
        nats.stop()
        if server.port:
            server.stop()
        write_json(paths.children, [])
        current = read_json(paths.state) or {}
        if current.get("pid") == me.pid:
            paths.state.unlink(missing_ok=True)
    log.info("stopped")
    return 0


def main(argv: list[str]) -> int:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    state_dir, config = parse_args(argv)
    try:
        return run(state_dir, config)
    except Exception:
        log.exception("sandbox daemon failed")
        return 1
