"""Manifest sources: S3 (the sandbox's moto S3) and Git, picked up within one interval; a bad
edit keeps the last good spec and shows in metrics and the Synced condition."""
from __future__ import annotations

import asyncio
import json
import subprocess
import time

import pytest
import yaml

from fleetctl.controller.aws.client import Aws
from fleetctl.controller.sources import GitSource, LocalSource, S3Source, SourceError, open_source
from tests.controller.operator_clock import PollTimes
from tests.controller.test_operator_production import desired, operating, running, sample, scrape, until

pytestmark = pytest.mark.timeout(300)
INTERVAL = 2.0


def test_source_urls_parse_and_never_show_credentials():
    assert isinstance(open_source("manifests/prod.yaml"), LocalSource)
    s3 = open_source("s3://fleet-config/prod/fleet.yaml")
    assert isinstance(s3, S3Source) and (s3.bucket, s3.key) == ("fleet-config", "prod/fleet.yaml")
    assert s3.sibling("../tf/outputs.json").describe() == "s3://fleet-config/tf/outputs.json"
    git = open_source("git+https://bot:s3cret@git.example.com/org/fleet.git//manifests/prod.yaml?ref=release")
    assert isinstance(git, GitSource)
    assert (git.url, git.path, git.ref) == ("https://bot:s3cret@git.example.com/org/fleet.git", "manifests/prod.yaml", "release")
    assert "s3cret" not in git.describe() and git.describe().startswith("git+https://***@git.example.com/")
    assert git.sibling("../terraform/outputs.json").path == "terraform/outputs.json"
    assert open_source("git+file:///srv/fleet//fleet.yaml").ref == "HEAD"
    for bad in ("s3://bucket-only", "git+https://host/repo.git", "ftp://x/y", "git+gopher://h/r//f"):
        with pytest.raises(SourceError):
            open_source(bad)


def _fleet_doc(fleet, outputs_name: str = "outputs.json") -> dict:
    doc = json.loads(json.dumps(fleet.doc))
    doc["spec"]["terraformOutputs"] = outputs_name   # relative: read from the manifest's own source
    return doc


async def test_an_s3_manifest_edit_is_picked_up_within_one_interval(make_fleet, sandbox_handle):
    fleet = make_fleet(["settings"])
    ecs = sandbox_handle.client("ecs")
    s3 = sandbox_handle.client("s3")
    bucket = f"fleet-config-{fleet.cluster}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    doc = _fleet_doc(fleet)
    s3.put_object(Bucket=bucket, Key="prod/outputs.json", Body=fleet.outputs.read_bytes())
    s3.put_object(Bucket=bucket, Key="prod/fleet.yaml", Body=yaml.safe_dump(doc).encode())
    source_aws = Aws("us-east-1", endpoint_url=sandbox_handle.endpoint_url,
                     sandbox_credentials=str(sandbox_handle.state_dir / "credentials.json"))
    async with operating(f"s3://{bucket}/prod/fleet.yaml", interval=INTERVAL, source_aws=source_aws) as op:
        times = PollTimes(op)
        await until(lambda: running(ecs, fleet.cluster, ["settings"]), 40)
        assert op.synced.status and op.synced.reason == "Synced"

        doc["spec"]["services"][0]["desiredCount"] = 2
        reloads = op.stats.manifest_reloads
        await until(lambda: times.polls, 5 * INTERVAL, 0.05)   # the poll before the edit is timed too
        await asyncio.to_thread(s3.put_object, Bucket=bucket, Key="prod/fleet.yaml", Body=yaml.safe_dump(doc).encode())
        edited_at = time.monotonic()
        await until(lambda: op.stats.manifest_reloads > reloads, 5 * INTERVAL, 0.05)
        times.assert_picked_up_within_one_interval(edited_at, INTERVAL)
        await until(lambda: desired(ecs, fleet.cluster, "settings") == 2, 15)

        # an edit that does not validate: the last good spec stays, metrics and the condition say so
        bad = json.loads(json.dumps(doc))
        bad["spec"]["services"][0]["desiredCount"] = -1
        await asyncio.to_thread(s3.put_object, Bucket=bucket, Key="prod/fleet.yaml", Body=yaml.safe_dump(bad).encode())
        await until(lambda: sample(scrape(op), "fleetctl_source_reads_total", source="manifest", outcome="invalid") == 1,
                    3 * INTERVAL, 0.1)
        m = await asyncio.to_thread(scrape, op)
        assert sample(m, "fleetctl_source_ok", source="manifest") == 0
        assert not op.synced.status and op.synced.reason == "SpecInvalid" and "desiredCount" in op.synced.message
        assert op.loaded.fleet.service("settings").desired_count == 2
        # the object gone: unreadable, still the last good spec
        await asyncio.to_thread(s3.delete_object, Bucket=bucket, Key="prod/fleet.yaml")
        await until(lambda: op.synced.reason == "SourceUnreadable", 3 * INTERVAL, 0.1)
        assert op.loaded.fleet.service("settings").desired_count == 2
        assert desired(ecs, fleet.cluster, "settings") == 2


def _git(repo, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


async def test_a_new_git_commit_is_picked_up_within_one_interval(make_fleet, sandbox_handle, tmp_path):
    fleet = make_fleet(["settings"])
    ecs = sandbox_handle.client("ecs")
    repo = tmp_path / "fleet-repo"
    (repo / "fleets").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    doc = _fleet_doc(fleet, "../terraform/outputs.json")
    (repo / "terraform").mkdir()
    (repo / "terraform" / "outputs.json").write_bytes(fleet.outputs.read_bytes())
    (repo / "fleets" / "prod.yaml").write_text(yaml.safe_dump(doc))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "fleet")
    async with operating(f"git+file://{repo}//fleets/prod.yaml?ref=main", interval=INTERVAL) as op:
        times = PollTimes(op)
        await until(lambda: running(ecs, fleet.cluster, ["settings"]), 40)
        first = op.synced.message

        doc["spec"]["services"][0]["desiredCount"] = 2
        (repo / "fleets" / "prod.yaml").write_text(yaml.safe_dump(doc))
        reloads = op.stats.manifest_reloads
        await until(lambda: times.polls, 5 * INTERVAL, 0.05)   # the poll before the edit is timed too
        await asyncio.to_thread(_git, repo, "commit", "-qam", "two settings")
        edited_at = time.monotonic()
        head = await asyncio.to_thread(_git, repo, "rev-parse", "HEAD")
        await until(lambda: op.stats.manifest_reloads > reloads, 5 * INTERVAL, 0.05)
        times.assert_picked_up_within_one_interval(edited_at, INTERVAL)
        assert head[:12] in op.synced.message and op.synced.message != first
        await until(lambda: desired(ecs, fleet.cluster, "settings") == 2, 15)

        # a commit that breaks the manifest: kept out, reported
        (repo / "fleets" / "prod.yaml").write_text("apiVersion: fleetctl/v1\nkind: Fleet\nspec: [\n")
        await asyncio.to_thread(_git, repo, "commit", "-qam", "broken")
        await until(lambda: op.synced.reason == "SpecInvalid", 3 * INTERVAL, 0.1)
        m = await asyncio.to_thread(scrape, op)
        assert sample(m, "fleetctl_source_reads_total", source="manifest", outcome="invalid") == 1
        assert op.loaded.fleet.service("settings").desired_count == 2
