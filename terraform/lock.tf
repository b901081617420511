# The fleet's lease (controller/lease.py): one item per fleet, written only with conditional
# UpdateItem calls by apply, rollback, prune and the operator, so one writer acts at a time.

resource "aws_dynamodb_table" "fleet_lock" {
  #checkov:skip=CKV_AWS_119:Lease items hold no secrets (holder id, host, pid, command, expiry); the AWS managed key avoids KMS grants for every writer.
  name         = "${local.name}-fleetctl-locks"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "fleet"

  attribute {
    name = "fleet"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}
