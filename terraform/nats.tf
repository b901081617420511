# NATS: a 5-node JetStream cluster on EC2, one instance per node with a fixed private IP
# (stable cluster routes and certificate SANs) and a dedicated encrypted EBS volume for
# the JetStream store, spread over the 3 AZs (2 + 2 + 1), behind an internal NLB on the
# client port.
#
# Nodes ignore AMI and user-data drift on purpose: replacing all of them in one apply
# would drop JetStream quorum. Roll changes one node at a time:
#   terraform apply -replace='aws_instance.nats["nats-0"]'   (wait for /healthz, next)

locals {
  nats_cluster_name = "${local.name}-nats"
  nats_store_dir    = "/var/lib/nats/jetstream"
  nats_tls_dir      = "/etc/nats/tls"

  private_subnet_cidrs = [for i in range(length(local.azs)) : cidrsubnet(var.vpc_cidr, 4, i + 1)]

  # A /28 per private subnet, reserved for explicit assignment only, so no endpoint or
  # task ENI can take a NATS node's address.
  nats_reserved_cidrs = [for cidr in local.private_subnet_cidrs : cidrsubnet(cidr, 8, 1)]

  nats_nodes = {
    for i in range(var.nats_node_count) : "nats-${i}" => {
      index      = i
      az_index   = i % length(local.azs)
      private_ip = cidrhost(local.nats_reserved_cidrs[i % length(local.azs)], 4 + i)
    }
  }

  nats_routes = [
    for name, node in local.nats_nodes : "nats-route://${node.private_ip}:${local.nats_cluster_port}"
  ]
}

resource "aws_ec2_subnet_cidr_reservation" "nats" {
  count = length(local.azs)

  subnet_id        = aws_subnet.private[count.index].id
  cidr_block       = local.nats_reserved_cidrs[count.index]
  reservation_type = "explicit"
  description      = "Fixed addresses of the NATS servers"
}

data "aws_ssm_parameter" "al2023_arm64" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
}

