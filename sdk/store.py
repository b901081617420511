"""JetStream key-value buckets holding protobuf messages."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import Message
from nats.js import JetStreamContext
from nats.js import errors as js_errors
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

M = TypeVar("M", bound=Message)


class RevisionConflict(Exception):
    """The key changed since the revision the caller read."""


@dataclass
class Bucket:
    kv: KeyValue

    async def get(self, key: str, message_type: type[M]) -> tuple[M, int] | None:
        """The message under `key` and its revision, or None when absent or deleted."""
        try:
            entry = await self.kv.get(key)
        except (js_errors.KeyNotFoundError, js_errors.KeyDeletedError):
            return None
        message = message_type()
        message.ParseFromString(entry.value or b"")
        return message, entry.revision or 0

    async def put(self, key: str, message: Message, revision: int | None = None) -> int:
        """Store `message`; with `revision`, only if the key is still at that revision (0: absent)."""
        data = message.SerializeToString()
        try:
            if revision is None:
                return await self.kv.put(key, data)
            if revision == 0:
                return await self.kv.create(key, data)
            return await self.kv.update(key, data, last=revision)
        except js_errors.KeyWrongLastSequenceError as error:
            raise RevisionConflict(key) from error
        except js_errors.APIError as error:
            if revision is not None and error.err_code == 10071:
                raise RevisionConflict(key) from error
            raise

    async def delete(self, key: str) -> bool:
        try:
            await self.kv.get(key)
        except (js_errors.KeyNotFoundError, js_errors.KeyDeletedError):
            return False
        await self.kv.delete(key)
        return True

    async def keys(self) -> list[str]:
        try:
            return sorted(await self.kv.keys())
        except js_errors.NoKeysError:
            return []


async def open_bucket(js: JetStreamContext, name: str, history: int = 1) -> Bucket:
    """Bind to bucket `name`, creating it (file storage) when it does not exist yet."""
    try:
        return Bucket(await js.key_value(name))
    except js_errors.BucketNotFoundError:
        pass
    config = KeyValueConfig(bucket=name, history=history, storage=StorageType.FILE)
    return Bucket(await js.create_key_value(config))


_PLAIN_KEY = re.compile(r"^[-_=A-Za-z0-9]+(\.[-_=A-Za-z0-9]+)*$")


def key_for(text: str) -> str:
    """A valid bucket key for any non-empty string: itself when allowed, else its base64url form."""
    if _PLAIN_KEY.match(text) and not text.startswith("b64."):
        return text
    return "b64." + base64.urlsafe_b64encode(text.encode()).decode()
