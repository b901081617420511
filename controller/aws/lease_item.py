"""The DynamoDB requests on a fleet's lease item: controller/lease.py decides, this module builds them.

One item per fleet (key `fleet`). Every write is a conditional UpdateItem; a condition that does
not hold raises CloudError with code `ConditionalCheckFailedException` (CONDITION_FAILED)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleetctl.controller.aws.client import Aws

CONDITION_FAILED = "ConditionalCheckFailedException"


@dataclass(frozen=True)
class Holder:
    """Who takes the lease: written into the item with the expiry."""

    holder: str
    host: str
    pid: int
    command: str
    started: str


def _key(fleet: str) -> dict[str, Any]:
    return {"fleet": {"S": fleet}}


async def get(aws: Aws, table: str, fleet: str) -> dict[str, Any] | None:
    """The lease item (strongly consistent read), or None if it was never written."""
    resp = await aws.call("dynamodb", "get_item", TableName=table, Key=_key(fleet), ConsistentRead=True)
    return resp.get("Item")


async def take(aws: Aws, table: str, fleet: str, me: Holder, expires: float, *,
               free_at: float | None = None, from_holder: tuple[str, int] | None = None) -> int:
    """Write `me` as the holder until `expires`, the fencing token one larger; the new token.

    Only when the lease is free at `free_at` (absent, expired, or already `me`'s: a retry whose
    reply was lost), or, with `from_holder=(holder, token)`, only while that holder still has it."""
    if from_holder is not None:
        condition = "holder = :old AND #t = :oldtoken"
        values = {":old": {"S": from_holder[0]}, ":oldtoken": {"N": str(from_holder[1])}}
    else:
        assert free_at is not None
        condition = "attribute_not_exists(fleet) OR expires < :now OR holder = :me"
        values = {":now": {"N": f"{free_at:.3f}"}}
    resp = await aws.call(
        "dynamodb", "update_item", TableName=table, Key=_key(fleet),
        UpdateExpression=("SET holder = :me, host = :host, pid = :pid, command = :cmd, started = :started, "
                          "expires = :exp REMOVE released ADD #t :one"),
        ConditionExpression=condition,
        ExpressionAttributeNames={"#t": "token"},
        ExpressionAttributeValues={
            ":me": {"S": me.holder}, ":host": {"S": me.host}, ":pid": {"N": str(me.pid)},
            ":cmd": {"S": me.command}, ":started": {"S": me.started}, ":exp": {"N": f"{expires:.3f}"},
            ":one": {"N": "1"}, **values,
        },
        ReturnValues="ALL_NEW")
    return int(resp["Attributes"]["token"]["N"])


async def renew(aws: Aws, table: str, fleet: str, holder: str, token: int, expires: float, now: float) -> None:
    """Push the expiry out, only while `holder` has the lease under `token` and it has not expired."""
    await aws.call("dynamodb", "update_item", TableName=table, Key=_key(fleet),
                   UpdateExpression="SET expires = :exp",
                   ConditionExpression="holder = :me AND #t = :token AND expires > :now",
                   ExpressionAttributeNames={"#t": "token"},
                   ExpressionAttributeValues={":exp": {"N": f"{expires:.3f}"}, ":me": {"S": holder},
                                              ":token": {"N": str(token)}, ":now": {"N": f"{now:.3f}"}})


async def release(aws: Aws, table: str, fleet: str, holder: str, token: int, at: str) -> None:
    """Expire the lease now, keeping the token and who held it last; only while `holder` has it under `token`."""
    await aws.call("dynamodb", "update_item", TableName=table, Key=_key(fleet),
                   UpdateExpression="SET expires = :zero, released = :at",
                   ConditionExpression="holder = :me AND #t = :token",
                   ExpressionAttributeNames={"#t": "token"},
                   ExpressionAttributeValues={":zero": {"N": "0"}, ":at": {"S": at},
                                              ":me": {"S": holder}, ":token": {"N": str(token)}})
