"""Issues and verifies HMAC-signed tokens."""
