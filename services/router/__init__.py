"""Resolves a capability to one provider."""
