"""Why a task stopped, as data: an ordered table of matchers and what each match means.

Rules are tried in three stages, in table order within a stage:

1. `PLATFORM`: ECS's own verdict (stop code, stopped reason, container reason, exit code).
   These are decisive: a task that never started, was OOM-killed or was interrupted on Spot
   has nothing in its log that could say otherwise.
2. `LOG`: the container's log lines. The *earliest* line that matches a specific rule wins,
   since the first error is usually the root and the last one a consequence (nats-py ends
   every failed connect with a generic `NoServersError`). `generic` rules only count when
   no specific rule matched any line.
3. `FALLBACK`: symptoms that name no cause (health check kill, bare exit codes); used only
   when the log explains nothing. The last rule always matches.

Texts are templates: `{name}` takes a named group of the matching pattern or a context value
(`service`, `exit_code`, `stop_timeout`, `memory`, `log_group`, ...); unknown names are
replaced by a neutral word.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass

CATEGORIES = (
    "image_pull",
    "secrets_or_registry_auth",
    "log_driver_config",
    "python_import_error",
    "nats_unreachable",
    "nats_auth",
    "nats_dns",
    "nats_tls",
    "config_missing",
    "dependency_version_mismatch",
    "exec_format_arch",
    "entrypoint_missing",
    "permission_denied",
    "oom_killed",
    "health_check_failed",
    "network_interface",
    "capacity_or_placement",
    "spot_or_scale_in",
    "user_or_deploy_stopped",
    "app_crash_unknown",
    "platform_internal",
)

NATS_CATEGORIES = frozenset({"nats_unreachable", "nats_auth", "nats_dns", "nats_tls"})


class Stage(enum.IntEnum):
    PLATFORM = 1
    LOG = 2
    FALLBACK = 3


class Severity(str, enum.Enum):
    error = "error"      # the service cannot run as deployed
    warning = "warning"  # it runs, but something needs attention
    info = "info"        # expected: nothing to fix


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    stage: Stage
    summary: str
    hint: str
    stop_code: str | None = None   # regex, full match on stopCode
    reason: str | None = None      # regex, searched in stoppedReason and the container's reason
    exit_codes: frozenset[int] | None = None
    log: str | None = None         # regex, searched in each log line
    generic: bool = False
    severity: Severity = Severity.error

    def __post_init__(self) -> None:
        assert self.category in CATEGORIES, self.category
        for pattern in (self.stop_code, self.reason, self.log):
            if pattern is not None:
                re.compile(pattern)


P, L, F = Stage.PLATFORM, Stage.LOG, Stage.FALLBACK
_SCHEDULED_STOP = r"Scaling activity initiated by|Service deleted|[Dd]eployment"
_KILLED_SUMMARY = ("stopped by a deployment or a user, then killed: the container did not exit within stopTimeout "
                   "after SIGTERM (exit 137 here is SIGKILL, not out-of-memory)")
_KILLED_HINT = ("handle SIGTERM in {service} and exit after draining, or raise deployment.stopTimeout "
                "(now {stop_timeout}); ECS sends SIGKILL when it runs out")
_SECRETS = r"unable to pull secrets or registry auth"
_ROUTE_TO_AWS = ("give the task subnets a route to the AWS APIs: a NAT gateway, or VPC endpoints for "
                 "{endpoints}; allow egress to 443 in the task security group (or assignPublicIp in a public subnet)")

RULES: tuple[Rule, ...] = (
    # ---- ECS's verdict -------------------------------------------------------------------------
    Rule("oom", "oom_killed", P,
         "the container was killed for using more memory than its limit",
         "raise `memory` for {service} in the manifest (now {memory}) or find what grows; "
         "ECS reported OutOfMemoryError and the kernel sent SIGKILL (exit 137)",
         reason=r"OutOfMemoryError|Container killed due to memory usage|OOMKilled"),
    Rule("secret-not-found", "secrets_or_registry_auth", P,
         "a secret the task definition references does not exist",
         "create the secret {secret} or fix its ARN in the manifest (`secrets` of {service}, or "
         "spec.nats.credentials); ECS resolves every secret before the container starts",
         reason=_SECRETS + r".*?(?:failed to fetch secret (?P<secret>\S+)|invalid ssm parameters?: (?P<parameter>\S+)"
                r"|ResourceNotFoundException|ParameterNotFound|can't find the specified secret)"),
    Rule("secret-access-denied", "secrets_or_registry_auth", P,
         "the task execution role may not read a secret or the registry",
         "grant the task execution role {action} on the resource (secretsmanager:GetSecretValue, "
         "ssm:GetParameters, kms:Decrypt for a customer key, ecr:GetAuthorizationToken)",
         reason=_SECRETS + r".*?(?:not authorized to perform: (?P<action>[\w:-]+)|AccessDenied\w*)"),
    Rule("secret-network", "secrets_or_registry_auth", P,
         "the task could not reach Secrets Manager, SSM or ECR to fetch its secrets",
         _ROUTE_TO_AWS.replace("{endpoints}", "secretsmanager, ssm, ecr.api, ecr.dkr and the S3 gateway"),
         reason=_SECRETS + r".*?(?:i/o timeout|dial tcp|context deadline exceeded|RequestError|signal: killed)"),
    Rule("secret-other", "secrets_or_registry_auth", P,
         "ECS could not fetch the task's secrets or registry credentials",
         "check every valueFrom ARN of {service} exists in this region and account and that the execution "
         "role may read it (secretsmanager:GetSecretValue / ssm:GetParameters / kms:Decrypt)",
         reason=_SECRETS),
    Rule("pull-platform", "exec_format_arch", P,
         "the image has no build for the task's CPU architecture",
         "build and push a multi-arch image (docker buildx --platform linux/amd64,linux/arm64) or set "
         "runtimePlatform.cpuArchitecture to the architecture the image was built for",
         reason=r"CannotPullContainerError.*(?:does not contain descriptor matching platform|no matching manifest for)"),
    Rule("pull-auth", "secrets_or_registry_auth", P,
         "the registry refused the image pull: the execution role or registry credentials are not allowed",
         "grant the task execution role ecr:GetAuthorizationToken, ecr:BatchGetImage and "
         "ecr:GetDownloadUrlForLayer (and check the repository policy); for a private registry set "
         "repositoryCredentials",
         reason=r"CannotPullContainerError.*(?:no basic auth credentials|not authorized to perform|AccessDenied"
                r"|403 Forbidden|401 Unauthorized|authorization failed)"),
    Rule("pull-network", "image_pull", P,
         "the task could not reach the registry to pull its image",
         _ROUTE_TO_AWS.replace("{endpoints}", "ecr.api, ecr.dkr and the S3 gateway"),
         reason=r"CannotPullContainerError.*(?:i/o timeout|dial tcp|context deadline exceeded|TLS handshake timeout"
                r"|no such host|connection refused)"),
    Rule("pull-disk", "image_pull", P,
         "the image does not fit on the task's storage",
         "make the image smaller or raise ephemeralStorage in the task definition",
         reason=r"CannotPullContainerError.*no space left on device"),
    Rule("pull-not-found", "image_pull", P,
         "the image does not exist in the registry",
         "push {image} or fix `image` of {service} in the manifest (tag or digest typo, wrong account or region)",
         reason=r"CannotPullContainerError.*?(?:failed to resolve ref (?P<image>\S+?):\s|pull access denied for (?P<image_>[^,\s]+)"
                r"|not found|manifest unknown|does not exist)"),
    Rule("pull-other", "image_pull", P,
         "ECS could not pull the image",
         "check `image` of {service} in the manifest and that the registry is reachable from the task subnets",
         reason=r"CannotPullContainerError|PullImageManifestError"),
    Rule("log-group-missing", "log_driver_config", P,
         "the awslogs log group does not exist",
         "create the log group {log_group} (terraform) or set logs.createGroup: true in the manifest "
         "(the execution role then needs logs:CreateLogGroup)",
         reason=r"(?:failed to validate logger args|failed to initialize logging driver|awslogs).*"
                r"(?:log group does not exist|ResourceNotFoundException)"),
    Rule("log-access-denied", "log_driver_config", P,
         "the execution role may not write the awslogs stream",
         "grant the task execution role logs:CreateLogStream and logs:PutLogEvents on {log_group}",
         reason=r"(?:failed to validate logger args|failed to initialize logging driver|awslogs).*"
                r"(?:AccessDenied|not authorized)"),
    Rule("log-other", "log_driver_config", P,
         "the log driver options are not valid",
         "check logConfiguration of {service}: awslogs-group, awslogs-region (must be the task's region) and "
         "awslogs-stream-prefix",
         reason=r"failed to validate logger args|failed to initialize logging driver|failed to create Cloudwatch log stream"),
    Rule("env-files", "config_missing", P,
         "ECS could not download the task's environment files",
         "check the S3 object of environmentFiles exists and the execution role has s3:GetObject on it",
         reason=r"failed to download env files|environmentFiles"),
    Rule("eni", "network_interface", P,
         "the task's network interface could not be created or attached",
         "free IP addresses in the service subnets (bigger subnets or more of them), stay under the ENI "
         "limits (ENI trunking on EC2), and make sure subnets and security groups are in one VPC",
         reason=r"network interface provision|Timeout waiting for network interface|\bENI\b|ElasticNetworkInterface"
                r"|InsufficientFreeAddresses|insufficient free addresses|RESOURCE:ENI"),
    Rule("placement", "capacity_or_placement", P,
         "ECS found no capacity to place the task",
         "add capacity (capacity provider / Auto Scaling group maximum), lower cpu/memory of {service}, or "
         "allow more subnets/AZs; for Fargate retry later or add a FARGATE_SPOT/FARGATE mix",
         reason=r"RESOURCE:(?:MEMORY|CPU|PORTS_TCP|PORTS_UDP|GPU)|unable to place a task|Capacity is unavailable"
                r"|insufficient (?:memory|CPU)|no container instance met|reached the limit on the number of tasks"
                r"|\bAGENT\b|\bATTRIBUTE\b|LAUNCH_TYPE"),
    Rule("spot", "spot_or_scale_in", P,
         "the task's capacity was reclaimed (Spot interruption, scale-in or host retirement)",
         "expected on Spot and scale-in: keep desiredCount >= 2 across AZs, handle SIGTERM within "
         "stopTimeout, and mix FARGATE with FARGATE_SPOT capacity",
         stop_code=r"SpotInterruption|TerminationNotice", severity=Severity.warning),
    Rule("spot-reason", "spot_or_scale_in", P,
         "the task's capacity was reclaimed (Spot interruption, scale-in or host retirement)",
         "expected on Spot and scale-in: keep desiredCount >= 2 across AZs, handle SIGTERM within "
         "stopTimeout, and mix FARGATE with FARGATE_SPOT capacity",
         reason=r"Spot Task was interrupted|is being terminated|instance (?:is )?draining|Host EC2 .*(?:stopped|terminated)"
                r"|retire|performing maintenance", severity=Severity.warning),
    Rule("entrypoint", "entrypoint_missing", P,
         "the container's command does not exist in the image",
         "fix entryPoint/command of {service} ({exe}) or install it in the image; a script also fails "
         "this way when its #! interpreter is missing or it has CRLF line endings",
         reason=r'exec: "(?P<exe>[^"]*)": (?:executable file not found in \$PATH|(?:stat [^:]+: )?no such file or directory)'
                r"|executable file not found|no such file or directory: unknown"),
    Rule("exec-permission", "permission_denied", P,
         "the container's command is not executable",
         "make {exe} executable in the Dockerfile (RUN chmod +x) or run it through its interpreter, "
         "and check the image USER may read WORKDIR",
         reason=r'exec: "(?P<exe>[^"]*)": permission denied|permission denied: unknown'),
    Rule("exec-format", "exec_format_arch", P,
         "the image was built for another CPU architecture",
         "build for the task's platform (docker buildx --platform linux/amd64) or set "
         "runtimePlatform.cpuArchitecture to the image's architecture (ARM64 for Graviton)",
         reason=r"exec format error"),
    Rule("platform", "platform_internal", P,
         "ECS or Fargate failed internally; the application was not at fault",
         "nothing to change in the service: ECS retries the task; if it keeps happening, open an AWS "
         "support case with the task ARN",
         reason=r"InternalError|CannotInspectContainerError|ContainerRuntimeTimeoutError|DockerTimeoutError"
                r"|CannotStopContainerError|CannotCreateContainerError|ContainerRuntimeError|CannotStartContainerError"
                r"|failed to get container status"),
    Rule("stop-timeout-kill", "user_or_deploy_stopped", P, _KILLED_SUMMARY, _KILLED_HINT,
         stop_code=r"UserInitiated", exit_codes=frozenset({137}), severity=Severity.warning),
    Rule("scheduler-stop-timeout-kill", "user_or_deploy_stopped", P, _KILLED_SUMMARY, _KILLED_HINT,
         stop_code=r"ServiceSchedulerInitiated", reason=_SCHEDULED_STOP,
         exit_codes=frozenset({137}), severity=Severity.warning),
    Rule("user-stop", "user_or_deploy_stopped", P,
         "stopped on purpose by a user or a tool (StopTask)",
         "nothing to fix: someone or something called StopTask",
         stop_code=r"UserInitiated", severity=Severity.info),
    Rule("scheduler-stop", "user_or_deploy_stopped", P,
         "stopped on purpose by a deployment or a scale-in",
         "nothing to fix: the service scheduler replaced or removed the task",
         stop_code=r"ServiceSchedulerInitiated", reason=_SCHEDULED_STOP, severity=Severity.info),

    # ---- the container's log: earliest root error wins ----------------------------------------
    Rule("nats-auth", "nats_auth", L,
         "NATS rejected the service's credentials (authorization violation)",
         "the NATS user/password or creds of {service} do not match the server's authorization: check the "
         "secret in spec.nats.credentials (format {nats_credentials_format}) and the server's users; rotate both together",
         log=r"Authorization Violation|authorization_violation|authentication_failed|User Authentication Expired"
             r"|Authentication Timeout|InvalidUserCredentialsError|invalid user credentials|Permissions Violation"),
    Rule("nats-tls-hostname", "nats_tls", L,
         "the NATS server certificate does not name the host the service connects to",
         "set spec.nats.tls.serverName to a name in the server certificate (or connect by that name in "
         "spec.nats.urls)",
         log=r"tls_hostname_mismatch|Hostname mismatch|IP address mismatch|certificate is not valid for"),
    Rule("nats-tls-required", "nats_tls", L,
         "TLS is on for one side of the NATS connection and off for the other",
         "make spec.nats.tls.enabled (and tls:// URLs) match the server's tls block",
         log=r"tls_mismatch|secure connection required|SecureConnRequiredError|SecureConnWantedError|secure connection not available"),
    Rule("nats-tls-verify", "nats_tls", L,
         "the service does not trust the NATS server certificate",
         "give the tasks the CA that signed the NATS certificate: spec.nats.tls.caFrom (a secret) or "
         "spec.nats.tls.caFile (a path in the image)",
         log=r"tls_verification_failed|CERTIFICATE_VERIFY_FAILED|certificate verify failed|SSLCertVerificationError"),
    Rule("nats-tls-other", "nats_tls", L,
         "the TLS handshake with NATS failed",
         "compare the client TLS settings (spec.nats.tls, client certificate) with the server's tls block; "
         "a server that verifies clients needs NATS_TLS_CERT_FILE/NATS_TLS_KEY_FILE",
         log=r'"cause":"tls_error"|SSLError|WRONG_VERSION_NUMBER|TLSV1_ALERT|tls: bad certificate|certificate required'),
    Rule("nats-dns", "nats_dns", L,
         "the NATS host name does not resolve from the task",
         "fix the host in spec.nats.urls ({url}), or the Route 53 private zone for it and the VPC's "
         "enableDnsSupport/enableDnsHostnames",
         log=r"dns_failure|gaierror|Name or service not known|Temporary failure in name resolution"
             r"|No address associated with hostname|nodename nor servname|getaddrinfo failed"),
    Rule("nats-refused", "nats_unreachable", L,
         "nothing accepts NATS connections at the address the service uses",
         "check the host and port in spec.nats.urls ({url}; NATS clients use 4222) and that NATS runs; inside "
         "a task, localhost/127.0.0.1 is the task itself",
         log=r"connection_refused|ConnectionRefusedError|Connect call failed|host_unreachable|No route to host"
             r"|Network is unreachable"),
    Rule("nats-timeout", "nats_unreachable", L,
         "connections to NATS time out: packets are dropped on the way",
         "open the NATS port ({url}): task security group egress, the NATS security group's ingress from the "
         "tasks' group, network ACLs, routes, and the NLB listener/target group",
         log=r'"event":"nats_connect_failed".*"cause":"timeout"|nats: timeout|Connect call timed out|"cause":"timeout"'),
    Rule("config-missing", "config_missing", L,
         "a required setting is missing or invalid",
         "set {variable} for {service}: `environment` in the manifest, or `secrets` for a secret value",
         log=r'"event":"config_invalid"|KeyError: \'(?P<variable>[A-Z][A-Z0-9_]{2,})\'|is required but not set'
             r"|environment variable \w+ (?:is )?(?:not set|missing|required)"),
    Rule("protobuf-skew", "dependency_version_mismatch", L,
         "the protobuf runtime is older than the generated code needs",
         "regenerate the _pb2 modules with the protoc/grpcio-tools matching the image's protobuf, or pin "
         "protobuf>={gencode} in the service requirements (runtime is {runtime})",
         log=r"Detected (?:incompatible|mismatched) Protobuf Gencode/Runtime[^:]*: gencode (?P<gencode>\S+) runtime (?P<runtime>\d[\w.]*\d)"
             r"|Detected (?:incompatible|mismatched) Protobuf Gencode/Runtime|Descriptors cannot be created directly"),
    Rule("pydantic-skew", "dependency_version_mismatch", L,
         "the code was written for pydantic v1 and runs on pydantic v2 (or the reverse)",
         "pin pydantic<2 for this code, or port it: `pip install pydantic-settings` and import BaseSettings "
         "from pydantic_settings (validator -> field_validator)",
         log=r"PydanticImportError|has been moved to the `pydantic-settings` package|PydanticUserError"
             r"|pydantic\.errors\.\w+: `\w+` has been removed"),
    Rule("natspy-skew", "dependency_version_mismatch", L,
         "the code uses a nats-py API that the installed nats-py does not have",
         "pin nats-py to the version the code was written for, or update the call (nats-py 2.x removed "
         "`loop=`; micro services need nats-py >= 2.7 for nats.micro)",
         log=r"unexpected keyword argument 'loop'|module 'nats(?:\.\w+)*' has no attribute|cannot import name '\w+' from 'nats"
             r"|No module named 'nats\.micro'"),
    Rule("import-name", "dependency_version_mismatch", L,
         "a library in the image is a different version than the code expects",
         "pin the library the import names to the version the code was written for in the service requirements",
         log=r"ImportError: cannot import name '(?P<name>\w+)' from '(?P<module>[\w.]+)'"),
    Rule("module-main", "python_import_error", L,
         "python cannot find the module the container runs",
         "fix `command` of {service} or the image's WORKDIR/PYTHONPATH: `python -m {module}` must be importable "
         "from the working directory",
         log=r"python[\d.]*: (?:No module named (?P<module>[\w.]+)|Error while finding module specification for "
             r"'(?P<module_>[\w.]+)')"),
    Rule("module-missing", "python_import_error", L,
         "a module the service imports is not in the image",
         "add the package providing {module} to the image's requirements, or fix PYTHONPATH/WORKDIR if it is "
         "the service's own code",
         log=r"ModuleNotFoundError: No module named '(?P<module>[\w.]+)'|ImportError: No module named"),
    Rule("log-exec-format", "exec_format_arch", L,
         "a binary in the image was built for another CPU architecture",
         "build the image for the task's platform (docker buildx --platform linux/amd64) or set "
         "runtimePlatform.cpuArchitecture to match",
         log=r"exec format error|Exec format error"),
    Rule("log-entrypoint", "entrypoint_missing", L,
         "the program the container starts does not exist",
         "fix entryPoint/command of {service} or the path in the image ({exe})",
         log=r"exec (?P<exe>\S+): no such file or directory|can't open file '(?P<file>[^']+)'|: (?P<cmd>\S+): not found$"),
    Rule("log-permission", "permission_denied", L,
         "the process was denied access to a file or port",
         "fix ownership/mode in the Dockerfile (chown/chmod) or the container USER; a read-only root "
         "filesystem needs a writable volume, and ports below 1024 need root",
         log=r"PermissionError|Permission denied|EACCES|Operation not permitted"),
    Rule("log-memory", "oom_killed", L,
         "the process ran out of memory",
         "raise `memory` for {service} in the manifest (now {memory}) or find what grows",
         log=r"\bMemoryError\b|Cannot allocate memory|Killed process \d+"),
    Rule("nats-no-servers", "nats_unreachable", L,
         "the service could not connect to NATS",
         "check spec.nats.urls and that the tasks can reach NATS on its port; the earlier log lines name the cause",
         log=r"NoServersError|no servers available for connection|could not connect to NATS", generic=True),
    Rule("exception", "app_crash_unknown", L,
         "the application raised an exception at start",
         "fix the error in {service}'s code or configuration; run `fleetctl logs {service} --previous` for the traceback",
         log=r"^(?:[\w.]+\.)?[A-Z]\w*(?:Error|Exception)\b: |\"exc\":\"Traceback", generic=True),

    # ---- symptoms, when nothing above explains them -------------------------------------------
    Rule("health-check", "health_check_failed", F,
         "the container ran but failed its health checks, and its log shows no error",
         "check the healthCheck command of {service} works in the image (is the tool installed? right "
         "port/path?), raise startPeriod/retries or healthCheckGracePeriodSeconds; for ELB checks allow "
         "the load balancer's security group to reach the container port",
         reason=r"failed (?:container|ELB) health checks|[Hh]ealth ?[Cc]heck"),
    Rule("sigkill", "app_crash_unknown", F,
         "the container was killed by SIGKILL (exit 137) without an out-of-memory reason",
         "something killed the process: a stop that outlived stopTimeout, a child process OOM or an external "
         "kill; read `fleetctl logs {service} --previous` and the memory metrics",
         exit_codes=frozenset({137})),
    Rule("exit-zero", "app_crash_unknown", F,
         "the main process exited 0: a service must keep running",
         "the command of {service} must block while serving (sdk run_service); check the entrypoint does "
         "not start the server in the background and return",
         exit_codes=frozenset({0}), stop_code=r"EssentialContainerExited"),
    Rule("failed-to-start", "platform_internal", F,
         "the task failed to start for a reason ECS gave no category for",
         "read the stopped reason; if it names no configuration of yours, ECS retries and an AWS support "
         "case is the next step",
         stop_code=r"TaskFailedToStart"),
    Rule("exit-nonzero", "app_crash_unknown", F,
         "the container exited with code {exit_code} and the log names no known cause",
         "read `fleetctl logs {service} --previous`; if the log is empty the process died before it printed "
         "anything (check entryPoint/command and PYTHONUNBUFFERED=1)"),
)
