"""Every tag fleetctl writes, and what it means. No `fleetctl.io/` key is spelled anywhere else.

On a service:
- `FLEET_TAG` (`fleetctl.io/fleet`): the fleet that owns it. plan/apply touch only services
  carrying their own fleet's name (or one named in `--adopt`); IAM scopes service writes by it.
- `TASK_DEF_TAG` (`fleetctl.io/task-definition`): the revision (`family:revision`) fleetctl
  gave the service, written once its rollout holds.
- `TD_HASH_TAG` (`fleetctl.io/task-definition-hash`): the hash of the rendered task definition
  that revision was registered from. With `TASK_DEF_TAG` naming the live revision, a matching
  hash lets plan skip reading the live task definition. Task definitions carry it too, so a
  retried registration finds the revision it already registered.
- `PREVIOUS_TAG` (`fleetctl.io/previous`): the completed revision before it, for `rollback`.
- `AUTOSCALING_TAG` (`fleetctl.io/autoscaling`): the hash of the Application Auto Scaling
  target and policies configured, so a no-op pass reads nothing from Application Auto Scaling.
- `SUSPEND_TAG` (`fleetctl.io/suspended`): the operator leaves the service alone; the value
  says who suspended it and when.

On a canary service (`<name>-canary`, controller/canary.py), its state, so any process resumes it:
- `CANARY_OF_TAG` the service it is the canary of; `CANARY_PHASE_TAG` its phase;
  `CANARY_HASH_TAG` the content hash and `CANARY_REVISION_TAG` the revision it runs;
  `CANARY_STABLE_TAG` the main service's revision beside it; `CANARY_BAKE_START_TAG` when its bake
  started; `CANARY_VERDICT_TAG` the verdict; `CANARY_BASELINE_TAG` `.0`, `.1`, ...: the bake's
  `$SRV.STATS` baseline in chunks of one tag value.
- `CANARY_ABORTED_TAG`, on the main service: `<hash> <why>`, a revision whose canary was aborted
  (not tried again until the manifest changes).

On a cluster:
- `fleet_suspend_key(fleet)` (`fleetctl.io/suspended/<fleet>`): the whole fleet is suspended.
"""
from __future__ import annotations

PREFIX = "fleetctl.io/"

FLEET_TAG = PREFIX + "fleet"
TASK_DEF_TAG = PREFIX + "task-definition"
TD_HASH_TAG = PREFIX + "task-definition-hash"
PREVIOUS_TAG = PREFIX + "previous"
AUTOSCALING_TAG = PREFIX + "autoscaling"
SUSPEND_TAG = PREFIX + "suspended"

CANARY_OF_TAG = PREFIX + "canary-of"
CANARY_PHASE_TAG = PREFIX + "canary-phase"
CANARY_HASH_TAG = PREFIX + "canary-hash"
CANARY_REVISION_TAG = PREFIX + "canary-revision"
CANARY_STABLE_TAG = PREFIX + "canary-stable"
CANARY_BAKE_START_TAG = PREFIX + "canary-bake-start"
CANARY_VERDICT_TAG = PREFIX + "canary-verdict"
CANARY_BASELINE_TAG = PREFIX + "canary-baseline"
CANARY_ABORTED_TAG = PREFIX + "canary-aborted"


def fleet_suspend_key(fleet_name: str) -> str:
    """The cluster tag that suspends the reconcile of a whole fleet."""
    return f"{SUSPEND_TAG}/{fleet_name}"
