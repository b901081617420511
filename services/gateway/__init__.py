"""The HTTP to NATS gateway."""
