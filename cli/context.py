"""Loading a manifest for a command, starting the sandbox when the manifest targets it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from controller.errors import FleetError
from controller.manifest import LoadedManifest, load_manifest


def _targets_sandbox(path: Path) -> bool:
    import yaml

    from controller.manifest.load import MAX_BYTES

    try:
        if path.stat().st_size > MAX_BYTES:  # refused by the loader; never parsed
            return False
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        return doc["spec"]["target"]["kind"] == "sandbox"
    except Exception:  # an unreadable manifest is reported by the loader
        return False


def load_for_aws(manifest: Path, tf_outputs: Path | None, *, start_sandbox: bool) -> LoadedManifest:
    """Load a manifest for a command that talks to AWS.

    A manifest that targets the sandbox gets it started first (when `start_sandbox`), since
    the sandbox writes the terraform-shaped outputs the manifest reads.
    """
    if _targets_sandbox(manifest) and tf_outputs is None:
        from sandbox.api import SandboxError, ensure_running, status

        try:
            if start_sandbox:
                from cli import output

                st = status()
                if not st.running:
                    output.info("starting the sandbox ...")
                ensure_running()
        except SandboxError as exc:
            raise FleetError(f"sandbox: {exc}") from None
    return load_manifest(manifest, tf_outputs=tf_outputs)


def aws_for(loaded: LoadedManifest, **kwargs: Any):
    from controller.aws import Aws

    return Aws.for_target(loaded.fleet.spec.target, **kwargs)
