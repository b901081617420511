"""A manifest fuzzer: random mutations of the repository's manifests, loaded as `fleetctl` loads them.

    python -m bench.faults.fuzz [-n 10000] [--seed 1]

Every mutation must end in a valid fleet or in a ManifestError / FleetError (the CLI's one line
per issue and exit 2); any other exception is a traceback and is listed. Mutations: deep
nesting, huge/odd scalars, wrong types, deleted and duplicated keys, `${...}` edge cases, byte
noise, truncation, YAML anchors and aliases.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SEEDS = [REPO / "manifests" / "local.yaml", REPO / "manifests" / "prod.yaml"]
TF_OUTPUTS = {"local.yaml": REPO / "tests" / "fixtures" / "local-tf-outputs.json",
              "prod.yaml": REPO / "tests" / "fixtures" / "prod-tf-outputs.json"}

# libyaml's parser and emitter for the fuzzer's own reading and writing (ten times faster than
# PyYAML's pure-Python ones); what is checked is loaded the way the CLI loads it.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

ODD = [None, True, False, 0, -1, 2**63, 1e308, float("nan"), "", " ", "\u0000", "x" * 5000, "${", "${tf:}",
       "${tf:nope}", "${UNSET_VAR_FLEETCTL}", "$$", "${A:-${B}}", "@sha256:", "a" * 300, [], {}, [[[]]],
       {"a": {"b": {}}}, "🚀", "\udcff"[:0] + "\u202e", "0x10", "1e3", "~", "yes", "no", "on"]


@dataclass
class Report:
    runs: int = 0
    accepted: int = 0
    rejected: int = 0
    tracebacks: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "accepted": self.accepted, "rejected": self.rejected,
                "tracebacks": len(self.tracebacks), "seconds": round(self.seconds, 1),
                "examples": self.tracebacks[:5]}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    parent[path[-1]] = value
    return doc


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def _nest(depth: int, kind: str) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


TEXT_KINDS = 4
"""Mutation kinds 0-3 work on the text, 4-9 on the parsed document."""


def mutate_text(text: str, rng: random.Random, choice: int) -> str:
    """A mutation of a manifest's text: deep nesting, byte noise, truncation, anchors and aliases."""
    if choice == 0:  # deep nesting in text form (flow style), the classic recursion trap
        depth = rng.choice([50, 500, 5000, 20000])
        return text + f"\nextra: {'[' * depth}{']' * depth}\n" if rng.random() < 0.5 else \
            text.replace("spec:", "spec:\n  deep: " + "{a: " * depth + "1" + "}" * depth + "\n", 1)
    if choice == 1:  # byte noise
        b = bytearray(text.encode())
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return b.decode("utf-8", "replace")
    if choice == 2:  # truncation
        return text[: rng.randrange(len(text))] if text else text
    lol = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(  # anchors and aliases (a billion-laughs shape)
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    return lol + text


def mutate_doc(doc: Any, rng: random.Random, choice: int) -> Any:
    """A mutation of a parsed manifest: odd values, nesting, deleted and duplicated keys, rings, repeats."""
    path = rng.choice(_paths(doc))
    if choice == 4:
        return _set(doc, path, rng.choice(ODD))
    if choice == 5:
        return _set(doc, path, _nest(rng.choice([10, 100, 200]), rng.choice(["list", "dict"])))
    if choice == 6 and path:
        parent = _get(doc, path[:-1])
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
        elif isinstance(parent, list) and parent:
            parent.pop(path[-1])
    elif choice == 7:
        target = _get(doc, path)
        if isinstance(target, list) and target:
            target.extend([rng.choice(target)] * rng.randint(1, 50))
        elif isinstance(target, dict):
            target[rng.choice(["unknown", "name", "Name", "image", "dependsOn", "x" * 100])] = rng.choice(ODD)
    elif choice == 8:  # services that depend on each other in a ring, or on themselves
        services = doc.get("spec", {}).get("services", []) if isinstance(doc, dict) else []
        for i, s in enumerate(services):
            if isinstance(s, dict):
                s["dependsOn"] = [services[(i + 1) % len(services)].get("name", "x")]
    elif choice == 9:
        return _set(doc, path, str(_get(doc, path)) * rng.randint(2, 400))
    return doc


def _dump(doc: Any) -> str:
    try:
        return yaml.dump(doc, Dumper=_DUMPER, sort_keys=False, allow_unicode=True)
    except (yaml.YAMLError, RecursionError, ValueError):
        return json.dumps(doc, default=str)[:200000]


def mutated(seed_text: str, seed_json: str, rng: random.Random) -> str:
    """1-3 random mutations of a seed manifest.

    Mutations of the document are applied to one parsed copy (the seed is parsed once, copied
    through JSON) and written out once; mutations of the text follow. A text mutation almost
    always leaves text that no longer parses, so this is the order a chain of single mutations
    takes anyway, without parsing and writing YAML at every step."""
    choices = [rng.randrange(10) for _ in range(rng.randint(1, 3))]
    text = seed_text
    if any(c >= TEXT_KINDS for c in choices):
        doc = json.loads(seed_json)
        for choice in (c for c in choices if c >= TEXT_KINDS):
            try:
                doc = mutate_doc(doc, rng, choice)
            except (RecursionError, ValueError, TypeError, AttributeError, KeyError, IndexError):
                break  # a mutation that does not fit the document: keep what we have
        text = _dump(doc)
    for choice in (c for c in choices if c < TEXT_KINDS):
        text = mutate_text(text, rng, choice)
    return text


def check(text: str, name: str) -> tuple[str, str | None]:
    """Load one manifest text as the CLI does: ("accepted" | "rejected" | "traceback", traceback)."""
    from fleetctl.controller.errors import FleetError
    from fleetctl.controller.manifest.load import parse_manifest

    try:
        parse_manifest(text, source=name, base_dir=REPO / "manifests", tf_outputs=TF_OUTPUTS[name],
                       env={"FLEETCTL_SANDBOX_DIR": "/nonexistent"})
    except FleetError as exc:
        if len(str(exc)) > 20000:  # "one line each": a message must stay readable
            return "traceback", f"message of {len(str(exc))} characters"
        return "rejected", None
    except BaseException:  # RecursionError, MemoryError, ... : what the CLI would show as a traceback
        return "traceback", traceback.format_exc(limit=4)[-1500:]
    return "accepted", None


def fuzz(n: int, seed: int = 1) -> Report:
    """`n` mutated manifests checked in this process, one after another (no worker processes)."""
    rng = random.Random(seed)
    texts = {p.name: p.read_text() for p in SEEDS}
    docs = {name: json.dumps(yaml.load(text, Loader=_LOADER)) for name, text in texts.items()}  # noqa: S506
    report = Report()
    started = time.monotonic()
    limit = sys.getrecursionlimit()
    for _ in range(n):
        name = rng.choice(sorted(texts))
        text = mutated(texts[name], docs[name], rng)
        verdict, problem = check(text, name)
        sys.setrecursionlimit(limit)
        report.runs += 1
        if verdict == "traceback":
            report.tracebacks.append(problem or "")
        elif verdict == "accepted":
            report.accepted += 1
        else:
            report.rejected += 1
    report.seconds = time.monotonic() - started
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    report = fuzz(args.n, args.seed)
    print(json.dumps(report.as_dict(), indent=2))
    sys.exit(1 if report.tracebacks else 0)


if __name__ == "__main__":
    main()
