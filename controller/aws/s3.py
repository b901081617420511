"""S3 reads: one object's bytes (a terraform state behind an S3 backend)."""
from __future__ import annotations

from fleetctl.controller.aws.client import Aws

MAX_OBJECT_BYTES = 50 * 1024 * 1024


async def read_object(aws: Aws, bucket: str, key: str, *, limit: int = MAX_OBJECT_BYTES) -> bytes:
    """The object's content; CloudError (NoSuchKey, NoSuchBucket, AccessDenied...) when it cannot be read."""
    resp = await aws.call("s3", "get_object", Bucket=bucket, Key=key)
    body = resp["Body"]
    async with body as stream:
        data = await stream.read(limit + 1)
    if len(data) > limit:
        from fleetctl.controller.errors import CloudError

        raise CloudError("s3:GetObject", "TooLarge", f"s3://{bucket}/{key} is larger than {limit // 2**20} MiB")
    return data
