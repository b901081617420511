"""The fleet's contracts: one `.proto` per service under `sdk/proto/`.

Each file declares one protobuf `service` whose rpc names are the endpoint names, so the
NATS subject of an endpoint is `<service>.<rpc>` and its request and response types come
straight from the rpc's input and output messages.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache

from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

PROTO_PACKAGE = "sdk.proto"


@dataclass(frozen=True)
class Endpoint:
    service: str
    name: str
    request: type[Message]
    response: type[Message]

    @property
    def subject(self) -> str:
        return f"{self.service}.{self.name}"


class UnknownContract(LookupError):
    pass


@cache
def _descriptor(service: str) -> ServiceDescriptor:
    if not service.isidentifier() or service == "common":
        raise UnknownContract(f"no contract for service {service!r}")
    try:
        module = importlib.import_module(f"{PROTO_PACKAGE}.{service}_pb2")
    except ModuleNotFoundError:
        raise UnknownContract(f"no contract for service {service!r}") from None
    services = list(module.DESCRIPTOR.services_by_name.values())
    if len(services) != 1:
        raise UnknownContract(f"{service}.proto must declare exactly one service")
    return services[0]


@cache
def endpoints(service: str) -> dict[str, Endpoint]:
    """The endpoints of `service` by name, in declaration order."""
    return {
        method.name: Endpoint(service, method.name, GetMessageClass(method.input_type), GetMessageClass(method.output_type))
        for method in _descriptor(service).methods
    }


def endpoint(subject: str) -> Endpoint:
    """The contract for `<service>.<endpoint>`; raises UnknownContract."""
    service, _, name = subject.partition(".")
    found = endpoints(service).get(name)
    if found is None:
        raise UnknownContract(f"service {service!r} has no endpoint {name!r}")
    return found
