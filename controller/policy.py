"""Rules apply and the operator share: which dependency gates its dependents, which error is terminal."""
from __future__ import annotations

from fleetctl.controller.conditions import is_ready
from fleetctl.controller.errors import CloudError, FleetError, ManifestError
from fleetctl.controller.plan import CreateServiceAction, DeleteServiceAction, OwnershipError, Plan, UpdateServiceAction
from fleetctl.controller.state import ServiceState

# AWS error codes that say the request itself is wrong: sending it again cannot succeed.
TERMINAL_CODES = frozenset({
    "InvalidParameterException", "ClientException", "ValidationException", "ParamValidation",
    "AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "PlatformUnknownException",
    "UnsupportedFeatureException", "ClusterNotFoundException",
})


def dependency_gates(plan: Plan, observed: dict[str, ServiceState], dep: str) -> bool:
    """A dependency gates its dependents while it is not serving: being created, not Ready now,
    or being replaced with no healthy minimum. A rolling update of a Ready service keeps it
    serving throughout, so dependents roll in the same wave."""
    dp = plan.for_service(dep)
    current = observed.get(dep)
    if dp is None or not dp.actions:
        return not is_ready(current)
    if any(isinstance(a, (CreateServiceAction, DeleteServiceAction)) for a in dp.actions) or not is_ready(current):
        return True
    floor = (current.deployment_configuration or {}).get("minimumHealthyPercent", 100) if current else 100
    return any(isinstance(a, UpdateServiceAction) for a in dp.actions) and floor == 0


def is_terminal(exc: FleetError) -> bool:
    """An error retrying the same spec cannot fix: the manifest or the ownership check refuses
    it, or AWS rejects the request itself (not throttling, timeouts, 5xx or a race). Any other
    error is retried with back-off."""
    if isinstance(exc, (ManifestError, OwnershipError)):
        return True
    if isinstance(exc, CloudError):
        return exc.code in TERMINAL_CODES and not getattr(exc, "retryable", False)
    return False
