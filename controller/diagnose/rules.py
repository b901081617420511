"""Why a task stopped, as data: an ordered table of matchers and what each match means.

Rules are tried in three stages, in table order within a stage:

1. `PLATFORM`: ECS's own verdict (stop code, stopped reason, container reason, exit code).
   These are decisive: a task that never started, was OOM-killed or was interrupted on Spot
   has nothing in its log that could say otherwise. Reasons are parsed first
   (`ecsreason.parse_reason`): `phase` matches the step that failed whatever the runtime's
   wording (Fargate, EC2 with Docker or containerd, `InternalError`-wrapped pulls, reasons cut
   at 255 characters), `reason` then looks at the text.
2. `LOG`: the container's log, parsed into exceptions and lines (`tracebacks.parse_log`).
   A rule matches an exception by its type (`exc`), the module that raised it (`origin`), its
   message (`msg`), the source lines of its frames (`code`), or any record by `log`. The
   lowest `weight` wins (0 names a cause, 1 is a symptom that other clients also print, 2 is
   generic), then the *earliest* record: Python prints a chain's causes first, and a retry
   loop's first error is usually the root (nats-py ends every failed connect with a generic
   `NoServersError`).
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


def literals(pattern: str) -> tuple[tuple[str, ...], bool] | None:
    """Strings one of which must occur in any text the pattern matches (a cheap pre-check), with
    whether to compare case-insensitively; None when some alternative has no literal of 3+ characters."""
    try:
        from re import _parser as sre  # type: ignore[attr-defined]
    except ImportError:  # Python < 3.11
        import sre_parse as sre  # type: ignore[no-redef]
    try:
        tree = sre.parse(pattern, re.S)
    except re.error:
        return None
    ignore_case = bool(tree.state.flags & re.I)
    items = list(tree)
    while len(items) == 1 and items[0][0] is sre.SUBPATTERN and not items[0][1][1] and not items[0][1][2]:
        items = list(items[0][1][3])
    branches = items[0][1][1] if len(items) == 1 and items[0][0] is sre.BRANCH else [items]
    found = []
    for branch in branches:
        best, run = "", ""
        for op, av in branch:
            if op is sre.LITERAL:
                run += chr(av)
                best = max(best, run, key=len)
            else:
                run = ""
        if len(best) < 3:
            return None
        found.append(best.lower() if ignore_case else best)
    return tuple(found), ignore_case


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
    log: str | None = None         # regex, searched in each log record's text
    generic: bool = False
    severity: Severity = Severity.error
    phase: str | None = None       # regex, full match on the parsed reason's phase
    exc: str | None = None         # regex, full match on an exception's type (last name or dotted)
    origin: str | None = None      # regex, matched at the start of the module that raised it
    msg: str | None = None         # regex, searched in the exception's message
    code: str | None = None        # regex, searched in the source lines of the exception's frames
    weight: int = 0                # LOG rules: 0 names a cause, 1 a symptom, 2 generic
    when: str | None = None        # a named condition on the exception (see classify._WHEN)

    def __post_init__(self) -> None:
        assert self.category in CATEGORIES, self.category
        if self.generic and self.weight == 0:
            object.__setattr__(self, "weight", 2)
        compiled = {}
        for name in ("stop_code", "reason", "log", "phase", "exc", "origin", "msg", "code"):
            pattern = getattr(self, name)
            if pattern is not None:
                compiled[name] = re.compile(pattern, re.S)
        object.__setattr__(self, "_compiled", compiled)
        for name in ("stop_code", "reason", "log", "phase", "exc", "origin", "msg", "code"):
            object.__setattr__(self, f"rx_{name}", compiled.get(name))
        object.__setattr__(self, "structured",
                           any(getattr(self, n) is not None for n in ("exc", "origin", "msg", "code")))
        object.__setattr__(self, "prefilter", literals(self.log) if self.log is not None else None)
        simple = re.compile(r"\w+(?:\|\w+)*")
        object.__setattr__(self, "phases", frozenset(self.phase.split("|"))
                           if self.phase is not None and simple.fullmatch(self.phase) else None)
        object.__setattr__(self, "stop_codes", frozenset(self.stop_code.split("|"))
                           if self.stop_code is not None and simple.fullmatch(self.stop_code) else None)

    def rx(self, name: str) -> re.Pattern[str] | None:
        return self._compiled.get(name)  # type: ignore[attr-defined, no-any-return]


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
         phase=r"oom"),
    Rule("secret-not-found", "secrets_or_registry_auth", P,
         "a secret the task definition references does not exist",
         "create the secret {secret} or fix its valueFrom ARN in the manifest (`secrets` of {service}, or "
         "spec.nats.credentials); ECS resolves every secret and parameter before the container starts",
         phase=r"secrets",
         reason=r"failed to fetch secret (?P<secret>\S+) from secrets manager: ResourceNotFoundException"
                r"|invalid ssm parameters?: (?P<parameter>\S+)|ResourceNotFoundException|ParameterNotFound"
                r"|can't find the specified secret"),
    Rule("secret-access-denied", "secrets_or_registry_auth", P,
         "the task execution role may not read a secret or the registry",
         "grant the task execution role {action} on the resource (secretsmanager:GetSecretValue, "
         "ssm:GetParameters, kms:Decrypt for a customer key, ecr:GetAuthorizationToken)",
         phase=r"secrets",
         reason=r"not authorized to perform: (?P<action>[\w:-]+)|AccessDenied\w*|Access to KMS is not allowed"),
    Rule("secret-network", "secrets_or_registry_auth", P,
         "the task could not reach Secrets Manager, SSM or ECR to fetch its secrets",
         _ROUTE_TO_AWS.replace("{endpoints}", "secretsmanager, ssm, ecr.api, ecr.dkr and the S3 gateway"),
         phase=r"secrets",
         reason=r"i/o timeout|dial tcp|context deadline exceeded|RequestError|RequestCanceled|send request failed"
                r"|signal: killed|network configuration"),
    Rule("secret-other", "secrets_or_registry_auth", P,
         "ECS could not fetch the task's secrets or registry credentials",
         "check every valueFrom ARN of {service} (secret or parameter) exists in this region and account and that "
         "the task execution role may read it (secretsmanager:GetSecretValue / ssm:GetParameters / kms:Decrypt)",
         phase=r"secrets"),
    Rule("pull-platform", "exec_format_arch", P,
         "the image has no build for the task's CPU architecture",
         "build and push a multi-arch image (docker buildx --platform linux/amd64,linux/arm64) or set "
         "runtimePlatform.cpuArchitecture to the architecture the image was built for",
         phase=r"pull", reason=r"descriptor matching platform|no matching manifest for"),
    Rule("pull-auth", "secrets_or_registry_auth", P,
         "the registry refused the image pull: the execution role or registry credentials are not allowed",
         "grant the task execution role ecr:GetAuthorizationToken, ecr:BatchGetImage and "
         "ecr:GetDownloadUrlForLayer (and check the repository policy); for a private registry set "
         "repositoryCredentials (a Secrets Manager secret with the registry login)",
         phase=r"pull",
         reason=r"no basic auth credentials|not authorized to perform|AccessDenied|403 Forbidden|401 Unauthorized"
                r"|authorization failed|failed to authorize|anonymous token|pull access denied.*(?:authentication|login)"),
    Rule("pull-rate-limit", "image_pull", P,
         "the registry throttled the image pull (Docker Hub's anonymous pull rate limit)",
         "copy the image to ECR (or an ECR pull-through cache) and point `image` of {service} at it, or "
         "authenticate the pulls with repositoryCredentials",
         phase=r"pull", reason=r"toomanyrequests|429 Too Many Requests|pull rate limit"),
    Rule("pull-network", "image_pull", P,
         "the task could not reach the registry to pull its image",
         _ROUTE_TO_AWS.replace("{endpoints}", "ecr.api, ecr.dkr and the S3 gateway"),
         phase=r"pull",
         reason=r"i/o timeout|dial tcp|context deadline exceeded|TLS handshake timeout|no such host|connection refused"
                r"|request canceled|Client\.Timeout|network is unreachable|connection reset"),
    Rule("pull-disk", "image_pull", P,
         "the image does not fit on the task's storage",
         "make the image smaller or raise ephemeralStorage in the task definition (Fargate); on EC2 free the "
         "container instance's Docker volume (ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION, a bigger root volume)",
         phase=r"pull", reason=r"no space left on device"),
    Rule("pull-not-found", "image_pull", P,
         "the image does not exist in the registry",
         "push {image} or fix `image` of {service} in the manifest (repository, tag or digest typo, wrong "
         "account or region)",
         phase=r"pull",
         reason=r"failed to resolve ref (?P<image>[^\s\"]+?):\s|pull access denied for (?P<image_>[^,\s]+)"
                r"|not found|manifest unknown|does not exist|name unknown"),
    Rule("pull-other", "image_pull", P,
         "ECS could not pull the image",
         "check `image` of {service} in the manifest (repository and tag exist) and that the registry is reachable "
         "from the task subnets (NAT gateway or VPC endpoints)",
         phase=r"pull"),
    Rule("log-group-missing", "log_driver_config", P,
         "the awslogs log group does not exist",
         "create the log group {log_group} (terraform) or set logs.createGroup: true in the manifest "
         "(awslogs-create-group; the execution role then needs logs:CreateLogGroup)",
         phase=r"logging", reason=r"log group does not exist|ResourceNotFoundException|cannot find the .*log group(?!.*connection)"),
    Rule("log-access-denied", "log_driver_config", P,
         "the execution role may not write the awslogs stream",
         "grant the task execution role {action} (logs:CreateLogStream and logs:PutLogEvents on {log_group}; "
         "logs:CreateLogGroup too when awslogs-create-group is set)",
         phase=r"logging", reason=r"not authorized to perform: (?P<action>[\w:-]+)|AccessDenied"),
    Rule("log-network", "log_driver_config", P,
         "the task could not reach CloudWatch Logs to set up its log stream",
         _ROUTE_TO_AWS.replace("{endpoints}", "logs"),
         phase=r"logging", reason=r"connection issue|network configuration|i/o timeout|dial tcp|signal: killed"
                                 r"|RequestError|context deadline exceeded"),
    Rule("log-other", "log_driver_config", P,
         "the log driver options are not valid",
         "check logConfiguration of {service}: awslogs-group, awslogs-region (must be a region name like the "
         "task's), awslogs-stream-prefix; for firelens a log router container in the task definition",
         phase=r"logging"),
    Rule("env-files", "config_missing", P,
         "ECS could not download the task's environment files",
         "check the S3 object of environmentFiles exists (bucket/key, .env extension) and the execution role has "
         "s3:GetObject (and s3:GetBucketLocation) on it",
         phase=r"env_files"),
    Rule("eni", "network_interface", P,
         "the task's network interface could not be created or attached",
         "free IP addresses in the service subnets (bigger subnets or more of them), stay under the ENI "
         "limits (enable ENI trunking on EC2 container instances), and make sure subnets and security groups are "
         "in one VPC",
         phase=r"network"),
    Rule("placement", "capacity_or_placement", P,
         "ECS found no capacity to place the task",
         "{placement_fix}",
         phase=r"placement"),
    Rule("spot", "spot_or_scale_in", P,
         "the task's capacity was reclaimed (Spot interruption, scale-in or host retirement)",
         "expected on Spot and scale-in: keep desiredCount >= 2 across AZs, handle SIGTERM within "
         "stopTimeout, and mix FARGATE with FARGATE_SPOT capacity",
         stop_code=r"SpotInterruption|TerminationNotice|InfrastructureHealth", severity=Severity.warning),
    Rule("spot-reason", "spot_or_scale_in", P,
         "the task's capacity was reclaimed (Spot interruption, scale-in or host retirement)",
         "expected on Spot and scale-in: keep desiredCount >= 2 across AZs, handle SIGTERM within "
         "stopTimeout, and mix FARGATE with FARGATE_SPOT capacity",
         phase=r"spot", severity=Severity.warning),
    Rule("entrypoint", "entrypoint_missing", P,
         "the container's command does not exist in the image",
         "fix entryPoint/command of {service} ({exe}) or install it in the image; a script also fails "
         "this way when its #! interpreter is missing or it has CRLF line endings",
         phase=r"start",
         reason=r'exec: "(?P<exe>[^"]*)": (?:executable file not found|(?:stat [^:]+: ?)?no such file|stat \S+?\.\.\.)'
                r'|executable file not found|no such file or dir'),
    Rule("exec-permission", "permission_denied", P,
         "the container's command is not executable",
         "make {exe} executable in the Dockerfile (RUN chmod +x {exe}) or run it through its interpreter, "
         "and check the image USER may read WORKDIR",
         phase=r"start", reason=r'exec: \\?"(?P<exe>[^"\\]*)\\?": permission denied|permission denied'),
    Rule("exec-format", "exec_format_arch", P,
         "the image was built for another CPU architecture",
         "build for the task's platform (docker buildx --platform linux/amd64) or set "
         "runtimePlatform.cpuArchitecture to the image's architecture (ARM64 for Graviton)",
         phase=r"start", reason=r"exec format error"),
    Rule("entrypoint-cut", "entrypoint_missing", P,
         "the container's command could not be started (ECS cut the reason before the cause)",
         "check entryPoint/command of {service} ({exe}) exist in the image and are executable (chmod +x), "
         "and that the image was built for the task's architecture",
         phase=r"start", reason=r'exec: \\*"(?P<exe>[^"\\]*)'),
    Rule("platform", "platform_internal", P,
         "ECS or Fargate failed internally; the application was not at fault",
         "nothing to change in the service: ECS retries the task; if it keeps happening, open an AWS "
         "support case with the task ARN (on EC2, check the container instance's Docker/agent and disk)",
         phase=r"internal|start"),
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

    # ---- the container's log: lowest weight, then earliest record ------------------------------
    Rule("nats-permissions", "nats_auth", L,
         "NATS refused a publish or subscribe: the service's NATS user lacks the permission",
         "allow the subject in the permissions of the NATS user of {service} ({subject}): the server's "
         "authorization block (publish/subscribe allow lists), or the subjects the manifest grants it",
         log=r"(?i)permissions? violation for (?:publish|subscription) to \\?[\"']?(?P<subject>[^\"'\s\\]+)"),
    Rule("nats-auth", "nats_auth", L,
         "NATS rejected the service's credentials (authorization violation)",
         "the NATS user/password or creds of {service} do not match the server's authorization: check the "
         "credentials secret in spec.nats.credentials (format {nats_credentials_format}) and the server's users; "
         "rotate both together",
         log=r"(?i)Authorization Violation|authorization_violation|authentication_failed|User Authentication Expired"
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
    Rule("config-url-from-env", "config_missing", L,
         "the address the service connects to is built from an environment variable that is not set",
         "set {variable} for {service}: `environment` in the manifest (the URL came out as {bad_url})",
         log=r"(?P<bad_url>\w+://(?:None|null|undefined|)(?::(?:\d+|None|))?(?:/\S*)?)(?=[\s'\",)]|$)"
             r"|could not be cast to integer value as '(?:None|)'"),
    Rule("config-env-value", "config_missing", L,
         "a setting read from the environment is empty or not a valid value",
         "set {variable} for {service} to a valid value: `environment` in the manifest (it was empty or unset)",
         code=r"environ|getenv",
         msg=r"invalid literal for int\(\) with base \d+: '|could not convert string to float|could not be cast"
             r"|int\(\) argument must be|NoneType|invalid (?:hostname|host|port|scheme|url|connect url)"),
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
         log=r"connection_refused|ConnectionRefusedError|Connect call failed|Connection refused|host_unreachable"
             r"|No route to host|Network is unreachable", weight=1),
    Rule("nats-timeout", "nats_unreachable", L,
         "connections to NATS time out: packets are dropped on the way",
         "open the NATS port ({url}): task security group egress, the NATS security group's ingress from the "
         "tasks' group, network ACLs, routes, and the NLB listener/target group",
         log=r'"event":"nats_connect_failed".*"cause":"timeout"|nats: timeout|Connect call timed out|"cause":"timeout"',
         weight=1, when="not-a-request"),
    Rule("nats-timeout-exc", "nats_unreachable", L,
         "connections to NATS time out: packets are dropped on the way",
         "open the NATS port ({url}): task security group egress, the NATS security group's ingress from the "
         "tasks' group, network ACLs, routes, and the NLB listener/target group",
         exc=r"(?:asyncio\.(?:exceptions\.)?)?TimeoutError|(?:nats\.errors\.)?(?:Connection)?TimeoutError|timeout",
         origin=r"nats", weight=1, when="not-a-request"),
    Rule("config-missing", "config_missing", L,
         "a required setting is missing or invalid",
         "set {variable} for {service}: `environment` in the manifest, or `secrets` for a secret value",
         log=r'"event":"config_invalid"|KeyError: \'(?P<variable>[A-Z][A-Z0-9_]{2,})\'|is required but not set'
             r"|environment variable (?P<variable_>\w+) (?:is )?(?:not set|missing|required)"
             r"|\b(?P<variable__>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+) (?:is )?(?:not set|missing|required|must be set|is empty|undefined)",
         when="not-a-dict-lookup"),
    Rule("config-file-missing", "config_missing", L,
         "a configuration file the service reads is not in the container",
         "add {file} to the image (COPY in the Dockerfile) or mount it, or point the setting that names it at "
         "the right path",
         exc=r"FileNotFoundError|IsADirectoryError",
         msg=r"No such file or directory: '(?P<file>[^']*\.(?:ya?ml|json|toml|ini|cfg|conf|env|properties|pem|crt|key))'"),
    Rule("config-file-syntax", "config_missing", L,
         "a configuration file the service reads does not parse",
         "fix the syntax of {file} ({exc_message}) in the image or the mounted config",
         exc=r"ScannerError|ParserError|ComposerError|ConstructorError|TOMLDecodeError|ParsingError"
             r"|MissingSectionHeaderError|DuplicateSectionError|JSONDecodeError",
         msg=r'in "(?P<file>[^"]+\.(?:ya?ml|json|toml|ini|cfg|conf))"|(?P<file_>[\w./-]+\.(?:toml|ini|cfg|conf))'),
    Rule("nats-not-nats", "nats_unreachable", L,
         "the NATS URL points at something that is not a NATS server",
         "fix the port in spec.nats.urls ({url}): NATS clients use 4222, not the monitoring port 8222 or an "
         "HTTP/load-balancer port; check the NLB listener forwards to the NATS client port",
         log=r"empty response from server when expecting INFO|expected INFO|not a NATS server|HTTP/1\.[01] 400"),
    Rule("config-settings", "config_missing", L,
         "the service's settings do not validate: a variable is missing or has a bad value",
         "set {variable} for {service} (field {field} of {model}{field_error}): `environment` in the manifest, "
         "or `secrets` for a secret value; a settings class with env_prefix reads the prefixed name",
         exc=r"ValidationError", origin=r"pydantic",
         msg=r"validation errors? for (?P<model>\w*(?:Settings|Config|Conf|Env|Environment|Options)\w*)\s*$"
             r"|validation errors? for (?P<model_>\w*(?:Settings|Config|Conf|Env|Environment|Options)\w*)\n"),
    Rule("config-settings-source", "config_missing", L,
         "a setting in the environment could not be parsed",
         "set {variable} for {service} to a value the field accepts (a list or dict field takes JSON, "
         "e.g. [\"a\",\"b\"]): `environment` in the manifest",
         exc=r"SettingsError", msg=r"error parsing value for field \"(?P<field>\w+)\""),
    Rule("config-aws-region", "config_missing", L,
         "the AWS SDK has no region configured",
         "set AWS_REGION (and AWS_DEFAULT_REGION) in `environment` of {service}, or pass region_name to the client",
         exc=r"NoRegionError", log=None),
    Rule("import-circular", "python_import_error", L,
         "a circular import: two modules of the service import each other at import time",
         "break the circular import around {module}: move one import into the function that uses it, or move "
         "the shared names into a third module",
         msg=r"partially initialized module '(?P<module>[\w.]+)'|most likely due to a circular import"),
    Rule("import-circular-attribute", "python_import_error", L,
         "a circular import: a module uses another that is still being imported",
         "break the circular import around {module}.{attr}: move the import into the function that uses it, or "
         "move the shared names into a third module",
         exc=r"AttributeError", msg=r"module '(?P<module>[\w.]+)' has no attribute '(?P<attr>\w+)'",
         when="importing-itself"),
    Rule("import-relative-script", "python_import_error", L,
         "a package module was run as a script, so its relative imports have no package",
         "run it as a module: `python -m package.main` in the command of {service} (WORKDIR at the package's "
         "parent), not `python package/main.py`",
         msg=r"attempted relative import with no known parent package|attempted relative import beyond top-level"),
    Rule("import-shadowed", "python_import_error", L,
         "a file in the service shadows a library module of the same name",
         "rename {shadow} (it hides the real {module} module) and delete stale .pyc files",
         msg=r"consider renaming '(?P<shadow>[^']+)' since it has the same name as the \w+(?:-\w+)? module named "
             r"'(?P<module>[\w.]+)'|cannot import name '\w+' from '(?P<module_>[\w.]+)' "
             r"\((?P<shadow_>/(?!usr/(?:local/)?lib/python)[^)]*?\.py)\)"),
    Rule("python-version", "dependency_version_mismatch", L,
         "the code needs a newer Python than the image has",
         "use a newer Python base image (FROM python:{python_needed}-slim or later) or make the code run on the "
         "image's Python; new syntax and stdlib names need Python 3.10 (X | None), Python 3.11 (tomllib, TaskGroup)",
         exc=r"TypeError|ModuleNotFoundError|ImportError|NameError|AttributeError|SyntaxError",
         msg=r"unsupported operand type\(s\) for \|: '(?:type|types\.GenericAlias|_GenericAlias)'"
             r"|No module named '(?P<stdlib>tomllib|graphlib|zoneinfo)'"
             r"|cannot import name '(?P<name>TaskGroup|timeout|Self|override|batched|UTC|Required|NotRequired"
             r"|TypeAlias|ParamSpec|LiteralString|Never|assert_never|reveal_type|TypeVarTuple|Unpack)' from "
             r"'(?:asyncio|typing|itertools|datetime)'"
             r"|name '(?:ExceptionGroup|BaseExceptionGroup|aiter|anext)' is not defined"
             r"|module 'asyncio' has no attribute '(?:TaskGroup|timeout|Runner)'"
             r"|module '(?:datetime|typing|itertools|enum|functools|os|math|sys|tomllib|contextlib|logging)' has no "
             r"attribute '(?:UTC|Self|override|batched|StrEnum|ReprEnum|verify|cache|process_cpu_count|cbrt|exp2"
             r"|chdir|getLevelNamesMapping|TypeAlias|ParamSpec|Never|LiteralString|assert_never|dataclass_transform)'"),
    Rule("python-version-syntax", "dependency_version_mismatch", L,
         "the code uses syntax the image's Python does not have",
         "use a newer Python base image (FROM python:3.12-slim or later; `match` needs Python 3.10, `except*` and "
         "`type X = ...` need Python 3.11/3.12) or rewrite the line for the image's Python",
         exc=r"SyntaxError", code=r"^(?:match\s+\S.*|case\s+\S.*|except\*.*|type\s+\w+(?:\[.*\])?\s*=.*):?$"),
    Rule("protobuf-skew", "dependency_version_mismatch", L,
         "the protobuf runtime and the generated _pb2 code are from different protobuf versions",
         "regenerate the _pb2 modules with the protoc/grpcio-tools matching the image's protobuf, or pin "
         "protobuf>={gencode} in the service requirements (runtime is {runtime})",
         log=r"Detected (?:incompatible|mismatched) Protobuf Gencode/Runtime[^:]*: gencode (?P<gencode>\S+) runtime (?P<runtime>\d[\w.]*\d)"
             r"|Detected (?:incompatible|mismatched) Protobuf Gencode/Runtime|Descriptors cannot be created directly"
             r"|cannot import name 'runtime_version' from 'google\.protobuf'"),
    Rule("grpc-skew", "dependency_version_mismatch", L,
         "the gRPC stubs were generated for a newer grpcio than the image has",
         "pin grpcio>={grpc_needed} in the service requirements (installed {grpc_installed}), or regenerate "
         "the _pb2_grpc modules with grpcio-tools<={grpc_installed}",
         log=r"grpc package installed is at version (?P<grpc_installed>[\d.]+), but the generated code in \S+ "
             r"depends on grpcio>=(?P<grpc_needed>[\d.]+)"),
    Rule("pydantic-skew", "dependency_version_mismatch", L,
         "the code was written for pydantic v1 and runs on pydantic v2",
         "pin pydantic<2 for this code, or port it: `pip install pydantic-settings` and import BaseSettings "
         "from pydantic_settings (validator -> field_validator)",
         log=r"PydanticImportError|has been moved to the `pydantic-settings` package|PydanticUserError"
             r"|pydantic\.errors\.\w+: `\w+` has been removed"),
    Rule("pydantic-v2-on-v1", "dependency_version_mismatch", L,
         "the code was written for pydantic v2 and runs on pydantic v1",
         "pin pydantic>=2 (and pydantic-settings) in the service requirements; {name} does not exist in pydantic v1",
         exc=r"ImportError", msg=r"cannot import name '(?P<name>field_validator|model_validator|ConfigDict|computed_field"
                                r"|TypeAdapter|RootModel|field_serializer|model_serializer)' from 'pydantic'"),
    Rule("natspy-skew", "dependency_version_mismatch", L,
         "the code uses a nats-py API that the installed nats-py does not have",
         "pin nats-py to the version the code was written for, or update the call (nats-py 2.x removed "
         "`loop=`; micro services need nats-py >= 2.7 for nats.micro)",
         log=r"unexpected keyword argument 'loop'|module 'nats(?:\.\w+)*' has no attribute|cannot import name '\w+' from 'nats"
             r"|No module named 'nats\.(?:micro|js|aio\.\w+)'"),
    Rule("import-name", "dependency_version_mismatch", L,
         "a library in the image is a different version than the code expects",
         "pin the library {module} to the version the code was written for in the service requirements "
         "({name} is not in the installed version)",
         log=r"ImportError: cannot import name '(?P<name>\w+)' from '(?P<module>[\w.]+)'"),
    Rule("module-main", "python_import_error", L,
         "python cannot find the module the container runs",
         "fix `command` of {service} or the image's WORKDIR/PYTHONPATH: `python -m {module}` must be importable "
         "from the working directory",
         log=r"python[\d.]*: (?:No module named (?P<module>[\w.]+)|Error while finding module specification for "
             r"'(?P<module_>[\w.]+)')"),
    Rule("module-missing", "python_import_error", L,
         "a module the service imports is not in the image",
         "add {package} (for `import {imported}`) to the image's requirements (pip install in the Dockerfile), "
         "or fix PYTHONPATH/WORKDIR if it is the service's own code",
         log=r"ModuleNotFoundError: No module named '(?P<module>[\w.]+)'|ImportError: No module named '?(?P<module_>[\w.]+)"),
    Rule("log-exec-format", "exec_format_arch", L,
         "a binary in the image was built for another CPU architecture",
         "build the image for the task's platform (docker buildx --platform linux/amd64) or set "
         "runtimePlatform.cpuArchitecture to match",
         log=r"exec format error|Exec format error"),
    Rule("log-crlf", "entrypoint_missing", L,
         "the container's script has Windows (CRLF) line endings, so its #! interpreter is not found",
         "convert the script to LF line endings (dos2unix in the Dockerfile, or `* text eol=lf` in "
         ".gitattributes): its #! line ends in CRLF",
         log=r"(?:\\r|\r)[\u2019'\"]?: No such file or directory|\\^M: bad interpreter|bad interpreter: .*\r"),
    Rule("log-entrypoint", "entrypoint_missing", L,
         "the program the container starts does not exist",
         "fix entryPoint/command of {service} or the path in the image ({exe})",
         log=r"exec (?P<exe>\S+): no such file or directory|can't open file '(?P<exe_>[^']+)'|: (?P<exe__>\S+): not found$"),
    Rule("log-permission", "permission_denied", L,
         "the process was denied access to a file or port",
         "fix ownership/mode in the Dockerfile (RUN chown -R the image USER {path}, or chmod) or the container "
         "USER; a read-only root filesystem needs a writable volume, and ports below 1024 need root",
         log=r"PermissionError(?:: \[Errno 13\] Permission denied: '(?P<path>[^']+)')?|Permission denied|EACCES"
             r"|Operation not permitted"),
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
         "fix the {exc_type} raised in {exc_module} ({exc_message}) in {service}'s code or configuration; "
         "`fleetctl logs {service} --previous` shows the whole traceback",
         log=r"^(?:[\w.]+\.)?[A-Z]\w*(?:Error|Exception)\b: |\"exc\":\"Traceback", generic=True),
    Rule("exception-any", "app_crash_unknown", L,
         "the application raised an exception at start",
         "fix the {exc_type} raised in {exc_module} ({exc_message}) in {service}'s code or configuration; "
         "`fleetctl logs {service} --previous` shows the whole traceback",
         exc=r".+", weight=3),

    # ---- symptoms, when nothing above explains them -------------------------------------------
    Rule("health-check", "health_check_failed", F,
         "the container ran but failed its health checks, and its log shows no error",
         "check the healthCheck command of {service} works in the image (is the tool installed? right "
         "port/path?), raise startPeriod/retries or healthCheckGracePeriodSeconds; for ELB checks allow "
         "the load balancer's security group to reach the container port",
         reason=r"failed (?:container|ELB) health checks|[Hh]ealth ?[Cc]heck"),
    Rule("exit-config", "config_missing", F,
         "the process exited with EX_CONFIG (78): it found its configuration missing or invalid",
         "set the variables {service} needs in `environment` of the manifest (or `secrets`); the log tail "
         "names which one (`fleetctl logs {service} --previous`)",
         exit_codes=frozenset({78})),
    Rule("exit-not-found", "entrypoint_missing", F,
         "the shell could not find the container's command (exit 127)",
         "fix entryPoint/command of {service}: the program is not on PATH in the image",
         exit_codes=frozenset({127})),
    Rule("exit-not-executable", "permission_denied", F,
         "the container's command is not executable (exit 126)",
         "make the command of {service} executable in the Dockerfile (RUN chmod +x) or run it through its interpreter",
         exit_codes=frozenset({126})),
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


def placement_fix(reason: str) -> str:
    """The concrete change for a placement failure, from what the scheduler said was short."""
    if re.search(r"RESOURCE:MEMORY|insufficient memory", reason, re.I):
        return ("lower `memory` of the service or add container instances with more memory (capacity provider / "
                "Auto Scaling group maximum)")
    if re.search(r"RESOURCE:CPU|insufficient CPU", reason, re.I):
        return "lower `cpu` of the service or add container instances (capacity provider / Auto Scaling group maximum)"
    if re.search(r"RESOURCE:PORTS", reason):
        return ("two tasks want the same hostPort on one instance: use dynamic host ports (hostPort 0) or awsvpc "
                "networking, or add instances")
    if re.search(r"ATTRIBUTE|missing an attribute", reason):
        return ("no instance has an attribute the task requires: check requiresCompatibilities, placement "
                "constraints and the instances' AMI/agent capabilities")
    if re.search(r"\bAGENT\b", reason):
        return "the ECS agent on the container instance is disconnected: restart the ecs agent or replace the instance"
    if re.search(r"No Container Instances were found", reason):
        return ("the cluster (or its capacity provider) has no container instances: raise the Auto Scaling group "
                "desired/maximum or fix the capacity provider so instances register")
    if re.search(r"limit on the number of tasks", reason):
        return "you hit the account's task quota: request a quota increase (Service Quotas) or stop unused tasks"
    if re.search(r"Capacity is unavailable", reason):
        return ("Fargate has no capacity in that AZ now: retry later, allow more subnets/AZs, or add a "
                "FARGATE_SPOT/FARGATE capacity provider mix")
    return ("add capacity (capacity provider / Auto Scaling group maximum), lower cpu/memory of the service, or "
            "allow more subnets/AZs")
