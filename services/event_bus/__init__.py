"""Durable events on a JetStream stream."""
