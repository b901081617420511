# Outputs read by manifests/prod.yaml as ${tf:<name>} from `terraform output -json`
# (saved as terraform/outputs.json). tests/fixtures/prod-tf-outputs.json is a sample.
# Secret outputs are ARNs only; no secret value is ever an output.

output "ecs_cluster_name" {
  description = "ECS cluster the fleet runs in (spec.target.cluster)."
  value       = aws_ecs_cluster.main.name
}

output "ecr_registry" {
  description = "ECR registry host; images are <registry>/gaming/<service>@sha256:..."
  value       = "${local.account_id}.dkr.ecr.${var.region}.amazonaws.com"
}

output "private_subnet_ids" {
  description = "Private subnets (one per AZ) for the tasks' awsvpc network configuration."
  value       = aws_subnet.private[*].id
}

output "tasks_security_group_id" {
  description = "Security group of the fleet's tasks."
  value       = aws_security_group.tasks.id
}

output "nats_security_group_id" {
  description = "Security group of the NATS servers (allows the tasks' group on the client port)."
  value       = aws_security_group.nats.id
}

output "nats_nlb_dns_name" {
  description = "DNS name of the internal NATS NLB; also the TLS server name of the NATS certificate."
  value       = aws_lb.nats.dns_name
}

output "nats_target_group_arn" {
  description = "Target group of the NATS client port (target health of the servers)."
  value       = aws_lb_target_group.nats_client.arn
}

output "nats_credentials_secret_arn" {
  description = "Secret with the NATS passwords, JSON keyed by service name (inject <arn>:<service>::)."
  value       = aws_secretsmanager_secret.nats_credentials.arn
}

output "nats_fleetctl_password_secret_arn" {
  description = "Secret with the password of the NATS user fleetctl (plain string), for fleetctl probe."
  value       = aws_secretsmanager_secret.nats_fleetctl.arn
}

output "nats_ca_secret_arn" {
  description = "Secret with the PEM CA certificate that signs the NATS server certificate."
  value       = aws_secretsmanager_secret.nats_ca.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the fleet's tasks."
  value       = aws_cloudwatch_log_group.fleet.name
}

output "task_execution_role_arn" {
  description = "Task execution role (image pull, logs, secret injection)."
  value       = aws_iam_role.task_execution.arn
}

output "task_role_arn" {
  description = "Task role (application identity)."
  value       = aws_iam_role.task.arn
}

output "auth_signing_key_secret_arn" {
  description = "Secret with the auth service's token signing key."
  value       = aws_secretsmanager_secret.auth_signing_key.arn
}

output "payment_ledger_key_secret_arn" {
  description = "Secret with the payment service's ledger key."
  value       = aws_secretsmanager_secret.payment_ledger_key.arn
}

output "redis_primary_endpoint" {
  description = "Redis endpoint. Cluster mode is enabled, so this is the configuration endpoint; clients discover shards from it."
  value       = aws_elasticache_replication_group.redis.configuration_endpoint_address
}

# --- not referenced by the manifest ---------------------------------------------------------

output "redis_auth_secret_arn" {
  description = "Secret with the Redis AUTH token."
  value       = aws_secretsmanager_secret.redis_auth.arn
}

output "nats_ca_certificate_pem" {
  description = "PEM CA certificate of the NATS servers (public), for operators' NATS CLI."
  value       = tls_self_signed_cert.nats_ca.cert_pem
}

output "nats_server_private_ips" {
  description = "Fixed private IPs of the NATS servers, by server name."
  value       = { for name, node in local.nats_nodes : name => node.private_ip }
}

output "controller_policy_arn" {
  description = "IAM policy with exactly the permissions fleetctl needs."
  value       = aws_iam_policy.controller.arn
}

output "controller_role_arn" {
  description = "Role for fleetctl: its operator task (ecs-tasks) and controller_trusted_principal_arns may assume it."
  value       = aws_iam_role.controller.arn
}

output "ecr_repository_urls" {
  description = "ECR repository URL per fleet service."
  value       = { for name, repo in aws_ecr_repository.fleet : name => repo.repository_url }
}

output "fleet_config_bucket" {
  description = "Bucket of the fleet's manifests (fleets/prod.yaml, fleets/outputs.json), read by the controller."
  value       = aws_s3_bucket.fleet_config.id
}

output "fleetctl_repository_url" {
  description = "ECR repository of the fleetctl image (manifests/controller.yaml)."
  value       = aws_ecr_repository.fleetctl.repository_url
}

output "controller_execution_role_arn" {
  description = "Execution role of the fleetctl controller task."
  value       = aws_iam_role.controller_execution.arn
}

output "fleet_lock_table_name" {
  description = "DynamoDB table of fleetctl's per-fleet lease (manifest spec.lock.table)."
  value       = aws_dynamodb_table.fleet_lock.name
}
