"""Which providers offer which capabilities."""
