"""The one seam between fleetctl and AWS. Only this package imports aiobotocore.

Everything above it takes and returns fleetctl's own dataclasses (controller.state), and needs
only `AwsApi` (controller/aws/protocol.py): `Aws` implements it, and so does the in-memory ECS
of the unit tests (tests/fakes/ecs.py).
"""
from fleetctl.controller.aws.client import Aws
from fleetctl.controller.aws.protocol import AwsApi

__all__ = ["Aws", "AwsApi"]
