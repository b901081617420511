"""Facts about the world's regions."""
