# Least-privilege policy for fleetctl itself (render/plan/apply/status/logs against the
# cluster above). Each statement is scoped to this fleet's resources where the action
# supports resource-level permissions; read-only Describe calls that do not (EC2,
# ELBv2, task definitions) use "*".
#
# tests/terraform/test_tf_controller_policy.py parses the actions of this document and
# checks that every AWS operation called under controller/ and cli/ is allowed, including
# the string-addressed calls of the AWS seam (aws.call("ecs", "describe_services", ...)).

locals {
  ecs_arn_prefix = "arn:${local.partition}:ecs:${var.region}:${local.account_id}"
}

data "aws_iam_policy_document" "controller" {
  statement {
    sid       = "EcsCluster"
    actions   = ["ecs:DescribeClusters"]
    resources = [aws_ecs_cluster.main.arn]
  }

  statement {
    sid = "EcsServices"
    actions = [
      "ecs:CreateService",
      "ecs:DeleteService",
      "ecs:DescribeServices",
      "ecs:UpdateService",
    ]
    resources = ["${local.ecs_arn_prefix}:service/${aws_ecs_cluster.main.name}/*"]
  }

  statement {
    sid = "EcsListInCluster"
    actions = [
      "ecs:ListServices",
      "ecs:ListTasks",
    ]
    resources = ["*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.main.arn]
    }
  }

  statement {
    sid = "EcsTasks"
    actions = [
      "ecs:DescribeTasks",
      "ecs:StopTask",
    ]
    resources = ["${local.ecs_arn_prefix}:task/${aws_ecs_cluster.main.name}/*"]
  }

  statement {
    # TagResource: tags fleetctl writes on the services (spec hash, completed/previous
    # revision) and tag-on-create of CreateService and RegisterTaskDefinition, whose
    # families are "<fleet name>-<service>" (controller/render.py), the fleet name being
    # this project's name.
    sid = "EcsTagging"
    actions = [
      "ecs:ListTagsForResource",
      "ecs:TagResource",
    ]
    resources = [
      "${local.ecs_arn_prefix}:service/${aws_ecs_cluster.main.name}/*",
      "${local.ecs_arn_prefix}:task-definition/${local.name}-*:*",
    ]
  }

  statement {
    # Task definitions have no resource-level permissions for these actions.
    sid = "EcsTaskDefinitions"
    actions = [
      "ecs:DeregisterTaskDefinition",
      "ecs:DescribeTaskDefinition",
      "ecs:ListTaskDefinitionFamilies",
      "ecs:ListTaskDefinitions",
      "ecs:RegisterTaskDefinition",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [var.region]
    }
  }

  statement {
    sid     = "PassFleetTaskRoles"
    actions = ["iam:PassRole"]
    resources = [
      aws_iam_role.task_execution.arn,
      aws_iam_role.task.arn,
    ]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid = "ReadFleetLogs"
    actions = [
      "logs:DescribeLogStreams",
      "logs:FilterLogEvents",
      "logs:GetLogEvents",
    ]
    resources = [
      aws_cloudwatch_log_group.fleet.arn,
      "${aws_cloudwatch_log_group.fleet.arn}:*",
    ]
  }

  statement {
    sid = "ResolveFleetImages"
    actions = [
      "ecr:BatchGetImage",
      "ecr:DescribeImages",
    ]
    resources = [for repo in aws_ecr_repository.fleet : repo.arn]
  }

  statement {
    # Pre-flight checks of the task network: EC2 Describe* has no resource-level scoping.
    sid = "InspectNetwork"
    actions = [
      "ec2:DescribeNetworkAcls",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeRouteTables",
      "ec2:DescribeSecurityGroupRules",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
    ]
    resources = ["*"]
  }

  statement {
    # NATS target health and load balancer lookups: ELBv2 Describe* has no resource-level scoping.
    sid = "InspectLoadBalancing"
    actions = [
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetHealth",
    ]
    resources = ["*"]
  }

  statement {
    # Identity check before acting on an account (always allowed by AWS; listed so the
    # policy documents every call fleetctl makes).
    sid       = "WhoAmI"
    actions   = ["sts:GetCallerIdentity"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "controller" {
  name        = "${local.name}-fleetctl"
  description = "fleetctl deploy controller: manage the fleet's ECS services and task definitions, read its logs"
  policy      = data.aws_iam_policy_document.controller.json
}

data "aws_iam_policy_document" "controller_assume" {
  count = length(var.controller_trusted_principal_arns) > 0 ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = var.controller_trusted_principal_arns
    }
  }
}

resource "aws_iam_role" "controller" {
  count = length(var.controller_trusted_principal_arns) > 0 ? 1 : 0

  name                 = "${local.name}-fleetctl"
  description          = "Assumed by CI and operators to run fleetctl against this fleet"
  assume_role_policy   = data.aws_iam_policy_document.controller_assume[0].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy_attachment" "controller" {
  count = length(var.controller_trusted_principal_arns) > 0 ? 1 : 0

  role       = aws_iam_role.controller[0].name
  policy_arn = aws_iam_policy.controller.arn
}
