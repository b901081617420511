"""Typed requests to other services over NATS, each peer behind its own circuit breaker."""

from __future__ import annotations

from dataclasses import dataclass, field

from google.protobuf.message import Message
from nats import errors as nats_errors
from nats.aio.client import Client
from nats.micro.request import ERROR_CODE_HEADER, ERROR_HEADER

from sdk import codec, contracts, tracing
from sdk.breaker import CircuitBreaker
from sdk.errors import CircuitOpenError, RemoteError

DEFAULT_TIMEOUT = 2.0


@dataclass
class Peers:
    client: Client
    timeout: float = DEFAULT_TIMEOUT
    failure_threshold: int = 5
    reset_timeout: float = 5.0
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)

    def breaker(self, service: str) -> CircuitBreaker:
        if service not in self.breakers:
            self.breakers[service] = CircuitBreaker(service, self.failure_threshold, self.reset_timeout)
        return self.breakers[service]

    async def call(self, subject: str, request: Message, timeout: float | None = None) -> Message:
        """Send `request` to `subject` and return the decoded response of its contract.

        Raises RemoteError for an error reply, a timeout (504) or no responders (503), and
        CircuitOpenError without sending anything while the peer's circuit is open.
        """
        contract = contracts.endpoint(subject)
        if not isinstance(request, contract.request):
            raise TypeError(f"{subject} takes {contract.request.DESCRIPTOR.full_name}, not {request.DESCRIPTOR.full_name}")
        breaker = self.breaker(contract.service)
        if not breaker.allow():
            raise CircuitOpenError(subject, "503", f"circuit to {contract.service} is open")
        headers: dict[str, str] = {}
        tracing.inject(headers)
        try:
            reply = await self.client.request(subject, codec.encode(request), timeout=timeout or self.timeout, headers=headers)
        except nats_errors.NoRespondersError:
            breaker.record_failure()
            raise RemoteError(subject, "503", "no responders") from None
        except (nats_errors.TimeoutError, TimeoutError):
            breaker.record_failure()
            raise RemoteError(subject, "504", "timed out") from None
        except (nats_errors.ConnectionClosedError, nats_errors.ConnectionReconnectingError) as error:
            breaker.record_failure()
            raise RemoteError(subject, "503", str(error)) from None
        code = (reply.headers or {}).get(ERROR_CODE_HEADER)
        if code:
            error = RemoteError(subject, code, (reply.headers or {}).get(ERROR_HEADER, ""))
            if error.is_server_fault:
                breaker.record_failure()
            else:
                breaker.record_success()
            raise error
        breaker.record_success()
        return codec.decode(reply.data, contract.response)
