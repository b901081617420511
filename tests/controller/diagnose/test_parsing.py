"""The traceback parser and the ECS stopped-reason grammar, on outputs of real interpreters
(tracebacks captured from CPython 3.9 and 3.13) and reasons quoted from AWS docs and issues."""
from __future__ import annotations

import json
import subprocess
import sys

from fleetctl.controller.diagnose.classify import TaskEvidence, classify
from fleetctl.controller.diagnose.ecsreason import parse_reason
from fleetctl.controller.diagnose.tracebacks import exceptions, module_of, parse_log
from tests.conftest import REPO

PY39_CHAIN = '''Traceback (most recent call last):
  File "/app/chain.py", line 4, in load
    return os.environ["NATS_URL"]
  File "/usr/local/lib/python3.9/os.py", line 679, in __getitem__
    raise KeyError(key) from None
KeyError: 'NATS_URL'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/app/chain.py", line 7, in <module>
    load()
  File "/app/chain.py", line 6, in load
    raise RuntimeError("configuration failed") from e
RuntimeError: configuration failed'''

PY313_GROUP = '''  + Exception Group Traceback (most recent call last):
  |   File "/app/group.py", line 7, in <module>
  |     asyncio.run(main())
  |     ~~~~~~~~~~~^^^^^^^^
  |   File "/usr/local/lib/python3.13/asyncio/taskgroups.py", line 154, in __aexit__
  |     raise me from None
  | ExceptionGroup: unhandled errors in a TaskGroup (2 sub-exceptions)
  +-+---------------- 1 ----------------
    | Traceback (most recent call last):
    |   File "/app/group.py", line 2, in a
    |     async def a(): raise ConnectionRefusedError(111, "Connect call failed ('10.0.0.5', 4222)")
    |                    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
    | ConnectionRefusedError: [Errno 111] Connect call failed ('10.0.0.5', 4222)
    +---------------- 2 ----------------
    | Traceback (most recent call last):
    |   File "/app/group.py", line 3, in b
    |     async def b(): raise KeyError('NATS_URL')
    |                    ^^^^^^^^^^^^^^^^^^^^^^^^^^
    | KeyError: 'NATS_URL'
    +------------------------------------'''

PYDANTIC = '''Traceback (most recent call last):
  File "/app/main.py", line 5, in <module>
    settings = Settings()
  File "/usr/local/lib/python3.12/site-packages/pydantic_settings/main.py", line 71, in __init__
    super().__init__(
  File "/usr/local/lib/python3.12/site-packages/pydantic/main.py", line 164, in __init__
    __pydantic_self__.__pydantic_validator__.validate_python(data, self_instance=__pydantic_self__)
pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings
nats_url
  Field required [type=missing, input_value={}, input_type=dict]
    For further information visit https://errors.pydantic.dev/2.5/v/missing
INFO:orders:shutting down'''


def test_a_chain_is_parsed_cause_first_with_modules() -> None:
    excs = exceptions(parse_log(PY39_CHAIN.splitlines()))
    assert [(e.name, e.depth, e.chain) for e in excs] == [("KeyError", 0, 0), ("RuntimeError", 1, 0)]
    assert excs[0].module == "os" and excs[1].last_in_chain
    assert excs[0].frames[0].source == 'return os.environ["NATS_URL"]'


def test_exception_group_members_are_exceptions_of_their_own() -> None:
    excs = exceptions(parse_log(PY313_GROUP.splitlines()))
    assert [e.name for e in excs] == ["ExceptionGroup", "ConnectionRefusedError", "KeyError"]
    assert excs[0].is_group and excs[1].group_member and excs[2].group_member
    records = parse_log(PY313_GROUP.splitlines())
    assert all(r.exc is not None for r in records)   # no box borders left over as lines


def test_one_event_json_and_tail_prefixes_parse_the_same() -> None:
    lines = PY39_CHAIN.splitlines()
    one_event = [PY39_CHAIN]
    tail = [f"2026-11-26T18:10:0{i % 10}.000000+00:00 ecs/app/0f3a9c2d51e84b6b9a7d3c1e2f4a5b6c {ln}"
            for i, ln in enumerate(lines)]
    as_json = [json.dumps({"level": "critical", "message": "unhandled exception", "exc_info": PY39_CHAIN})]
    firelens = [json.dumps({"container_name": "/ecs-app", "source": "stderr", "log": ln}) for ln in lines]
    expected = [(e.type, e.message) for e in exceptions(parse_log(lines))]
    for variant in (one_event, tail, as_json, firelens):
        assert [(e.type, e.message) for e in exceptions(parse_log(variant))] == expected


