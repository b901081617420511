"""The contracts: checked-in generated code is current, and each proto matches the manifest."""

from __future__ import annotations

from pathlib import Path

import yaml

from sdk import contracts
from sdk.proto.generate import PROTO_DIR, generate, proto_files
from sdk.testing import ROOT


def test_checked_in_code_is_regenerated_identically(tmp_path: Path) -> None:
    generate(tmp_path)
    fresh = tmp_path / "sdk" / "proto"
    produced = sorted(path.name for path in fresh.iterdir())
    assert len(proto_files()) == 23
    assert len(produced) == 2 * len(proto_files())
    for name in produced:
        checked_in = PROTO_DIR / name
        assert checked_in.exists(), f"{name} is not checked in; run python -m sdk.proto.generate"
        assert checked_in.read_text() == (fresh / name).read_text(), f"{name} is stale; run python -m sdk.proto.generate"
    stray = {path.name for path in PROTO_DIR.glob("*_pb2.py*")} - set(produced)
    assert not stray, f"generated files without a .proto: {stray}"


def test_each_contract_declares_exactly_the_manifest_subjects() -> None:
    spec = yaml.safe_load((ROOT / "manifests" / "prod.yaml").read_text())["spec"]
    for service in spec["services"]:
        if not service.get("subjects"):
            continue
        declared = [endpoint.subject for endpoint in contracts.endpoints(service["name"]).values()]
        assert sorted(declared) == sorted(service["subjects"]), service["name"]


def test_unknown_contracts_are_refused() -> None:
    for subject in ("nosuch.get", "auth.nosuch", "common.x", "../etc.x"):
        try:
            contracts.endpoint(subject)
        except contracts.UnknownContract:
            continue
        raise AssertionError(f"{subject} resolved")
