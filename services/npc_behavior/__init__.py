"""NPC action choice."""
