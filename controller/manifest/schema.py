"""JSON Schema of the manifest, generated from the models (checked in as manifests/fleet.schema.json)."""
from __future__ import annotations

from typing import Any

from fleetctl.controller.manifest.models import Fleet

SCHEMA_ID = "https://fleetctl.dev/schemas/fleet.v1.json"


def fleet_schema() -> dict[str, Any]:
    schema = Fleet.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema, "title": "fleetctl Fleet manifest"}
