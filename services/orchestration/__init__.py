"""Spawns NPCs across the fleet."""
