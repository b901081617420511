"""Signing and summing ledger entries; pure."""

from __future__ import annotations

import hashlib
import hmac

from sdk.proto import payment_pb2 as pb


def _canonical(entry: pb.LedgerEntry) -> bytes:
    fields = (entry.idempotency_key, entry.account, entry.kind, str(entry.amount_cents), entry.currency, entry.charge_key)
    return "\n".join(fields).encode()


def sign(key: bytes, entry: pb.LedgerEntry) -> pb.LedgerEntry:
    signed = pb.LedgerEntry()
    signed.CopyFrom(entry)
    signed.signature = hmac.new(key, _canonical(entry), hashlib.sha256).hexdigest()
    return signed


def is_authentic(key: bytes, entry: pb.LedgerEntry) -> bool:
    return hmac.compare_digest(sign(key, entry).signature, entry.signature)


def same_request(a: pb.LedgerEntry, b: pb.LedgerEntry) -> bool:
    """Whether two entries record the same operation (a retry with the same idempotency key)."""
    return _canonical(a) == _canonical(b)


def balance(entries: list[pb.LedgerEntry]) -> int:
    return sum(entry.amount_cents if entry.kind == "charge" else -entry.amount_cents for entry in entries)
