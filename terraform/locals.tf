data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_availability_zones" "selected" {
  state = "available"

  filter {
    name   = "zone-id"
    values = var.availability_zone_ids
  }
}

locals {
  name       = var.project
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Zone names in the order of var.availability_zone_ids.
  azs = [
    for id in var.availability_zone_ids :
    data.aws_availability_zones.selected.names[index(data.aws_availability_zones.selected.zone_ids, id)]
  ]

  # Every image of the fleet manifest (manifests/prod.yaml): 22 NATS services and the
  # HTTP gateway. One ECR repository gaming/<name> and one NATS user each.
  fleet_services = toset([
    "ai_integration",
    "ai_router",
    "auth",
    "body_broker",
    "capability_registry",
    "environmental_narrative",
    "event_bus",
    "gateway",
    "knowledge_base",
    "language_system",
    "model_mgmt",
    "npc_behavior",
    "orchestration",
    "payment",
    "performance_mode",
    "quest",
    "router",
    "settings",
    "state_manager",
    "story_teller",
    "time_manager",
    "weather_manager",
    "world_state",
  ])
  ecr_namespace = "gaming"

  # Ports. The client port is the one in the manifest's NATS URL (nats://<nlb>:4222).
  nats_client_port  = 4222
  nats_cluster_port = 6222
  nats_monitor_port = 8222
  redis_port        = 6379

  ecs_cluster_name = "${local.name}-cluster"
  log_group_name   = "/ecs/${local.name}-nats"

  gateway_ingress_cidrs = length(var.gateway_ingress_cidrs) > 0 ? var.gateway_ingress_cidrs : [var.vpc_cidr]
}
