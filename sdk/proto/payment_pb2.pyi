from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LedgerEntry(_message.Message):
    __slots__ = ("idempotency_key", "account", "kind", "amount_cents", "currency", "charge_key", "signature")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_CENTS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CHARGE_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    account: str
    kind: str
    amount_cents: int
    currency: str
    charge_key: str
    signature: str
    def __init__(self, idempotency_key: _Optional[str] = ..., account: _Optional[str] = ..., kind: _Optional[str] = ..., amount_cents: _Optional[int] = ..., currency: _Optional[str] = ..., charge_key: _Optional[str] = ..., signature: _Optional[str] = ...) -> None: ...

class ChargeRequest(_message.Message):
    __slots__ = ("token", "account", "amount_cents", "currency", "idempotency_key")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_CENTS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    token: str
    account: str
    amount_cents: int
    currency: str
    idempotency_key: str
    def __init__(self, token: _Optional[str] = ..., account: _Optional[str] = ..., amount_cents: _Optional[int] = ..., currency: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class ChargeResponse(_message.Message):
    __slots__ = ("entry", "replayed", "balance_cents")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    BALANCE_CENTS_FIELD_NUMBER: _ClassVar[int]
    entry: LedgerEntry
    replayed: bool
    balance_cents: int
    def __init__(self, entry: _Optional[_Union[LedgerEntry, _Mapping]] = ..., replayed: _Optional[bool] = ..., balance_cents: _Optional[int] = ...) -> None: ...

class RefundRequest(_message.Message):
    __slots__ = ("token", "charge_key", "amount_cents", "idempotency_key")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CHARGE_KEY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_CENTS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    token: str
    charge_key: str
    amount_cents: int
    idempotency_key: str
    def __init__(self, token: _Optional[str] = ..., charge_key: _Optional[str] = ..., amount_cents: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class RefundResponse(_message.Message):
    __slots__ = ("entry", "replayed", "balance_cents")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    BALANCE_CENTS_FIELD_NUMBER: _ClassVar[int]
    entry: LedgerEntry
    replayed: bool
    balance_cents: int
    def __init__(self, entry: _Optional[_Union[LedgerEntry, _Mapping]] = ..., replayed: _Optional[bool] = ..., balance_cents: _Optional[int] = ...) -> None: ...

class BalanceRequest(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: str
    def __init__(self, account: _Optional[str] = ...) -> None: ...

class BalanceResponse(_message.Message):
    __slots__ = ("account", "balance_cents", "currency", "entries")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    BALANCE_CENTS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    account: str
    balance_cents: int
    currency: str
    entries: int
    def __init__(self, account: _Optional[str] = ..., balance_cents: _Optional[int] = ..., currency: _Optional[str] = ..., entries: _Optional[int] = ...) -> None: ...
