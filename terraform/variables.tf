variable "project" {
  description = "Short project name, used as a prefix for resource names."
  type        = string
  default     = "gaming-system"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.project))
    error_message = "project must be 3-32 characters of lowercase letters, digits and dashes."
  }
}

variable "environment" {
  description = "Deployment environment name (prod, staging, ...). Used in tags."
  type        = string
  default     = "prod"

  validation {
    condition     = contains(["prod", "staging", "dev"], var.environment)
    error_message = "environment must be one of prod, staging, dev."
  }
}

variable "region" {
  description = "AWS region the fleet runs in. Must match spec.target.region of the fleet manifest."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like an AWS region name, e.g. us-east-1."
  }
}

variable "tags" {
  description = "Extra tags applied to every resource through the provider's default_tags."
  type        = map(string)
  default     = {}
}

# --- network -----------------------------------------------------------------------

variable "vpc_cidr" {
  description = "CIDR block of the fleet VPC. Split into 3 public (/24) and 3 private (/20) subnets."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) <= 18
    error_message = "vpc_cidr must be a valid IPv4 CIDR block of /18 or larger."
  }
}

variable "availability_zone_ids" {
  description = "Zone IDs (account-independent, e.g. use1-az1) of the 3 AZs that hold subnets, NATS nodes and Redis. Pinned so the layout never shifts when AWS adds a zone."
  type        = list(string)
  default     = ["use1-az1", "use1-az2", "use1-az4"]

  validation {
    condition     = length(var.availability_zone_ids) == 3 && length(distinct(var.availability_zone_ids)) == 3
    error_message = "The fleet layout (5 NATS nodes, Multi-AZ Redis) is designed for exactly 3 distinct availability zones."
  }

  validation {
    condition     = alltrue([for z in var.availability_zone_ids : can(regex("^[a-z]+[0-9]-az[0-9]+$", z))])
    error_message = "availability_zone_ids must be zone IDs such as use1-az1 (not zone names)."
  }
}

variable "single_nat_gateway" {
  description = "Use one NAT gateway for all private subnets (cheaper, but an AZ outage cuts egress) instead of one per AZ."
  type        = bool
  default     = false
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a CloudWatch Logs retention value of at least 365 days."
  }
}

variable "gateway_port" {
  description = "Container port of the HTTP gateway service (services[gateway].ports in the manifest)."
  type        = number
  default     = 8080

  validation {
    condition     = var.gateway_port > 1024 && var.gateway_port < 65536
    error_message = "gateway_port must be an unprivileged TCP port."
  }
}

variable "gateway_ingress_cidrs" {
  description = "CIDR blocks allowed to reach the gateway's container port. Defaults to the VPC CIDR (an internal load balancer in front of it)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.gateway_ingress_cidrs : can(cidrnetmask(c)) && c != "0.0.0.0/0"])
    error_message = "gateway_ingress_cidrs must be valid IPv4 CIDR blocks and must not be 0.0.0.0/0."
  }
}

# --- NATS ----------------------------------------------------------------------------

variable "nats_monitor_admin_cidrs" {
  description = "CIDR blocks of admin networks (VPN, bastion) allowed to reach the NATS monitoring port. Empty: only the NATS nodes and the NLB health checks."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.nats_monitor_admin_cidrs : can(cidrnetmask(c)) && c != "0.0.0.0/0"])
    error_message = "nats_monitor_admin_cidrs must be valid IPv4 CIDR blocks and must not be 0.0.0.0/0."
  }
}

variable "nats_node_count" {
  description = "Number of NATS servers in the JetStream cluster. Odd, so the RAFT meta group keeps a majority."
  type        = number
  default     = 5

  validation {
    condition     = var.nats_node_count >= 3 && var.nats_node_count <= 9 && var.nats_node_count % 2 == 1
    error_message = "nats_node_count must be an odd number between 3 and 9."
  }
}

variable "nats_instance_type" {
  description = "EC2 instance type of the NATS servers (Graviton; the AMI is arm64)."
  type        = string
  default     = "m7g.large"

  validation {
    condition     = can(regex("^[a-z][0-9]+g[a-z]*\\.[a-z0-9]+$", var.nats_instance_type))
    error_message = "nats_instance_type must be a Graviton (arm64) instance type such as m7g.large."
  }
}

variable "nats_server_version" {
  description = "nats-server release installed on the nodes (GitHub release tag without the leading v)."
  type        = string
  default     = "2.12.8"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.nats_server_version))
    error_message = "nats_server_version must be a plain semantic version such as 2.12.8."
  }
}

variable "nats_server_sha256" {
  description = "SHA-256 of nats-server-v<version>-linux-arm64.tar.gz from the release's SHA256SUMS file. The node refuses to start a binary that does not match."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.nats_server_sha256))
    error_message = "nats_server_sha256 must be 64 lowercase hex characters."
  }
}

variable "nats_jetstream_volume_size_gb" {
  description = "Size of each node's dedicated JetStream EBS volume (gp3), in GiB."
  type        = number
  default     = 100

  validation {
    condition     = var.nats_jetstream_volume_size_gb >= 20 && var.nats_jetstream_volume_size_gb <= 4096
    error_message = "nats_jetstream_volume_size_gb must be between 20 and 4096."
  }
}

variable "nats_jetstream_max_memory" {
  description = "JetStream max_memory_store per server, in NATS size notation (e.g. 2G)."
  type        = string
  default     = "2G"

  validation {
    condition     = can(regex("^[0-9]+[KMGT]$", var.nats_jetstream_max_memory))
    error_message = "nats_jetstream_max_memory must be a number followed by K, M, G or T."
  }
}

