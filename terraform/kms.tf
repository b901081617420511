# One customer-managed key per data domain so that key policies stay narrow:
#   logs    - CloudWatch log groups (fleet, flow logs, ECS Exec, Redis)
#   secrets - Secrets Manager secrets read by the tasks and the NATS nodes
#   data    - ECR repositories, EBS volumes of the NATS nodes, ElastiCache at rest

data "aws_iam_policy_document" "kms_logs" {
  #checkov:skip=CKV_AWS_109:Key policy: Resource "*" in a key policy means this key only, and the account-root statement is the AWS default that delegates access to IAM policies.
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" in a key policy means this key only, and the account-root statement is the AWS default that delegates access to IAM policies.
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" in a key policy means this key only, and the account-root statement is the AWS default that delegates access to IAM policies.
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogs"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "logs" {
  description             = "${local.name}: CloudWatch Logs encryption"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_logs.json
}

resource "aws_kms_alias" "logs" {
  name          = "alias/${local.name}/logs"
  target_key_id = aws_kms_key.logs.key_id
}

data "aws_iam_policy_document" "kms_account_only" {
  #checkov:skip=CKV_AWS_109:Key policy: Resource "*" in a key policy means this key only, and the account-root statement is the AWS default that delegates access to IAM policies.
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" in a key policy means this key only, and the account-root statement is the AWS default that delegates access to IAM policies.
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" in a key policy means this key only, and the account-root statement is the AWS default that delegates access to IAM policies.
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "secrets" {
  description             = "${local.name}: Secrets Manager secrets of the fleet"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_account_only.json
}

resource "aws_kms_alias" "secrets" {
  name          = "alias/${local.name}/secrets"
  target_key_id = aws_kms_key.secrets.key_id
}

resource "aws_kms_key" "data" {
  description             = "${local.name}: ECR, EBS and ElastiCache at-rest encryption"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_account_only.json
}

resource "aws_kms_alias" "data" {
  name          = "alias/${local.name}/data"
  target_key_id = aws_kms_key.data.key_id
}
