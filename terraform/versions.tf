terraform {
  # 1.11 is the first release with write-only arguments (secret_string_wo), which keep
  # the generated NATS passwords out of state.
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    random = {
      source = "hashicorp/random"
      # 3.7 adds the ephemeral random_password resource.
      version = "~> 3.7"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }

  # Partial configuration: bucket, key, region and kms_key_id come from
  # `terraform init -backend-config=...` (see README.md). State holds the Redis AUTH
  # token and the NATS TLS keys, so the bucket must be encrypted and access-restricted.
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}