variable "nats_jetstream_max_file" {
  description = "JetStream max_file_store per server, in NATS size notation. Keep it below the volume size."
  type        = string
  default     = "80G"

  validation {
    condition     = can(regex("^[0-9]+[KMGT]$", var.nats_jetstream_max_file))
    error_message = "nats_jetstream_max_file must be a number followed by K, M, G or T."
  }
}

variable "nats_tls_validity_hours" {
  description = "Validity of the NATS server certificate issued by the fleet CA. Terraform re-issues it 30 days before expiry; nodes pick it up on replacement."
  type        = number
  default     = 8760

  validation {
    condition     = var.nats_tls_validity_hours >= 1440 && var.nats_tls_validity_hours <= 17520
    error_message = "nats_tls_validity_hours must be between 60 days and 2 years."
  }
}

variable "nats_credentials_version" {
  description = "Bump to generate and store a new set of NATS passwords, the services' and fleetctl's (rolling restart of NATS and the fleet required)."
  type        = number
  default     = 1

  validation {
    condition     = var.nats_credentials_version >= 1 && floor(var.nats_credentials_version) == var.nats_credentials_version
    error_message = "nats_credentials_version must be a positive integer."
  }
}

variable "load_balancer_deletion_protection" {
  description = "Protect the NATS NLB from deletion."
  type        = bool
  default     = true
}

# --- Redis ---------------------------------------------------------------------------

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.r7g.large"

  validation {
    condition     = startswith(var.redis_node_type, "cache.")
    error_message = "redis_node_type must be an ElastiCache node type (cache.*)."
  }
}

variable "redis_engine_version" {
  description = "Redis OSS engine version."
  type        = string
  default     = "7.1"

  validation {
    condition     = can(regex("^7\\.[0-9]+$", var.redis_engine_version))
    error_message = "redis_engine_version must be a 7.x major.minor version (TLS + AUTH rotation)."
  }
}

variable "redis_shards" {
  description = "Number of node groups (shards) of the cluster-mode replication group."
  type        = number
  default     = 2

  validation {
    condition     = var.redis_shards >= 1 && var.redis_shards <= 90
    error_message = "redis_shards must be between 1 and 90."
  }
}

variable "redis_replicas_per_shard" {
  description = "Replicas per shard. At least 1 for Multi-AZ automatic failover."
  type        = number
  default     = 2

  validation {
    condition     = var.redis_replicas_per_shard >= 1 && var.redis_replicas_per_shard <= 5
    error_message = "redis_replicas_per_shard must be between 1 and 5."
  }
}

variable "redis_snapshot_retention_days" {
  description = "Days of automatic Redis snapshots to keep."
  type        = number
  default     = 7

  validation {
    condition     = var.redis_snapshot_retention_days >= 1 && var.redis_snapshot_retention_days <= 35
    error_message = "redis_snapshot_retention_days must be between 1 and 35."
  }
}

# --- ECS / logs ------------------------------------------------------------------------

variable "log_retention_days" {
  description = "Retention of the fleet's CloudWatch log group, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value of at least 365 days."
  }
}

variable "ecr_untagged_image_expiry_days" {
  description = "Untagged images older than this are expired from the ECR repositories. Tagged images are never expired, so digests pinned in manifests stay pullable."
  type        = number
  default     = 30

  validation {
    condition     = var.ecr_untagged_image_expiry_days >= 7
    error_message = "ecr_untagged_image_expiry_days must be at least 7."
  }
}

# --- controller --------------------------------------------------------------------------

variable "controller_trusted_principal_arns" {
  description = "IAM principals (CI role, operators' SSO roles) allowed to assume the fleetctl controller role (its operator task, ecs-tasks.amazonaws.com, always may)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.controller_trusted_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "controller_trusted_principal_arns must be IAM role or user ARNs."
  }
}

variable "tasks_https_egress_cidrs" {
  description = "Destinations the ECS tasks may reach on 443 through the NAT gateways (e.g. third-party AI provider APIs). AWS APIs are reached through VPC endpoints and need no entry here."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.tasks_https_egress_cidrs : can(cidrnetmask(c))])
    error_message = "tasks_https_egress_cidrs must be valid IPv4 CIDR blocks."
  }
}

variable "auth_signing_key_version" {
  description = "Bump to generate and store a new auth token signing key."
  type        = number
  default     = 1

  validation {
    condition     = var.auth_signing_key_version >= 1 && floor(var.auth_signing_key_version) == var.auth_signing_key_version
    error_message = "auth_signing_key_version must be a positive integer."
  }
}

variable "payment_ledger_key_version" {
  description = "Bump to generate and store a new payment ledger key."
  type        = number
  default     = 1

  validation {
    condition     = var.payment_ledger_key_version >= 1 && floor(var.payment_ledger_key_version) == var.payment_ledger_key_version
    error_message = "payment_ledger_key_version must be a positive integer."
  }
}

variable "redis_auth_token_version" {
  description = "Bump to generate a new Redis AUTH token (applied with the ROTATE strategy)."
  type        = number
  default     = 1

  validation {
    condition     = var.redis_auth_token_version >= 1 && floor(var.redis_auth_token_version) == var.redis_auth_token_version
    error_message = "redis_auth_token_version must be a positive integer."
  }
}
