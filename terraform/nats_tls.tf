# Private CA and server certificate for NATS client and route TLS.
# Clients verify the server against the CA (secret gaming/nats/ca, manifest
# spec.nats.tls.caFrom) using the NLB DNS name as server name; routes verify each other
# by node IP. The keys live in state only: keep the state bucket encrypted.

resource "tls_private_key" "nats_ca" {
  algorithm   = "ECDSA"
  ecdsa_curve = "P384"
}

resource "tls_self_signed_cert" "nats_ca" {
  private_key_pem = tls_private_key.nats_ca.private_key_pem

  subject {
    common_name  = "${local.name} NATS CA"
    organization = local.name
  }

  is_ca_certificate     = true
  validity_period_hours = 5 * 8760
  early_renewal_hours   = 180 * 24
  allowed_uses          = ["cert_signing", "crl_signing", "digital_signature"]
}

resource "tls_private_key" "nats_server" {
  algorithm   = "ECDSA"
  ecdsa_curve = "P256"
}

resource "tls_cert_request" "nats_server" {
  private_key_pem = tls_private_key.nats_server.private_key_pem

  # Clients verify the SANs; the NLB DNS name can exceed the 64-character CN limit.
  subject {
    common_name  = "nats.${local.name}"
    organization = local.name
  }

  dns_names    = [aws_lb.nats.dns_name]
  ip_addresses = [for node in local.nats_nodes : node.private_ip]
}

resource "tls_locally_signed_cert" "nats_server" {
  cert_request_pem   = tls_cert_request.nats_server.cert_request_pem
  ca_private_key_pem = tls_private_key.nats_ca.private_key_pem
  ca_cert_pem        = tls_self_signed_cert.nats_ca.cert_pem

  validity_period_hours = var.nats_tls_validity_hours
  early_renewal_hours   = 30 * 24
  # server_auth for clients, client_auth because routes present the same certificate.
  allowed_uses = ["digital_signature", "key_encipherment", "server_auth", "client_auth"]
}
