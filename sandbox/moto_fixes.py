"""The changes moto 5.2.5 needs before its ECS behaves like ECS.

Each fix patches one moto class method and is applied once per process by ``apply()``.
They are class-level patches, so they survive a reset of moto (which replaces backend
objects, not classes). Each has its own test in ``tests/sandbox/test_moto_fixes.py``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fleetctl.sandbox import deployments

_applied = False


def container_entries(task: Any, task_definition: Any) -> list[dict[str, Any]]:
    """One container entry per container definition, as ECS reports them before start."""
    prefix = task.task_arn.replace(":task/", ":container/", 1)
    return [
        {
            "containerArn": f"{prefix}/{uuid.uuid4()}",
            "taskArn": task.task_arn,
            "name": cd.get("name"),
            "image": cd.get("image"),
            "lastStatus": "PENDING",
            "networkInterfaces": [],
            "healthStatus": "UNKNOWN",
            "cpu": str(cd.get("cpu", 0)),
            **({"memory": str(cd["memory"])} if cd.get("memory") else {}),
        }
        for cd in task_definition.container_definitions
    ]


def fix_create_service_keeps_configuration() -> None:
    """CreateService keeps deploymentConfiguration and starts one real PRIMARY deployment.

    moto drops deploymentConfiguration, fakes pendingCount = desiredCount and stores a
    deployment whose counts never move; ECS starts at zero and lets the scheduler count.
    """
    from moto.ecs.responses import EC2ContainerServiceResponse

    original = EC2ContainerServiceResponse.create_service

    def create_service(self: Any) -> Any:
        result = original(self)
        service = self.ecs_backend._get_service(
            self._get_param("cluster", "default"), self._get_param("serviceName")
        )
        config = self._get_param("deploymentConfiguration")
        service.deployment_configuration = deployments.fill_deployment_configuration(config)
        service.created_at = deployments.now()
        service.running_count = 0
        service.pending_count = 0
        service.events = []
        service.deployments = []
        if service.deployment_controller.get("type", "ECS") == "ECS" and service.task_definition:
            deployments.start_deployment(service, service.task_definition)
        return result

    EC2ContainerServiceResponse.create_service = create_service  # type: ignore[method-assign]


NOT_IDEMPOTENT = "Creation of service was not idempotent."
"""ECS's answer to a CreateService that would create a service already there (InvalidParameterException)."""


def fix_create_service_honours_client_token() -> None:
    """CreateService is idempotent per clientToken, as ECS documents it.

    moto ignores the token and replaces a service of the same name. ECS answers a retry with
    the same token and the same parameters with the service it created (and changes nothing);
    any other create of a service that is still ACTIVE or DRAINING in the cluster, and a token
    reused with other parameters, fails with InvalidParameterException "Creation of service
    was not idempotent." Tokens are scoped to the cluster.
    """
    from moto.core.responses import ActionResult
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.responses import EC2ContainerServiceResponse

    original = EC2ContainerServiceResponse.create_service

    def create_service(self: Any) -> Any:
        backend = self.ecs_backend
        cluster = backend._get_cluster(self._get_param("cluster", "default")).name
        name = self._get_param("serviceName")
        token = self._get_param("clientToken")
        request = {k: v for k, v in json.loads(self.body or "{}").items() if k != "clientToken"}
        request["cluster"] = cluster
        fingerprint = json.dumps(request, sort_keys=True, default=str)
        tokens: dict[tuple[str, str], tuple[str, str]] = backend.__dict__.setdefault("_fleetctl_client_tokens", {})
        existing = backend.services.get(f"{cluster}:{name}")
        if existing is not None and existing.status == "INACTIVE":
            existing = None
        if token and (cluster, token) in tokens:
            if tokens[(cluster, token)] != (name, fingerprint):
                raise InvalidParameterException(NOT_IDEMPOTENT)
            if existing is not None:
                return ActionResult({"service": existing})
        if existing is not None:
            raise InvalidParameterException(NOT_IDEMPOTENT)
        result = original(self)
        if token:
            tokens[(cluster, token)] = (name, fingerprint)
        return result

    EC2ContainerServiceResponse.create_service = create_service  # type: ignore[method-assign]


def fix_update_service_deploys() -> None:
    """UpdateService with a new task definition (or forceNewDeployment) starts a deployment.

    moto swaps the task definition string in place, never makes a deployment, and fakes
    runningCount = desiredCount; ECS keeps real counts and rolls a new PRIMARY out.
    """
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.update_service

    def update_service(self: Any, props: dict[str, Any]) -> Any:
        service = self._get_service(
            props.get("cluster", "default"), props["service"].split("/")[-1]
        )
        counts = (service.running_count, service.pending_count)
        previous_td = service.task_definition
        force = bool(props.pop("force_new_deployment", False))
        result = original(self, props)
        service.running_count, service.pending_count = counts
        td_arn = self.describe_task_definition(service.task_definition).arn
        service.task_definition = td_arn
        current = deployments.primary(service)
        if td_arn != previous_td or force or current is None:
            deployments.start_deployment(service, td_arn)
        else:
            current["desiredCount"] = service.desired_count
            current["updatedAt"] = deployments.now()
        return result

    EC2ContainerServiceBackend.update_service = update_service  # type: ignore[method-assign]


