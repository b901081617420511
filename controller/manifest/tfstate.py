"""Terraform values for `${tf:...}` from wherever they are: `terraform output -json` output, a
state file (format version 4, local or `s3://bucket/key` as an S3 backend keeps it), or stdin.

Sensitive outputs are kept marked as sensitive, so the interpolator refuses them exactly as it
does for `terraform output -json`.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from fleetctl.controller.errors import FleetError
from fleetctl.controller.manifest.interpolate import InterpolationError, TerraformOutputs

STDIN = "-"
MAX_BYTES = 50 * 1024 * 1024


def parse_terraform_values(text: str, source: str) -> TerraformOutputs:
    """`terraform output -json` output or a v4 state file, told apart by the state's `version`/`outputs` keys."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InterpolationError(f"cannot read terraform outputs {source}: not JSON ({exc.msg}, line {exc.lineno})") from None
    if isinstance(raw, dict) and "version" in raw and isinstance(raw.get("outputs"), dict) and (
            "lineage" in raw or "serial" in raw or "terraform_version" in raw):
        if raw["version"] != 4:
            raise InterpolationError(f"{source}: terraform state format version {raw['version']!r} is not supported "
                                     "(version 4: terraform 0.12 and later)")
        outputs = raw["outputs"]
    else:
        outputs = raw
    if not isinstance(outputs, dict) or not all(isinstance(v, dict) and "value" in v for v in outputs.values()):
        raise InterpolationError(
            f"{source}: neither `terraform output -json` output (expected {{name: {{\"value\": ...}}}}) "
            "nor a terraform state file (version 4)")
    return TerraformOutputs(
        source=source,
        values={k: v["value"] for k, v in outputs.items()},
        sensitive=frozenset(k for k, v in outputs.items() if v.get("sensitive")),
    )


def read_terraform_file(path: Path) -> TerraformOutputs:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InterpolationError(f"{path}: larger than {MAX_BYTES // 2**20} MiB; not terraform outputs")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InterpolationError(f"terraform outputs file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InterpolationError(f"cannot read terraform outputs {path}: {exc}") from None
    return parse_terraform_values(text, str(path))


def read_terraform_values(ref: str, *, stdin: TextIO | None = None, region: str | None = None,
                          endpoint_url: str | None = None) -> TerraformOutputs | Path:
    """What `--tf-outputs REF` names: `-` (stdin), `s3://bucket/key` (read now) or a local file
    (returned as a path; the loader reads it relative to nothing, as given)."""
    if ref == STDIN:
        stream = stdin or sys.stdin
        if stream.isatty():
            raise FleetError("--tf-outputs -: stdin is a terminal; pipe `terraform output -json` into fleetctl")
        text = stream.read(MAX_BYTES + 1)
        if not text.strip():
            raise FleetError("--tf-outputs -: nothing on stdin; pipe `terraform output -json` into fleetctl")
        return _or_fleet_error(lambda: parse_terraform_values(text, "<stdin>"))
    if ref.startswith("s3://"):
        return read_s3_state(ref, region=region, endpoint_url=endpoint_url)
    return Path(ref)


def read_s3_state(url: str, *, region: str | None = None, endpoint_url: str | None = None) -> TerraformOutputs:
    """A state (or outputs) object in S3. Region and endpoint from the environment as the AWS CLI
    takes them (AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL), credentials from the usual chain."""
    import asyncio

    from fleetctl.controller.aws import Aws
    from fleetctl.controller.aws.s3 import read_object

    bucket, _, key = url[len("s3://"):].partition("/")
    if not bucket or not key:
        raise FleetError(f"--tf-outputs {url}: expected s3://BUCKET/KEY")
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")

    async def fetch() -> bytes:
        async with Aws(region, endpoint_url=endpoint_url) as aws:
            return await read_object(aws, bucket, key, limit=MAX_BYTES)

    data = asyncio.run(fetch())
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FleetError(f"{url}: not UTF-8 text; not a terraform state") from None
    return _or_fleet_error(lambda: parse_terraform_values(text, url))


def _or_fleet_error(read: Any) -> TerraformOutputs:
    try:
        return read()
    except InterpolationError as exc:
        raise FleetError(str(exc)) from None
