"""The fleet manifest: models, loading with line-accurate errors, lint, JSON Schema."""
from fleetctl.controller.manifest.load import LoadedManifest, load_manifest, parse_manifest
from fleetctl.controller.manifest.models import Fleet, ServiceSpec

__all__ = ["Fleet", "LoadedManifest", "ServiceSpec", "load_manifest", "parse_manifest"]
