"""Render each service of a fleet: its typed settings and the ECS requests they make.

`render_service` builds a service's `ServiceSettings` (controller/settings.py) once from the
manifest, and the RegisterTaskDefinition, CreateService and UpdateService inputs from it with
`controller/aws/ecs_requests.py`, the same functions apply sends through. What `fleetctl render`
prints is therefore what is sent, with two values known only at apply time: the revision that
RegisterTaskDefinition returns (CreateService/UpdateService's `taskDefinition`, here the family;
CreateService also records it in the tag `fleetctl.io/task-definition`), and which fields an
update carries (those plan found different; an autoscaled service's desiredCount is kept
within [min, max]). Pure functions of the manifest; no AWS calls.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from fleetctl.controller.aws import ecs_requests
from fleetctl.controller.manifest.models import Fleet, ServiceSpec
from fleetctl.controller.settings import (  # noqa: F401  (family and friends are imported from here too)
    UPDATABLE,
    ServiceSettings,
    family,
    image_version,
    nats_environment,
    service_settings,
)
from fleetctl.controller.tags import FLEET_TAG, TD_HASH_TAG  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class RenderedService:
    name: str
    settings: ServiceSettings
    spec_hash: str   # task definition and service settings
    td_hash: str     # task definition alone
    autoscaling: Any = None   # controller.autoscaling.RenderedScaling when the service autoscales

    # the requests, built from `settings` by controller/aws/ecs_requests.py (once, on first use)

    @cached_property
    def register_task_definition(self) -> dict[str, Any]:
        return ecs_requests.register_task_definition(self.settings.task_definition)

    @cached_property
    def create_service(self) -> dict[str, Any]:
        return ecs_requests.create_service(self.settings, self.settings.task_definition.family)

    @cached_property
    def update_service(self) -> dict[str, Any]:
        return ecs_requests.update_service(self.settings.cluster, self.name, settings=self.settings,
                                       task_definition=self.settings.task_definition.family,
                                       fields=UPDATABLE)

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.name,
            "specHash": self.spec_hash,
            "taskDefinitionHash": self.td_hash,
            "registerTaskDefinition": self.register_task_definition,
            "createService": self.create_service,
            "updateService": self.update_service,
            **({"autoscaling": self.autoscaling.as_dict()} if self.autoscaling is not None else {}),
        }


def content_hash(body: Any) -> str:
    """Hash of a JSON document, independent of key order."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def client_token(fleet_name: str, service: str, digest: str) -> str:
    """CreateService's idempotency token (at most 36 ASCII characters)."""
    return hashlib.sha256(f"{fleet_name}/{service}/{digest}".encode()).hexdigest()[:32]


def spec_hash(task_def: dict[str, Any], settings: dict[str, Any]) -> str:
    """Content hash of everything a service should be."""
    return content_hash({"taskDefinition": task_def, "service": settings})


def render_service(fleet: Fleet, spec: ServiceSpec) -> RenderedService:
    settings = service_settings(fleet, spec)
    scaling = None
    if spec.autoscaling is not None:
        from fleetctl.controller.autoscaling import render_scaling

        scaling = render_scaling(fleet.spec.target.cluster, spec.name, spec.autoscaling)
    td_body = ecs_requests.register_task_definition(settings.task_definition)
    service_body = ecs_requests.service_fields(settings)
    digest = spec_hash(td_body, {**service_body, **({"autoscaling": scaling.hash} if scaling else {})})
    td_digest = content_hash(td_body)
    # the revision carries the hash of the content it was registered from: a retry or a re-run
    # finds it instead of registering the same content again (the hash is of the rest)
    td = settings.task_definition
    settings = replace(
        settings,
        task_definition=replace(td, tags=(*td.tags, (TD_HASH_TAG, td_digest))),
        tags=((FLEET_TAG, fleet.metadata.name), (TD_HASH_TAG, td_digest)),
        client_token=client_token(fleet.metadata.name, spec.name, digest),
    )
    return RenderedService(spec.name, settings, digest, td_digest, scaling)


def selected(fleet: Fleet, only: str | Collection[str] | None = None) -> list[ServiceSpec]:
    """Every service, or only the one named / the ones listed in `only`, in manifest order."""
    wanted = None if only is None else {only} if isinstance(only, str) else set(only)
    return [s for s in fleet.spec.services if wanted is None or s.name in wanted]


def render(fleet: Fleet, only: str | Collection[str] | None = None) -> list[RenderedService]:
    """Every service, or only the one named / the ones listed in `only`."""
    return [render_service(fleet, s) for s in selected(fleet, only)]
