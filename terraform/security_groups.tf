# Security groups and their rules. Rules are separate resources so that each one
# carries its own description and can be reviewed (and tested) on its own.
#
#   tasks  -> nats/nlb  4222   NATS clients (NLB, and the node URLs gossiped in INFO)
#   nats  <-> nats      6222   cluster routes
#   nats/nlb/admin -> nats 8222 monitoring (/healthz, /varz): the NATS nodes, NLB health
#                               checks and var.nats_monitor_admin_cidrs only, not the VPC
#   tasks  -> redis     6379
#   vpc    -> endpoints  443

resource "aws_security_group" "tasks" {
  #checkov:skip=CKV2_AWS_5:Attached to the ECS services that fleetctl creates from the manifest (spec.defaults.network.securityGroups), which live outside Terraform.
  name        = "${local.name}-tasks"
  description = "ECS tasks of the fleet (22 NATS services and the gateway)"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-tasks" }
}

resource "aws_security_group" "nats" {
  name        = "${local.name}-nats"
  description = "NATS servers: clients on ${local.nats_client_port}, routes on ${local.nats_cluster_port}, monitoring on ${local.nats_monitor_port}"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-nats" }
}

resource "aws_security_group" "nats_nlb" {
  name        = "${local.name}-nats-nlb"
  description = "Internal NLB in front of the NATS client port"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-nats-nlb" }
}

resource "aws_security_group" "redis" {
  name        = "${local.name}-redis"
  description = "ElastiCache Redis replication group"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-redis" }
}

resource "aws_security_group" "endpoints" {
  name        = "${local.name}-vpc-endpoints"
  description = "Interface VPC endpoints (ECR, Logs, Secrets Manager, SSM)"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-vpc-endpoints" }
}

# --- tasks -----------------------------------------------------------------------------

resource "aws_vpc_security_group_egress_rule" "tasks_to_nats" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "NATS client connections to the servers (cluster connect_urls)"
  ip_protocol                  = "tcp"
  from_port                    = local.nats_client_port
  to_port                      = local.nats_client_port
  referenced_security_group_id = aws_security_group.nats.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_nats_nlb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "NATS client connections through the internal NLB"
  ip_protocol                  = "tcp"
  from_port                    = local.nats_client_port
  to_port                      = local.nats_client_port
  referenced_security_group_id = aws_security_group.nats_nlb.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_redis" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Redis (TLS)"
  ip_protocol                  = "tcp"
  from_port                    = local.redis_port
  to_port                      = local.redis_port
  referenced_security_group_id = aws_security_group.redis.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_endpoints" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "AWS APIs through interface endpoints (ECR, Logs, Secrets Manager)"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_s3" {
  security_group_id = aws_security_group.tasks.id
  description       = "ECR image layers from S3 through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_vpc_endpoint.s3.prefix_list_id
}

resource "aws_vpc_security_group_egress_rule" "tasks_https_extra" {
  for_each = toset(var.tasks_https_egress_cidrs)

  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to an allowed external API"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.key
}

resource "aws_vpc_security_group_ingress_rule" "tasks_gateway" {
  for_each = toset(local.gateway_ingress_cidrs)

  security_group_id = aws_security_group.tasks.id
  description       = "HTTP gateway container port"
  ip_protocol       = "tcp"
  from_port         = var.gateway_port
  to_port           = var.gateway_port
  cidr_ipv4         = each.key
}

# --- NATS servers ------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "nats_client_from_tasks" {
  security_group_id            = aws_security_group.nats.id
  description                  = "NATS clients (ECS tasks) connecting directly to a server"
  ip_protocol                  = "tcp"
  from_port                    = local.nats_client_port
  to_port                      = local.nats_client_port
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_vpc_security_group_ingress_rule" "nats_client_from_nlb" {
  security_group_id            = aws_security_group.nats.id
  description                  = "NATS clients forwarded by the internal NLB"
  ip_protocol                  = "tcp"
  from_port                    = local.nats_client_port
  to_port                      = local.nats_client_port
  referenced_security_group_id = aws_security_group.nats_nlb.id
}

