# Redis (cluster mode enabled), Multi-AZ with automatic failover, TLS in transit,
# KMS at rest, AUTH token taken from Secrets Manager.

resource "aws_elasticache_subnet_group" "redis" {
  name        = "${local.name}-redis"
  description = "Private subnets of the fleet"
  subnet_ids  = aws_subnet.private[*].id
}

resource "aws_cloudwatch_log_group" "redis_slow_log" {
  name              = "/elasticache/${local.name}-redis/slow-log"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}

resource "aws_elasticache_replication_group" "redis" {
  replication_group_id = "${local.name}-redis"
  description          = "${local.name} shared Redis (cluster mode)"

  engine               = "redis"
  engine_version       = var.redis_engine_version
  node_type            = var.redis_node_type
  port                 = local.redis_port
  parameter_group_name = "default.redis${split(".", var.redis_engine_version)[0]}.cluster.on"

  cluster_mode            = "enabled"
  num_node_groups         = var.redis_shards
  replicas_per_node_group = var.redis_replicas_per_shard

  automatic_failover_enabled = true
  multi_az_enabled           = true

  subnet_group_name  = aws_elasticache_subnet_group.redis.name
  security_group_ids = [aws_security_group.redis.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.data.arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"
  auth_token                 = aws_secretsmanager_secret_version.redis_auth.secret_string
  auth_token_update_strategy = "ROTATE"

  snapshot_retention_limit   = var.redis_snapshot_retention_days
  snapshot_window            = "03:00-04:00"
  maintenance_window         = "sun:05:00-sun:06:00"
  auto_minor_version_upgrade = true
  apply_immediately          = false

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.redis_slow_log.name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "slow-log"
  }
}
