"""A grammar for what ECS says when a task stops. Pure: no I/O.

A stopped reason is a chain of Go errors joined by ": ", outermost first:

    CannotStartContainerError: ResourceInitializationError: failed to create new container runtime
    task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start
    container process: exec: "/app/run.sh": permission denied: unknown

Fargate (containerd), EC2 with the Docker runtime (`API error (500)`, `Error response from
daemon`, `container_linux.go:380: starting container process caused`) and EC2 with containerd
word the same failures differently; the parser reduces them to

- `errors`: the error classes named (`CannotStartContainerError`, `ResourceInitializationError`, …),
- `phase`: which step of starting a task failed (pull, secrets, logging, env_files, network,
  placement, start, oom, health, spot, scheduler, internal, exit), decided from the whole chain,
  so that an `InternalError: failed to pull image…` is a pull failure and not ECS's fault,
- `runtime`: fargate/containerd, runc, docker, when the wording shows it,
- `leaf`: the innermost clause (`exec: "/app/run.sh": permission denied`),
- `truncated`: ECS cuts reasons at 255 characters; a cut reason still has its phase, and rules
  for the leaf are written to match a prefix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

ECS_REASON_LIMIT = 255
_ERROR_NAME = re.compile(r"\b([A-Z][A-Za-z]+(?:Error|Exception|Exited|Initiated|Interruption|Notice|Start))\b")
_NOISE = re.compile(
    r"API error \(\d{3}\):\s*|Error response from daemon:\s*|container_linux\.go:\d+:\s*"
    r"|starting container process caused:?\s*|\\+\"|\s+: unknown\.?$|: unknown$")

# phase -> pattern over the whole reason; the first match wins, so order matters
_PHASES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(p, re.I)) for name, p in (
    ("oom", r"OutOfMemory|OOM-?killed|killed due to memory|memory limit too low|exceeded (?:its )?memory"),
    ("secrets", r"unable to pull secrets|execution resource retrieval failed|unable to retrieve secrets?\b"
                r"|invalid ssm parameters?|secretsmanager|fetch secret|registry auth"),
    ("env_files", r"env(?:ironment)? ?files?\b|envfile"),
    ("logging", r"logger args|logging driver|log (?:group|stream)|awslogs|firelens|fluent ?bit|log router"),
    ("pull", r"CannotPull\w*Container|pull(?:ing)? (?:image|access denied)|image manifest|failed to resolve ref|ref pull"
             r"|failed to (?:copy|pull|unpack|do request)|httpRead(?:er)?Seeker|manifest unknown|error pulling"
             r"|toomanyrequests|pull rate limit|GetImageBlob|ImagePull|/v2/|\.dkr\.ecr\.|descriptor matching platform"
             r"|no matching manifest"),
    ("network", r"network interface|\bENI\b|RESOURCE:ENI|InsufficientFreeAddresses|free (?:ip )?addresses"
                r"|Elastic ?Network ?Interface|AttachmentError|subnet .* (?:does not|not) (?:exist|have)"
                r"|network namespace|cni setup|eni plugin"),
    ("placement", r"RESOURCE:(?:MEMORY|CPU|PORTS_TCP|PORTS_UDP|GPU)|unable to place|Capacity is unavailable"
                  r"|no container instances?|ATTRIBUTE|\bAGENT\b|LAUNCH_TYPE|insufficient (?:memory|cpu|capacity)"
                  r"|limit on the number of tasks|not enough capacity|DISTINCT_INSTANCE|MEMBER_OF"),
    ("health", r"health ?checks?"),
    ("spot", r"Spot|TerminationNotice|is being terminated|\bdraining\b|Host EC2|retire"
             r"|performing maintenance|Infrastructure ?Health"),
    ("scheduler", r"Scaling activity initiated by|Service deleted|[Dd]eployment|scheduler|ECS Deployment Circuit"),
    ("start", r"CannotStartContainer|CannotCreateContainer|OCI runtime|runc (?:create|run)|create shim|shim task"
              r"|exec format|executable file|exec:|permission denied|no such file|starting container process"
              r"|container init"),
    ("internal", r"InternalError|CannotInspectContainer|DockerTimeoutError|ContainerRuntimeTimeoutError"
                 r"|ContainerRuntimeError|CannotStopContainer|failed to get container status|Timeout waiting"
                 r"|Task failed to start"),
    ("exit", r"Essential container in task exited|exited"),
))


@dataclass(frozen=True)
class Reason:
    raw: str
    text: str                   # the reason with runtime boilerplate removed
    errors: tuple[str, ...]
    phase: str
    runtime: str | None
    leaf: str
    truncated: bool

    def describe(self) -> str:
        parts = [f"phase={self.phase}"]
        if self.errors:
            parts.append("errors=" + ">".join(self.errors))
        if self.runtime:
            parts.append(f"runtime={self.runtime}")
        if self.truncated:
            parts.append("truncated")
        if self.leaf:
            parts.append(f"leaf={self.leaf[:120]!r}")
        return ", ".join(parts)


def _runtime(text: str) -> str | None:
    if re.search(r"runc|container_linux\.go|OCI runtime", text):
        return "runc"
    if re.search(r"Error response from daemon|API error \(\d+\)|dockerd|docker", text):
        return "docker"
    if re.search(r"containerd|shim|ResourceInitializationError|container runtime task", text):
        return "containerd"
    return None


@lru_cache(maxsize=4096)
def parse_reason(raw: str | None) -> Reason | None:
    """Parse a stopped reason (or a container reason); None for an empty one."""
    if not raw:
        return None
    raw = raw.strip()
    truncated = len(raw) >= ECS_REASON_LIMIT - 5 or raw.endswith(("...", "…"))
    text = _NOISE.sub("", raw.replace('\\"', '"'))
    text = re.sub(r"\s+", " ", text).strip()
    errors = tuple(dict.fromkeys(m.group(1) for m in _ERROR_NAME.finditer(raw)
                                 if not m.group(1).startswith(("Get", "Head"))))
    phase = "unknown"
    for name, pattern in _PHASES:
        if pattern.search(raw):
            phase = name
            break
    clauses = [c.strip() for c in re.split(r":\s+", text.rstrip(".… ").removesuffix("...")) if c.strip()]
    leaf = ""
    for i in range(len(clauses) - 1, -1, -1):
        c = clauses[i]
        if re.fullmatch(r"unknown|exit status \d+|status code \d+|signal: killed|\d+|[A-Z]\w+(?:Error|Exception)", c):
            continue
        # keep `exec: "x": reason` together
        if i > 0 and clauses[i - 1].startswith(("exec", "stat ", "open ")) is False and re.match(r'^exec$', clauses[i - 1]):
            c = f"{clauses[i - 1]}: {c}"
        leaf = c
        break
    m = re.search(r'exec: "[^"]*": [^:"]+', text)
    if m:
        leaf = m.group(0)
    return Reason(raw, text, errors, phase, _runtime(raw), leaf, truncated)
