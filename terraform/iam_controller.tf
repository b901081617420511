# Least-privilege policy for fleetctl itself (plan/apply/status/rollback/logs/diagnose and
# `controller run` against the cluster above).
#
# - Exactly the actions fleetctl's code calls: tests/terraform/test_tf_controller_policy.py
#   scans controller/ and cli/ (AST, including the string-addressed calls of the AWS seam,
#   aws.call("ecs", "describe_services", ...)) and checks both directions: every call is
#   granted, every granted action is called, except the ones AWS checks on the caller during
#   another call (iam:PassRole for task roles; the CloudWatch alarms and the service-linked
#   role of target-tracking autoscaling).
# - Writes to services are scoped by the fleet's tag: fleetctl creates services only with
#   `fleetctl.io/fleet = <fleet>` (aws:RequestTag) and updates/deletes only services that
#   carry it (aws:ResourceTag). Another fleet's service in the same cluster is out of reach;
#   an untagged one can be adopted (`fleetctl apply --adopt NAME`: tag first, then update).
# - Task definitions only in this fleet's families ("<fleet>-<service>", controller/render.py).
# - Reads that have no resource-level permissions (DescribeTaskDefinition, EC2, ELBv2) use "*".

locals {
  ecs_arn_prefix      = "arn:${local.partition}:ecs:${var.region}:${local.account_id}"
  fleet_tag           = "fleetctl.io/fleet"
  fleet_services_arn  = "${local.ecs_arn_prefix}:service/${aws_ecs_cluster.main.name}/*"
  fleet_task_defs_arn = "${local.ecs_arn_prefix}:task-definition/${local.name}-*:*"
}

