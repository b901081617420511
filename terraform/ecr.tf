# One repository per fleet image: <registry>/gaming/<service>. Manifests pin images by
# digest; tags are immutable and only untagged images ever expire.

resource "aws_ecr_repository" "fleet" {
  for_each = local.fleet_services

  name                 = "${local.ecr_namespace}/${each.key}"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.data.arn
  }
}

resource "aws_ecr_lifecycle_policy" "fleet" {
  for_each = aws_ecr_repository.fleet

  repository = each.value.name
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
