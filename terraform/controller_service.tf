# fleetctl's controller as an ECS service (manifests/controller.yaml): what it needs besides
# the controller role and policy (iam_controller.tf).
#
# - A versioned bucket for the fleet's manifests: CI uploads manifests/prod.yaml and
#   `terraform output -json` as fleets/prod.yaml and fleets/outputs.json; the controller polls
#   the object's version (HeadObject) and reads it (GetObject, GetObjectVersion) — statement
#   ReadFleetManifests of the controller policy (iam_controller.tf), nothing else.
# - The image repository gaming/fleetctl (built from the repository's Dockerfile).
# - An execution role for the controller's task: pull its image, write its logs, inject the
#   NATS CA bundle and the password of the NATS user fleetctl (the serving gate's probe:
#   FLEETCTL_NATS_PASSWORD in manifests/controller.yaml). No service's NATS password: the fleet's
#   execution role stays the only one that reads those.
# - The controller's lease is the production fleet's (lock.tf); two replicas elect a leader on
#   it (README "Running the controller on ECS").

resource "aws_s3_bucket" "fleet_config" {
  #checkov:skip=CKV_AWS_144:Manifests are rebuilt from Git by CI; cross-region replication adds nothing a re-upload does not.
  #checkov:skip=CKV_AWS_18:Reads are by the controller role alone; CloudTrail data events cover access logging where wanted.
  #checkov:skip=CKV2_AWS_62:The controller polls the object's version; no event consumer exists.
  #checkov:skip=CKV_AWS_145:Manifests hold no secrets (only ARNs and digests); SSE-S3 keeps the controller policy free of KMS grants.
  bucket = "${local.name}-fleet-config-${local.account_id}"
}

resource "aws_s3_bucket_versioning" "fleet_config" {
  bucket = aws_s3_bucket.fleet_config.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "fleet_config" {
  bucket = aws_s3_bucket.fleet_config.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "fleet_config" {
  bucket                  = aws_s3_bucket.fleet_config.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "fleet_config" {
  bucket = aws_s3_bucket.fleet_config.id
  rule {
    id     = "expire-old-manifest-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "fleet_config_tls" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.fleet_config.arn, "${aws_s3_bucket.fleet_config.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "fleet_config" {
  bucket = aws_s3_bucket.fleet_config.id
  policy = data.aws_iam_policy_document.fleet_config_tls.json
}

resource "aws_ecr_repository" "fleetctl" {
  name                 = "${local.ecr_namespace}/fleetctl"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.data.arn
  }
}

resource "aws_ecr_lifecycle_policy" "fleetctl" {
  repository = aws_ecr_repository.fleetctl.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Expire untagged images after ${var.ecr_untagged_image_expiry_days} days"
      selection = {
        tagStatus   = "untagged"
        countType   = "sinceImagePushed"
        countUnit   = "days"
        countNumber = var.ecr_untagged_image_expiry_days
      }
      action = { type = "expire" }
    }]
  })
}

resource "aws_iam_role" "controller_execution" {
  name               = "${local.name}-fleetctl-execution"
  description        = "ECS agent for the fleetctl controller task: pull its image, write its logs, inject the NATS CA and probe password"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "controller_execution" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "EcrPull"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [aws_ecr_repository.fleetctl.arn]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.fleet.arn}:log-stream:*"]
  }

  statement {
    sid       = "InjectNatsCa"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.nats_ca.arn]
  }

  statement {
    sid       = "InjectNatsProbePassword"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.nats_fleetctl.arn]
  }

  statement {
    sid       = "DecryptNatsSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.secrets.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "controller_execution" {
  name   = "fleetctl-task-execution"
  role   = aws_iam_role.controller_execution.id
  policy = data.aws_iam_policy_document.controller_execution.json
}