data "aws_iam_policy_document" "controller" {
  statement {
    # the fleet's suspension markers live on the cluster (controller suspend)
    sid       = "EcsCluster"
    actions   = ["ecs:DescribeClusters"]
    resources = [aws_ecs_cluster.main.arn]
  }

  statement {
    # reads cover every service of the cluster: plan must see another fleet's service to
    # refuse touching it
    sid       = "EcsReadServices"
    actions   = ["ecs:DescribeServices"]
    resources = [local.fleet_services_arn]
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
    sid       = "EcsReadTasks"
    actions   = ["ecs:DescribeTasks"]
    resources = ["${local.ecs_arn_prefix}:task/${aws_ecs_cluster.main.name}/*"]
  }

  statement {
    # a new service must carry this fleet's tag
    sid       = "EcsCreateFleetServices"
    actions   = ["ecs:CreateService"]
    resources = [local.fleet_services_arn]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.fleet_tag}"
      values   = [local.name]
    }
  }

  statement {
    # only services that carry this fleet's tag
    sid = "EcsChangeFleetServices"
    actions = [
      "ecs:DeleteService",
      "ecs:UpdateService",
    ]
    resources = [local.fleet_services_arn]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.fleet_tag}"
      values   = [local.name]
    }
  }

  statement {
    # this fleet's families only, registered with this fleet's tag
    sid       = "EcsRegisterFleetTaskDefinitions"
    actions   = ["ecs:RegisterTaskDefinition"]
    resources = [local.fleet_task_defs_arn]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.fleet_tag}"
      values   = [local.name]
    }
  }

  statement {
    # tag-on-create of CreateService and RegisterTaskDefinition
    sid       = "EcsTagOnCreate"
    actions   = ["ecs:TagResource"]
    resources = [local.fleet_services_arn, local.fleet_task_defs_arn]

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["CreateService", "RegisterTaskDefinition"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.fleet_tag}"
      values   = [local.name]
    }
  }

  statement {
    # fleetctl.io/* tags (recorded revision, spec hash, suspension) on this fleet's services,
    # on untagged ones being adopted, and on the cluster; never on another fleet's service,
    # and a fleet tag written is always this fleet's
    sid = "EcsFleetTags"
    actions = [
      "ecs:TagResource",
      "ecs:UntagResource",
    ]
    resources = [local.fleet_services_arn, aws_ecs_cluster.main.arn]

    condition {
      test     = "StringEqualsIfExists"
      variable = "aws:ResourceTag/${local.fleet_tag}"
      values   = [local.name]
    }

    condition {
      test     = "StringEqualsIfExists"
      variable = "aws:RequestTag/${local.fleet_tag}"
      values   = [local.name]
    }

    condition {
      test     = "ForAllValues:StringLike"
      variable = "aws:TagKeys"
      values   = ["fleetctl.io/*"]
    }
  }

  statement {
    # no resource-level permissions for these reads
    sid = "EcsReadTaskDefinitions"
    actions = [
      "ecs:DescribeTaskDefinition",
      "ecs:ListTaskDefinitions",
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
    sid     = "ReadFleetLogs"
    actions = ["logs:GetLogEvents"]
    resources = [
      aws_cloudwatch_log_group.fleet.arn,
      "${aws_cloudwatch_log_group.fleet.arn}:*",
    ]
  }

  statement {
    sid       = "ResolveFleetImages"
    actions   = ["ecr:DescribeImages"]
    resources = [for repo in aws_ecr_repository.fleet : repo.arn]
  }

  statement {
    # services with `autoscaling`: their scalable target and fleetctl-* target-tracking
    # policies (scalable-target ARNs carry a random id, so the account's targets are the scope)
    sid = "AutoscaleFleetServices"
    actions = [
      "application-autoscaling:DeleteScalingPolicy",
      "application-autoscaling:DeregisterScalableTarget",
      "application-autoscaling:PutScalingPolicy",
      "application-autoscaling:RegisterScalableTarget",
    ]
    resources = ["arn:${local.partition}:application-autoscaling:${var.region}:${local.account_id}:scalable-target/*"]
  }

  statement {
    # no resource-level permissions for this read
    sid       = "ReadScalingPolicies"
    actions   = ["application-autoscaling:DescribeScalingPolicies"]
    resources = ["*"]
  }

  statement {
    # verify: the task roles fleetctl passes, and their policies (read, never changed)
    sid = "VerifyTaskRoles"
    actions = [
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListRolePolicies",
    ]
    resources = [
      aws_iam_role.task_execution.arn,
      aws_iam_role.task.arn,
    ]
  }

  statement {
    # verify: documents of the managed policies attached to the task roles
    sid = "VerifyAttachedPolicies"
    actions = [
      "iam:GetPolicy",
      "iam:GetPolicyVersion",
    ]
    resources = [
      "arn:${local.partition}:iam::aws:policy/*",
      "arn:${local.partition}:iam::${local.account_id}:policy/${local.name}-*",
    ]
  }

  statement {
    # verify: the fleet's secrets exist (metadata only; GetSecretValue is never granted)
    sid       = "VerifySecrets"
    actions   = ["secretsmanager:DescribeSecret"]
    resources = ["arn:${local.partition}:secretsmanager:${var.region}:${local.account_id}:secret:${local.secret_prefix}/*"]
  }

  statement {
    # verify: SSM parameters exist (no resource-level scoping; values are never read)
    sid       = "VerifyParameters"
    actions   = ["ssm:DescribeParameters"]
    resources = ["*"]
  }

  statement {
    # verify: the fleet's log group exists (DescribeLogGroups is scoped to the account's groups)
    sid       = "VerifyLogGroups"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
  }

  statement {
    # checked by AWS on PutScalingPolicy/DeleteScalingPolicy: the alarms of a target-tracking
    # policy are created and deleted with the caller's permissions
    sid = "TargetTrackingAlarms"
    actions = [
      "cloudwatch:DeleteAlarms",
      "cloudwatch:DescribeAlarms",
      "cloudwatch:PutMetricAlarm",
    ]
    resources = ["arn:${local.partition}:cloudwatch:${var.region}:${local.account_id}:alarm:TargetTracking-service/${aws_ecs_cluster.main.name}/*"]
  }

  statement {
    # checked by AWS on the first RegisterScalableTarget of an ECS service in the account
    sid       = "AutoscalingServiceLinkedRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["ecs.application-autoscaling.amazonaws.com"]
    }
  }

  statement {
    # `controller run s3://...`: the manifest sources in the fleet-config bucket
    # (controller_service.tf); HeadObject is authorised as GetObject
    sid       = "ReadFleetManifests"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.fleet_config.arn}/fleets/*"]
  }

  statement {
    # diagnose's network checks: EC2 Describe* has no resource-level scoping
    sid = "InspectNetwork"
    actions = [
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
    ]
    resources = ["*"]
  }

  statement {
    # NATS target health: ELBv2 Describe* has no resource-level scoping
    sid       = "InspectLoadBalancing"
    actions   = ["elasticloadbalancing:DescribeTargetHealth"]
    resources = ["*"]
  }

  statement {
    # The fleet's lease: read, take, renew and release the item of this fleet (conditional writes).
    sid       = "FleetLease"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.fleet_lock.arn]

    # only this fleet's item (key `fleet`): the controllers electing its leader, apply, lock status
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values   = [local.name]
    }
  }
}

resource "aws_iam_policy" "controller" {
  name        = "${local.name}-fleetctl"
  description = "fleetctl deploy controller: manage the fleet's ECS services and task definitions, read its logs"
  policy      = data.aws_iam_policy_document.controller.json
}

# Who may act as fleetctl: the operator running as an ECS task (`controller run` in the
# cluster), and CI/operators' roles when given.
data "aws_iam_policy_document" "controller_assume" {
  statement {
    sid     = "EcsTasks"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # confused deputy: only tasks of this account
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  dynamic "statement" {
    for_each = length(var.controller_trusted_principal_arns) > 0 ? [1] : []

    content {
      sid     = "TrustedPrincipals"
      actions = ["sts:AssumeRole"]

      principals {
        type        = "AWS"
        identifiers = var.controller_trusted_principal_arns
      }
    }
  }
}

resource "aws_iam_role" "controller" {
  name                 = "${local.name}-fleetctl"
  description          = "fleetctl: assumed by its operator task (ecs-tasks) and by CI/operators"
  assume_role_policy   = data.aws_iam_policy_document.controller_assume.json
  max_session_duration = 3600
}

resource "aws_iam_role_policy_attachment" "controller" {
  role       = aws_iam_role.controller.name
  policy_arn = aws_iam_policy.controller.arn
}
