"""The one seam between fleetctl and AWS. Only this package imports aiobotocore.

Everything above it takes and returns fleetctl's own dataclasses (controller.state).
"""
from controller.aws.client import Aws

__all__ = ["Aws"]
