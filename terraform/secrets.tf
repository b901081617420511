# Secrets Manager secrets of the fleet. The four referenced by manifests/prod.yaml are
# injected into tasks by the ECS agent through the task execution role; the server TLS
# secret is read only by the NATS nodes.
#
# Generated values that nothing else in this configuration consumes (NATS service
# passwords, the auth signing key, the payment ledger key) are created with ephemeral
# resources and written through write-only arguments, so they never reach state.
# Bump the matching *_version to rotate.

locals {
  secret_prefix = local.ecr_namespace
}

# --- NATS service credentials --------------------------------------------------------
# JSON object {"<service>": "<password>"}: one NATS user per fleet service (user name =
# service name, see templates/nats-server.conf.tftpl). The controller injects a single
# key per task with valueFrom "<arn>:<service>::", so a task only ever sees its own
# password even though the execution role can read the whole secret.

resource "aws_secretsmanager_secret" "nats_credentials" {
  #checkov:skip=CKV2_AWS_57:The passwords are also loaded by the NATS servers at boot; they are rotated together with a rolling restart by bumping var.nats_credentials_version, not by a rotation Lambda.
  name                    = "${local.secret_prefix}/nats/fleet-creds"
  description             = "NATS user passwords of the fleet services, keyed by service name"
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = 30
}

# Letters only: nats-server parses a substituted $NATS_PASSWORD_<SERVICE> as a configuration
# value, so a password such as "1e5..." or "12345" would be read as a number and the server
# would refuse its configuration. 48 letters are still ~270 bits.
ephemeral "random_password" "nats" {
  for_each = local.fleet_services

  length  = 48
  special = false
  numeric = false
}

resource "aws_secretsmanager_secret_version" "nats_credentials" {
  secret_id                = aws_secretsmanager_secret.nats_credentials.id
  secret_string_wo         = jsonencode({ for svc in local.fleet_services : svc => ephemeral.random_password.nats[svc].result })
  secret_string_wo_version = var.nats_credentials_version
}

# --- NATS operations user -------------------------------------------------------------
# Password of the NATS user "fleetctl" (templates/nats-server.conf.tftpl): subscribe
# _INBOX.>, publish $SRV.> and the service subjects, for `fleetctl probe` ($SRV.PING/INFO
# discovery and a responder check per subject). A secret of its own, so that whoever may run
# the probe reads no service's credentials. Rotated with the service passwords.

resource "aws_secretsmanager_secret" "nats_fleetctl" {
  #checkov:skip=CKV2_AWS_57:Loaded by the NATS servers at boot like the service passwords; rotated together with them by bumping var.nats_credentials_version and a rolling restart, not by a rotation Lambda.
  name                    = "${local.secret_prefix}/nats/fleetctl-password"
  description             = "Password of the NATS user fleetctl (fleet probes: service discovery and responder checks)"
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = 30
}

ephemeral "random_password" "nats_fleetctl" {
  length  = 48
  special = false
  numeric = false
}

resource "aws_secretsmanager_secret_version" "nats_fleetctl" {
  secret_id                = aws_secretsmanager_secret.nats_fleetctl.id
  secret_string_wo         = ephemeral.random_password.nats_fleetctl.result
  secret_string_wo_version = var.nats_credentials_version
}

# --- NATS TLS ------------------------------------------------------------------------

resource "aws_secretsmanager_secret" "nats_ca" {
  #checkov:skip=CKV2_AWS_57:Holds the public CA certificate clients use to verify the servers; it is re-issued by Terraform (nats_tls.tf), there is nothing for a rotation Lambda to rotate.
  name                    = "${local.secret_prefix}/nats/ca"
  description             = "PEM CA certificate that signs the NATS server certificate"
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "nats_ca" {
  secret_id     = aws_secretsmanager_secret.nats_ca.id
  secret_string = tls_self_signed_cert.nats_ca.cert_pem
}

resource "aws_secretsmanager_secret" "nats_server_tls" {
  #checkov:skip=CKV2_AWS_57:Server certificate and key are re-issued by Terraform before expiry (tls_locally_signed_cert.early_renewal_hours) and picked up on node replacement.
  name                    = "${local.secret_prefix}/nats/server-tls"
  description             = "NATS server certificate, private key and CA (JSON), read by the NATS nodes only"
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "nats_server_tls" {
  secret_id = aws_secretsmanager_secret.nats_server_tls.id
  secret_string = jsonencode({
    certificate = tls_locally_signed_cert.nats_server.cert_pem
    private_key = tls_private_key.nats_server.private_key_pem
    ca          = tls_self_signed_cert.nats_ca.cert_pem
  })
}

# --- application secrets ---------------------------------------------------------------

resource "aws_secretsmanager_secret" "auth_signing_key" {
  #checkov:skip=CKV2_AWS_57:Rotating the token signing key invalidates issued tokens; it is rotated deliberately with var.auth_signing_key_version and a redeploy of auth.
  name                    = "${local.secret_prefix}/auth/signing-key"
  description             = "Token signing key of the auth service (AUTH_SIGNING_KEY)"
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = 30
}

ephemeral "random_password" "auth_signing_key" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret_version" "auth_signing_key" {
  secret_id                = aws_secretsmanager_secret.auth_signing_key.id
  secret_string_wo         = ephemeral.random_password.auth_signing_key.result
  secret_string_wo_version = var.auth_signing_key_version
}

resource "aws_secretsmanager_secret" "payment_ledger_key" {
  #checkov:skip=CKV2_AWS_57:The ledger key protects stored ledger entries; rotation needs a re-encryption run and is done deliberately with var.payment_ledger_key_version.
  name                    = "${local.secret_prefix}/payment/ledger-key"
  description             = "Ledger key of the payment service (PAYMENT_LEDGER_KEY)"
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = 30
}

ephemeral "random_password" "payment_ledger_key" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret_version" "payment_ledger_key" {
  secret_id                = aws_secretsmanager_secret.payment_ledger_key.id
  secret_string_wo         = ephemeral.random_password.payment_ledger_key.result
  secret_string_wo_version = var.payment_ledger_key_version
}

# --- Redis AUTH token --------------------------------------------------------------------
# The replication group takes the token from this secret. It is a regular (stateful)
# random_password because aws_elasticache_replication_group.auth_token is not write-only.

resource "aws_secretsmanager_secret" "redis_auth" {
  #checkov:skip=CKV2_AWS_57:The AUTH token is rotated through Terraform (ROTATE strategy keeps the old token valid until clients moved), not by a rotation Lambda.
  name                    = "${local.secret_prefix}/redis/auth-token"
  description             = "AUTH token of the Redis replication group"
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = 30
}

resource "random_password" "redis_auth" {
  length = 64
  # ElastiCache AUTH tokens allow printable ASCII except space, '"', '/' and '@'.
  override_special = "!&#$^<>-"
  min_special      = 2

  keepers = {
    version = var.redis_auth_token_version
  }
}

resource "aws_secretsmanager_secret_version" "redis_auth" {
  secret_id     = aws_secretsmanager_secret.redis_auth.id
  secret_string = random_password.redis_auth.result
}