# --- IAM -----------------------------------------------------------------------------

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "nats_node" {
  name               = "${local.name}-nats-node"
  description        = "NATS server instances: read their TLS material and the fleet credentials, Session Manager"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role_policy_attachment" "nats_node_ssm" {
  role       = aws_iam_role.nats_node.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

data "aws_iam_policy_document" "nats_node" {
  statement {
    sid     = "ReadNatsSecrets"
    actions = ["secretsmanager:GetSecretValue"]
    resources = [
      aws_secretsmanager_secret.nats_credentials.arn,
      aws_secretsmanager_secret.nats_fleetctl.arn,
      aws_secretsmanager_secret.nats_server_tls.arn,
    ]
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

resource "aws_iam_role_policy" "nats_node" {
  name   = "nats-secrets"
  role   = aws_iam_role.nats_node.id
  policy = data.aws_iam_policy_document.nats_node.json
}

resource "aws_iam_instance_profile" "nats_node" {
  name = "${local.name}-nats-node"
  role = aws_iam_role.nats_node.name
}

# --- nodes ---------------------------------------------------------------------------

resource "aws_ebs_volume" "nats_jetstream" {
  #checkov:skip=CKV2_AWS_9:JetStream replicates every stream across nodes (R3) and block-level snapshots of a live RAFT store are not consistent; streams are backed up with `nats stream backup` instead of AWS Backup.
  for_each = local.nats_nodes

  availability_zone = local.azs[each.value.az_index]
  size              = var.nats_jetstream_volume_size_gb
  type              = "gp3"
  encrypted         = true
  kms_key_id        = aws_kms_key.data.arn

  tags = { Name = "${local.name}-${each.key}-jetstream" }
}

resource "aws_instance" "nats" {
  for_each = local.nats_nodes

  ami                  = data.aws_ssm_parameter.al2023_arm64.insecure_value
  instance_type        = var.nats_instance_type
  subnet_id            = aws_subnet.private[each.value.az_index].id
  private_ip           = each.value.private_ip
  iam_instance_profile = aws_iam_instance_profile.nats_node.name

  vpc_security_group_ids      = [aws_security_group.nats.id]
  associate_public_ip_address = false
  ebs_optimized               = true
  monitoring                  = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = 20
    encrypted             = true
    kms_key_id            = aws_kms_key.data.arn
    delete_on_termination = true
  }

  user_data_base64 = base64gzip(templatefile("${path.module}/templates/nats-node.sh.tftpl", {
    server_name            = each.key
    region                 = var.region
    nats_version           = var.nats_server_version
    nats_sha256            = var.nats_server_sha256
    volume_id              = aws_ebs_volume.nats_jetstream[each.key].id
    store_dir              = local.nats_store_dir
    tls_dir                = local.nats_tls_dir
    credentials_secret_arn = aws_secretsmanager_secret.nats_credentials.arn
    fleetctl_secret_arn    = aws_secretsmanager_secret.nats_fleetctl.arn
    tls_secret_arn         = aws_secretsmanager_secret.nats_server_tls.arn
    nats_config = templatefile("${path.module}/templates/nats-server.conf.tftpl", {
      server_name      = each.key
      client_port      = local.nats_client_port
      cluster_port     = local.nats_cluster_port
      monitor_port     = local.nats_monitor_port
      cluster_name     = local.nats_cluster_name
      routes           = jsonencode(local.nats_routes)
      store_dir        = local.nats_store_dir
      tls_dir          = local.nats_tls_dir
      max_memory_store = var.nats_jetstream_max_memory
      max_file_store   = var.nats_jetstream_max_file
    })
  }))

  tags = { Name = "${local.name}-${each.key}", Role = "nats" }

  lifecycle {
    ignore_changes = [ami, user_data_base64]
  }

  depends_on = [
    aws_secretsmanager_secret_version.nats_credentials,
    aws_secretsmanager_secret_version.nats_fleetctl,
    aws_secretsmanager_secret_version.nats_server_tls,
    aws_ec2_subnet_cidr_reservation.nats,
    aws_nat_gateway.main,
    aws_vpc_endpoint.interface,
  ]
}

resource "aws_volume_attachment" "nats_jetstream" {
  for_each = local.nats_nodes

  device_name = "/dev/sdf"
  volume_id   = aws_ebs_volume.nats_jetstream[each.key].id
  instance_id = aws_instance.nats[each.key].id
}

# --- internal NLB on the client port -------------------------------------------------------

resource "aws_lb" "nats" {
  #checkov:skip=CKV_AWS_91:NLB access logs are only written for TLS listeners; this listener is TCP pass-through because NATS negotiates TLS inside its own protocol. Connection metadata is in the VPC flow logs.
  name                             = "${local.name}-nats"
  internal                         = true
  load_balancer_type               = "network"
  subnets                          = aws_subnet.private[*].id
  security_groups                  = [aws_security_group.nats_nlb.id]
  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = var.load_balancer_deletion_protection

  tags = { Name = "${local.name}-nats" }
}

resource "aws_lb_target_group" "nats_client" {
  name                 = "${local.name}-nats-client"
  port                 = local.nats_client_port
  protocol             = "TCP"
  target_type          = "instance"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 60

  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = tostring(local.nats_monitor_port)
    path                = "/healthz"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = { Name = "${local.name}-nats-client" }
}

resource "aws_lb_listener" "nats_client" {
  load_balancer_arn = aws_lb.nats.arn
  port              = local.nats_client_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.nats_client.arn
  }
}

resource "aws_lb_target_group_attachment" "nats_client" {
  for_each = local.nats_nodes

  target_group_arn = aws_lb_target_group.nats_client.arn
  target_id        = aws_instance.nats[each.key].id
  port             = local.nats_client_port
}