def fix_list_tasks_filters_by_service() -> None:
    """ListTasks filters as ECS does: by serviceName (moto ignores it), and by
    desiredStatus RUNNING when none is given (moto returns stopped tasks too)."""
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.list_tasks

    def list_tasks(self: Any, *args: Any, **kwargs: Any) -> list[Any]:
        names = [
            "cluster_str", "container_instance", "family", "started_by",
            "service_name", "desiredStatus",
        ]  # fmt: skip
        bound = dict(zip(names, args)) | kwargs
        service_name = bound.pop("service_name", None)
        bound["desiredStatus"] = bound.get("desiredStatus") or "RUNNING"
        tasks = original(self, **bound)
        if service_name:
            group = f"service:{service_name.split('/')[-1]}"
            tasks = [t for t in tasks if t.group == group]
        return list(tasks)

    EC2ContainerServiceBackend.list_tasks = list_tasks  # type: ignore[method-assign]


def fix_stop_task_is_asynchronous() -> None:
    """StopTask asks for a stop; the task runner stops the containers and reports STOPPED.

    moto marks the task STOPPED at once with no stopCode; ECS answers with
    desiredStatus STOPPED and lastStatus unchanged, then stops it with stopCode UserInitiated.
    """
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend

    def stop_task(self: Any, cluster_str: str, task_str: str, reason: str | None) -> Any:
        cluster = self._get_cluster(cluster_str)
        task_id = task_str.split("/")[-1]
        for arn, task in self.tasks.get(cluster.name, {}).items():
            if arn.split("/")[-1] == task_id:
                if task.desired_status != "STOPPED":
                    task.desired_status = "STOPPED"
                    task.stop_code = "UserInitiated"
                    task.stopped_reason = reason or "Task stopped by user"
                    task.stopping_at = deployments.now()
                return task
        raise InvalidParameterException("The referenced task was not found.")

    EC2ContainerServiceBackend.stop_task = stop_task  # type: ignore[method-assign]


def fix_run_task_starts_provisioning() -> None:
    """RunTask creates PROVISIONING tasks with one entry per container definition.

    moto starts tasks RUNNING with a single container entry (exitCode 0, wrong taskArn);
    ECS starts them PROVISIONING, and the task runner then moves them along.
    """
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.run_task

    def run_task(self: Any, *args: Any, **kwargs: Any) -> list[Any]:
        tasks = original(self, *args, **kwargs)
        for task in tasks:
            task_definition = self.describe_task_definition(task.task_definition_arn)
            task.last_status = "PROVISIONING"
            task.stopped_reason = None  # ECS shows no stoppedReason until the task stops
            task.created_at = deployments.now()
            task.containers = container_entries(task, task_definition)
            task.cpu = task_definition.cpu
            task.memory = task_definition.memory
            task.version = 1
        return list(tasks)

    EC2ContainerServiceBackend.run_task = run_task  # type: ignore[method-assign]


def fix_task_level_memory_is_enough() -> None:
    """Container definitions may omit memory when the task definition sets it (Fargate).

    moto adds ``None`` to an int for such containers and RunTask fails with a 500.
    """
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend._calculate_task_resource_requirements

    def calculate(task_definition: Any) -> dict[str, Any]:
        filled = [
            cd if any(k in cd for k in ("memory", "memoryReservation", "Memory", "MemoryReservation"))
            else {**cd, "memory": 0}
            for cd in task_definition.container_definitions
        ]  # fmt: skip
        shadow = type("TD", (), {"container_definitions": filled})()
        requirements: dict[str, Any] = original(shadow)
        if not requirements["MEMORY"] and task_definition.memory:
            requirements["MEMORY"] = int(task_definition.memory)
        return requirements

    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(calculate)  # type: ignore[method-assign, assignment]


FIXES = [
    fix_create_service_keeps_configuration,
    fix_create_service_honours_client_token,
    fix_update_service_deploys,
    fix_list_tasks_filters_by_service,
    fix_stop_task_is_asynchronous,
    fix_run_task_starts_provisioning,
    fix_task_level_memory_is_enough,
]


def apply() -> None:
    """Apply every fix once in this process."""
    global _applied
    if _applied:
        return
    for fix in FIXES:
        fix()
    _applied = True