def test_multi_line_messages_stay_with_their_exception() -> None:
    records = parse_log(PYDANTIC.splitlines())
    exc = exceptions(records)[0]
    assert exc.origin == "pydantic_core" and exc.name == "ValidationError"
    assert "nats_url\nField required" in exc.message
    assert records[-1].exc is None and records[-1].text == "INFO:orders:shutting down"


def test_module_of_paths() -> None:
    assert module_of("/usr/local/lib/python3.11/site-packages/nats/aio/client.py") == "nats.aio.client"
    assert module_of("<frozen os>") == "os"
    assert module_of("/usr/local/lib/python3.9/asyncio/tasks.py") == "asyncio.tasks"
    assert module_of("/app/services/quest/__main__.py") == "services.quest.__main__"


def test_real_interpreter_output_parses() -> None:
    code = ("import os\ndef f():\n    try:\n        os.environ['NOPE_VAR']\n    except KeyError as e:\n"
            "        raise ValueError('bad config') from e\nf()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO).stderr
    excs = exceptions(parse_log(out.splitlines()))
    assert [e.name for e in excs] == ["KeyError", "ValueError"]


def test_reason_grammar_fargate_and_ec2_wordings() -> None:
    fargate = parse_reason('CannotStartContainerError: ResourceInitializationError: failed to create new container '
                           'runtime task: failed to create shim task: OCI runtime create failed: runc create failed: '
                           'unable to start container process: exec: "/app/run.sh": permission denied: unknown')
    docker = parse_reason('CannotStartContainerError: Error response from daemon: OCI runtime create failed: '
                          'container_linux.go:349: starting container process caused "exec: \\"/app/run.sh\\": '
                          'permission denied": unknown')
    for r in (fargate, docker):
        assert r is not None and r.phase == "start" and r.runtime == "runc"
        assert r.leaf.startswith('exec: "/app/run.sh": permission denied')
    assert fargate.errors[:2] == ("CannotStartContainerError", "ResourceInitializationError")


def test_reason_grammar_internal_error_pull_is_a_pull() -> None:
    r = parse_reason('InternalError: failed to pull image: pull image manifest has been retried 5 time(s): failed '
                     'to resolve ref 111122223333.dkr.ecr.us-east-1.amazonaws.com/app:v42: not found')
    assert r is not None and r.phase == "pull"


def test_reason_grammar_truncation_and_capacity_vs_eni() -> None:
    long = ('ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval '
            'failed: unable to retrieve secret from asm: service call has been retried 5 time(s): failed to fetch '
            'secret arn:aws:secretsmanager:us-west-2:111122223333:secret:db-AbCdEf from secrets manager: '
            'RequestCanceled: request context canceled caused by: context deadline exceeded')[:255]
    r = parse_reason(long)
    assert r is not None and r.truncated and r.phase == "secrets"
    eni = parse_reason('service x was unable to place a task because no container instance met all of its '
                       'requirements. The closest matching container-instance abc encountered error "RESOURCE:ENI".')
    mem = parse_reason('service x was unable to place a task because no container instance met all of its '
                       'requirements. The closest matching container-instance abc has insufficient memory available.')
    assert eni is not None and eni.phase == "network"
    assert mem is not None and mem.phase == "placement"


def _ev(log: list[str] | None, **kw) -> TaskEvidence:
    base = dict(task_arn="arn:aws:ecs:us-east-1:000000000000:task/c/t1", service="orders",
                stop_code="EssentialContainerExited", stopped_reason="Essential container in task exited",
                container="app", exit_code=1, container_reason=None, log=tuple(log) if log is not None else None)
    base.update(kw)
    return TaskEvidence(**base)


def test_root_cause_wins_over_the_wrappers_last_line() -> None:
    c = classify(_ev(PY39_CHAIN.splitlines()))
    assert c.category == "config_missing" and "NATS_URL" in c.hint
    assert any("position 1 in the chain" in line for line in c.explain)


def test_ecs_verdict_first_when_decisive() -> None:
    c = classify(_ev(PY39_CHAIN.splitlines(), container_reason="OutOfMemoryError: Container killed due to memory usage",
                     exit_code=137))
    assert c.category == "oom_killed" and c.explain[1] == "ECS's verdict decides"


def test_huge_and_hostile_logs_stay_fast() -> None:
    import time

    lines = ["x" * 1_000_000, "Traceback (most recent call last):"] + ['  File "/app/a.py", line 1, in f'] * 5000
    lines += ['  File "<frozen os>", line 716, in __getitem__', "KeyError: 'NATS_URL'"] + ["INFO noise"] * 20000
    start = time.process_time()
    c = classify(_ev(lines))
    assert time.process_time() - start < 5
    assert c.category == "config_missing"
