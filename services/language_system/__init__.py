"""Translation between the game's languages."""
