"""Checks that need the whole manifest: names, images, subjects, dependencies, secrets, sizes.

Each rule yields (path, message) with YAML (camelCase) path names; the loader adds file and line.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

from fleetctl.controller.manifest.effective import placement
from fleetctl.controller.manifest.interpolate import UNRESOLVED_TF
from fleetctl.controller.manifest.models import DIGEST, Fleet
from fleetctl.controller.manifest.subjects import Entry, first_conflicts

Path = tuple[str | int, ...]
Finding = tuple[Path, str]

SECRET_WORDS = ("PASSWORD", "PASSWD", "TOKEN", "SECRET", "KEY", "CREDENTIAL", "PRIVATE")
# Set by fleetctl from spec.nats and the image; a manifest must not set them by hand.
RESERVED_ENV = ("NATS_URL", "SERVICE_NAME", "SERVICE_VERSION", "NATS_CREDS", "NATS_USER", "NATS_PASSWORD",
                "NATS_TLS", "NATS_TLS_CA", "NATS_TLS_CA_FILE", "NATS_TLS_SERVER_NAME")

# Fargate task sizes: cpu units -> accepted memory (MiB).
FARGATE_SIZES: dict[int, range] = {
    256: range(512, 2048 + 1, 512),
    512: range(1024, 4096 + 1, 1024),
    1024: range(2048, 8192 + 1, 1024),
    2048: range(4096, 16384 + 1, 1024),
    4096: range(8192, 30720 + 1, 1024),
    8192: range(16384, 61440 + 1, 4096),
    16384: range(32768, 122880 + 1, 8192),
}
FARGATE_MEMORY_256 = (512, 1024, 2048)


def fargate_size_ok(cpu: int, memory: int) -> bool:
    if cpu == 256:
        return memory in FARGATE_MEMORY_256
    sizes = FARGATE_SIZES.get(cpu)
    return sizes is not None and memory in sizes


def parse_image(image: str) -> tuple[str, str | None, str | None]:
    """Split an image reference into (repository, tag, digest)."""
    repo, _, digest = image.partition("@")
    tag = None
    head, slash, last = repo.rpartition("/")
    if ":" in last:
        last, _, tag = last.partition(":")
        repo = f"{head}{slash}{last}"
    return repo, tag, digest or None


def lint(fleet: Fleet) -> list[Finding]:
    return [
        *_names(fleet),
        *_images(fleet),
        *_subjects(fleet),
        *_dependencies(fleet),
        *_environment(fleet),
        *_sizes(fleet),
    ]


def _svc(i: int, *rest: str | int) -> Path:
    return ("spec", "services", i, *rest)


_SPACE = re.compile(r"\s")


def _names(fleet: Fleet) -> Iterator[Finding]:
    seen: dict[str, int] = {}
    for i, svc in enumerate(fleet.spec.services):
        if svc.name in seen:
            yield _svc(i, "name"), f"duplicate service name {svc.name!r} (first at spec.services[{seen[svc.name]}])"
        else:
            seen[svc.name] = i


def _images(fleet: Fleet) -> Iterator[Finding]:
    allow_tags = fleet.spec.allow_image_tags
    for i, svc in enumerate(fleet.spec.services):
        image = svc.image
        # whitespace: only where not all is printable, or in a space (a pattern per image costs more)
        if (" " in image or not image.isprintable()) and _SPACE.search(image) or image.count("@") > 1:
            yield _svc(i, "image"), f"malformed image reference {image!r}"
            continue
        repo, tag, digest = parse_image(image)
        if not repo or repo.endswith("/"):
            yield _svc(i, "image"), f"malformed image reference {image!r}: no repository"
        elif digest is not None:
            if not DIGEST.match(digest):
                yield _svc(i, "image"), f"malformed digest in {image!r}: expected sha256:<64 hex digits>"
        elif not allow_tags:
            shown = f"tag {tag!r}" if tag else "no tag or digest"
            yield _svc(i, "image"), (
                f"image {image!r} is not pinned by digest ({shown}): use repository@sha256:<digest>, "
                "or set spec.allowImageTags: true to resolve tags at plan time"
            )


def _subjects(fleet: Fleet) -> Iterator[Finding]:
    """Duplicates within a service; across services, each subject's earliest overlapping
    subject of another service outside its queue group (one finding per subject)."""
    entries: list[Entry] = []
    for i, svc in enumerate(fleet.spec.services):
        subjects = svc.subjects
        if len(subjects) > 1 and len({sub.subject for sub in subjects}) < len(subjects):
            seen: set[str] = set()
            for j, sub in enumerate(subjects):
                if sub.subject in seen:
                    yield _svc(i, "subjects", j), f"subject {sub.subject!r} listed twice"
                seen.add(sub.subject)
        for j, sub in enumerate(subjects):
            entries.append(Entry(len(entries), i, sub.queue, sub.subject, j))
    services = fleet.spec.services
    for e, other in first_conflicts(entries):
        yield _svc(e.service, "subjects", e.payload), (
            f"subject {e.subject!r} of {services[e.service].name!r} overlaps {other.subject!r} of "
            f"{services[other.service].name!r}: both would receive the same requests (give both the same queue "
            "group if that is intended)"
        )


def _dependencies(fleet: Fleet) -> Iterator[Finding]:
    names = {svc.name for svc in fleet.spec.services}
    graph: dict[str, list[str]] = {}
    for i, svc in enumerate(fleet.spec.services):
        graph[svc.name] = []
        for j, dep in enumerate(svc.depends_on):
            if dep == svc.name:
                yield _svc(i, "dependsOn", j), f"service {svc.name!r} depends on itself"
            elif dep not in names:
                yield _svc(i, "dependsOn", j), f"unknown service {dep!r} (known: {_few(sorted(names))})"
            else:
                graph[svc.name].append(dep)
    cycle = find_cycle(graph)
    if cycle:
        first = next(i for i, s in enumerate(fleet.spec.services) if s.name == cycle[0])
        yield _svc(first, "dependsOn"), "dependency cycle: " + " -> ".join(cycle)


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One cycle in a dependency graph as [a, b, ..., a], or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def looks_secret(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS)


def _environment(fleet: Fleet) -> Iterator[Finding]:
    envs: list[tuple[Path, dict[str, str]]] = [(("spec", "defaults", "environment"), fleet.spec.defaults.environment)]
    envs += [(_svc(i, "environment"), svc.environment) for i, svc in enumerate(fleet.spec.services)]
    for path, env in envs:
        for name, value in env.items():
            if name in RESERVED_ENV:
                yield (*path, name), f"{name} is set by fleetctl from spec.nats and the image; remove it here"
            elif looks_secret(name) and value != "":
                yield (*path, name), (
                    f"{name} looks like a secret but holds a literal value that would be stored in plain text in the "
                    "task definition; move it to secrets: (name -> Secrets Manager/SSM ARN)"
                )
    for i, svc in enumerate(fleet.spec.services):
        for name in svc.secrets:
            if name in RESERVED_ENV:
                yield _svc(i, "secrets", name), f"{name} is set by fleetctl from spec.nats; remove it here"
            elif name in svc.environment or name in fleet.spec.defaults.environment:
                yield _svc(i, "secrets", name), f"{name} is both an environment variable and a secret"


def _sizes(fleet: Fleet) -> Iterator[Finding]:
    for i, svc in enumerate(fleet.spec.services):
        eff = placement(fleet, svc)
        if eff.launch_type == "FARGATE":
            if not fargate_size_ok(eff.cpu, eff.memory):
                where = _svc(i) if svc.cpu is not None or svc.memory is not None else ("spec", "defaults")
                accepted = FARGATE_MEMORY_256 if eff.cpu == 256 else FARGATE_SIZES.get(eff.cpu)
                hint = (f"with cpu {eff.cpu} Fargate accepts memory {_sizes_text(accepted)}" if accepted
                        else f"Fargate cpu must be one of {', '.join(map(str, FARGATE_SIZES))}")
                yield where, f"Fargate does not accept cpu {eff.cpu} with memory {eff.memory}: {hint}"
            if eff.network is None:
                yield ("spec", "defaults"), "Fargate tasks need network.subnets (set spec.defaults.network or the service's network)"
            if eff.execution_role_arn is None and (eff.logs is not None or svc.secrets):
                yield ("spec", "defaults"), (
                    "awslogs and secrets on Fargate need an execution role: set spec.defaults.executionRoleArn"
                )
        if eff.network is not None:
            where = _svc(i, "network", "subnets") if svc.network else ("spec", "defaults", "network", "subnets")
            for subnet in eff.network.subnets:
                if not subnet.startswith("subnet-") and not UNRESOLVED_TF.search(subnet):
                    yield where, f"{subnet!r} is not a subnet ID (subnet-0123abcd...)"


def _sizes_text(sizes: range | tuple[int, ...]) -> str:
    values = list(sizes)
    if len(values) <= 4:
        return ", ".join(map(str, values))
    return f"{values[0]}..{values[-1]} in steps of {values[1] - values[0]}"


def _few(names: list[str], n: int = 6) -> str:
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")


