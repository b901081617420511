# Roles the fleet's task definitions use (manifest spec.defaults.executionRoleArn /
# taskRoleArn).

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:*"]
    }
  }
}

# --- execution role: used by the ECS agent to start the tasks ----------------------------

locals {
  # Exactly the secrets manifests/prod.yaml references: spec.nats.credentials,
  # spec.nats.tls.caFrom, services[auth].secrets.AUTH_SIGNING_KEY and
  # services[payment].secrets.PAYMENT_LEDGER_KEY.
  task_secret_arns = [
    aws_secretsmanager_secret.nats_credentials.arn,
    aws_secretsmanager_secret.nats_ca.arn,
    aws_secretsmanager_secret.auth_signing_key.arn,
    aws_secretsmanager_secret.payment_ledger_key.arn,
  ]
}

resource "aws_iam_role" "task_execution" {
  name               = "${local.name}-task-execution"
  description        = "ECS agent: pull fleet images, write the fleet log group, inject the fleet's secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "task_execution" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "EcrPull"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [for repo in aws_ecr_repository.fleet : repo.arn]
  }

  statement {
    sid       = "WriteFleetLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.fleet.arn}:log-stream:*"]
  }

  statement {
    sid       = "InjectFleetSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.task_secret_arns
  }

  statement {
    sid       = "DecryptFleetSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.secrets.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "task_execution" {
  name   = "fleet-task-execution"
  role   = aws_iam_role.task_execution.id
  policy = data.aws_iam_policy_document.task_execution.json
}

# --- task role: the identity of the application code ---------------------------------------
# The services talk to NATS and Redis only; they need no AWS API access. Grant
# service-specific permissions here when a service starts calling AWS.

resource "aws_iam_role" "task" {
  name               = "${local.name}-task"
  description        = "Application identity of the fleet's tasks (no AWS API access)"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}