resource "aws_vpc_security_group_ingress_rule" "nats_cluster" {
  security_group_id            = aws_security_group.nats.id
  description                  = "NATS cluster routes between servers"
  ip_protocol                  = "tcp"
  from_port                    = local.nats_cluster_port
  to_port                      = local.nats_cluster_port
  referenced_security_group_id = aws_security_group.nats.id
}

# Monitoring (/varz, /connz, /subsz) shows every connection and subscription: the NATS nodes
# themselves, the NLB's health checks and the operators' admin networks only.
resource "aws_vpc_security_group_ingress_rule" "nats_monitor_nodes" {
  security_group_id            = aws_security_group.nats.id
  description                  = "NATS monitoring endpoint from the NATS nodes"
  ip_protocol                  = "tcp"
  from_port                    = local.nats_monitor_port
  to_port                      = local.nats_monitor_port
  referenced_security_group_id = aws_security_group.nats.id
}

resource "aws_vpc_security_group_ingress_rule" "nats_monitor_nlb" {
  security_group_id            = aws_security_group.nats.id
  description                  = "NATS monitoring endpoint: NLB health checks (/healthz)"
  ip_protocol                  = "tcp"
  from_port                    = local.nats_monitor_port
  to_port                      = local.nats_monitor_port
  referenced_security_group_id = aws_security_group.nats_nlb.id
}

resource "aws_vpc_security_group_ingress_rule" "nats_monitor_admin" {
  for_each          = toset(var.nats_monitor_admin_cidrs)
  security_group_id = aws_security_group.nats.id
  description       = "NATS monitoring endpoint from an admin network"
  ip_protocol       = "tcp"
  from_port         = local.nats_monitor_port
  to_port           = local.nats_monitor_port
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "nats_cluster" {
  security_group_id            = aws_security_group.nats.id
  description                  = "NATS cluster routes between servers"
  ip_protocol                  = "tcp"
  from_port                    = local.nats_cluster_port
  to_port                      = local.nats_cluster_port
  referenced_security_group_id = aws_security_group.nats.id
}

resource "aws_vpc_security_group_egress_rule" "nats_https" {
  security_group_id = aws_security_group.nats.id
  description       = "HTTPS: nats-server release download via NAT, AWS APIs via endpoints, OS packages"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- NLB ---------------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "nats_nlb_from_tasks" {
  security_group_id            = aws_security_group.nats_nlb.id
  description                  = "NATS clients (ECS tasks)"
  ip_protocol                  = "tcp"
  from_port                    = local.nats_client_port
  to_port                      = local.nats_client_port
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_vpc_security_group_egress_rule" "nats_nlb_to_nats" {
  security_group_id            = aws_security_group.nats_nlb.id
  description                  = "Forward NATS client traffic to the servers"
  ip_protocol                  = "tcp"
  from_port                    = local.nats_client_port
  to_port                      = local.nats_client_port
  referenced_security_group_id = aws_security_group.nats.id
}

resource "aws_vpc_security_group_egress_rule" "nats_nlb_health" {
  security_group_id            = aws_security_group.nats_nlb.id
  description                  = "Health checks on the NATS monitoring endpoint"
  ip_protocol                  = "tcp"
  from_port                    = local.nats_monitor_port
  to_port                      = local.nats_monitor_port
  referenced_security_group_id = aws_security_group.nats.id
}

# --- Redis -------------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "redis_from_tasks" {
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis clients (ECS tasks)"
  ip_protocol                  = "tcp"
  from_port                    = local.redis_port
  to_port                      = local.redis_port
  referenced_security_group_id = aws_security_group.tasks.id
}

# --- VPC endpoints -----------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS to the interface endpoints from inside the VPC"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.vpc_cidr
}
