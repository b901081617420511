"""payment: a ledger of charges and refunds in the `ledger` bucket.

Every entry is keyed by its idempotency key, so a retried request returns the entry it
made the first time, and a different request with a used key is refused. Entries are
signed with PAYMENT_LEDGER_KEY; a balance counts only entries whose signature holds.
Refunds of a charge are bounded by a per-charge total updated with compare-and-set.
"""

from __future__ import annotations

import re

from pydantic import Field, SecretStr

from sdk import EnvSettings, Service, ServiceError, bad_request, conflict, endpoint, not_found, require, unavailable
from sdk.proto import auth_pb2 as auth_pb
from sdk.proto import payment_pb2 as pb
from sdk.store import Bucket, RevisionConflict, key_for

from services.payment import ledger

CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_AMOUNT = 10_000_000


class PaymentConfig(EnvSettings):
    payment_ledger_key: SecretStr = Field(min_length=16)


class Payment(Service):
    name = "payment"
    description = "Ledger of charges and refunds"
    config = PaymentConfig

    async def setup(self) -> None:
        self.key = self.rt.config.payment_ledger_key.get_secret_value().encode()
        self.ledger: Bucket = await self.rt.bucket("ledger")

    async def _authorize(self, token: str, scope: str) -> None:
        require(token=token)
        verdict = await self.rt.call("auth.verify", auth_pb.VerifyRequest(token=token, required_scope=scope))
        if not verdict.valid:
            raise ServiceError("403" if verdict.reason == "missing_scope" else "401", f"token rejected: {verdict.reason}")

    async def _entry(self, idempotency_key: str) -> pb.LedgerEntry | None:
        found = await self.ledger.get("entry." + key_for(idempotency_key), pb.LedgerEntry)
        return found[0] if found else None

    async def _entries(self, account: str) -> list[pb.LedgerEntry]:
        entries = []
        for key in await self.ledger.keys():
            if key.startswith("entry."):
                found = await self.ledger.get(key, pb.LedgerEntry)
                if found and found[0].account == account and ledger.is_authentic(self.key, found[0]):
                    entries.append(found[0])
        return entries

    async def _record(self, entry: pb.LedgerEntry) -> tuple[pb.LedgerEntry, bool]:
        """Store a signed entry under its idempotency key; (entry, replayed)."""
        signed = ledger.sign(self.key, entry)
        try:
            await self.ledger.put("entry." + key_for(entry.idempotency_key), signed, revision=0)
        except RevisionConflict:
            existing = await self._entry(entry.idempotency_key)
            if existing is None or not ledger.same_request(existing, signed):
                raise conflict(f"idempotency key {entry.idempotency_key!r} was used for a different request") from None
            return existing, True
        return signed, False

    @endpoint
    async def charge(self, request: pb.ChargeRequest) -> pb.ChargeResponse:
        require(account=request.account, amount_cents=request.amount_cents, currency=request.currency, idempotency_key=request.idempotency_key)
        if not 0 < request.amount_cents <= MAX_AMOUNT:
            raise bad_request(f"field 'amount_cents' must be between 1 and {MAX_AMOUNT}")
        if not CURRENCY.match(request.currency):
            raise bad_request("field 'currency' must be an ISO 4217 code such as EUR")
        await self._authorize(request.token, "payment:charge")
        entry = pb.LedgerEntry(
            idempotency_key=request.idempotency_key,
            account=request.account,
            kind="charge",
            amount_cents=request.amount_cents,
            currency=request.currency,
        )
        existing = await self._entry(request.idempotency_key)
        if existing is None:
            entries = await self._entries(request.account)
            if entries and entries[0].currency != request.currency:
                raise conflict(f"account {request.account!r} is kept in {entries[0].currency}")
        recorded, replayed = await self._record(entry)
        return pb.ChargeResponse(entry=recorded, replayed=replayed, balance_cents=ledger.balance(await self._entries(request.account)))

    @endpoint
    async def refund(self, request: pb.RefundRequest) -> pb.RefundResponse:
        require(charge_key=request.charge_key, amount_cents=request.amount_cents, idempotency_key=request.idempotency_key)
        if request.amount_cents <= 0:
            raise bad_request("field 'amount_cents' must be positive")
        await self._authorize(request.token, "payment:refund")
        existing = await self._entry(request.idempotency_key)
        if existing is not None:
            charge = await self._entry(existing.charge_key)
        else:
            charge = await self._entry(request.charge_key)
        if charge is None or charge.kind != "charge" or not ledger.is_authentic(self.key, charge):
            raise not_found(f"no charge {request.charge_key!r}")
        entry = pb.LedgerEntry(
            idempotency_key=request.idempotency_key,
            account=charge.account,
            kind="refund",
            amount_cents=request.amount_cents,
            currency=charge.currency,
            charge_key=request.charge_key,
        )
        if existing is None:
            await self._reserve_refund(charge, request.amount_cents)
        recorded, replayed = await self._record(entry)
        return pb.RefundResponse(entry=recorded, replayed=replayed, balance_cents=ledger.balance(await self._entries(charge.account)))

    async def _reserve_refund(self, charge: pb.LedgerEntry, amount: int) -> None:
        key = "refunded." + key_for(charge.idempotency_key)
        for _ in range(5):
            found = await self.ledger.get(key, pb.BalanceResponse)
            total, revision = (found[0].balance_cents, found[1]) if found else (0, 0)
            if total + amount > charge.amount_cents:
                raise conflict(f"refunds would exceed the charge: {total} of {charge.amount_cents} already refunded")
            try:
                await self.ledger.put(key, pb.BalanceResponse(account=charge.account, balance_cents=total + amount), revision=revision)
                return
            except RevisionConflict:
                continue
        raise unavailable("refund total kept changing concurrently; try again")

    @endpoint
    async def balance(self, request: pb.BalanceRequest) -> pb.BalanceResponse:
        require(account=request.account)
        entries = await self._entries(request.account)
        currency = entries[0].currency if entries else ""
        return pb.BalanceResponse(account=request.account, balance_cents=ledger.balance(entries), currency=currency, entries=len(entries))
