"""S3 reads: one object's bytes (a terraform state behind an S3 backend)."""
from __future__ import annotations

from fleetctl.controller.aws.client import Aws

MAX_OBJECT_BYTES = 50 * 1024 * 1024


async def head_object(aws: Aws, bucket: str, key: str) -> tuple[str, str | None, int]:
    """(the object's version: its VersionId where the bucket keeps versions, else its ETag; that
    VersionId or None; its size in bytes)."""
    head = await aws.call("s3", "head_object", Bucket=bucket, Key=key)
    version_id = head.get("VersionId")
    if version_id in (None, "null"):
        return head.get("ETag", ""), None, head.get("ContentLength", 0)
    return version_id, version_id, head.get("ContentLength", 0)


async def read_object(aws: Aws, bucket: str, key: str, *, limit: int = MAX_OBJECT_BYTES,
                      version_id: str | None = None) -> bytes:
    """The object's content (that version of it, with `version_id`); CloudError (NoSuchKey,
    NoSuchBucket, AccessDenied...) when it cannot be read."""
    params = {"VersionId": version_id} if version_id is not None else {}
    resp = await aws.call("s3", "get_object", Bucket=bucket, Key=key, **params)
    body = resp["Body"]
    async with body as stream:
        data = await stream.read(limit + 1)
    if len(data) > limit:
        from fleetctl.controller.errors import CloudError

        raise CloudError("s3:GetObject", "TooLarge", f"s3://{bucket}/{key} is larger than {limit // 2**20} MiB")
    return data
