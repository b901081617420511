"""The command families of `fleetctl`, one module each; importing a module registers its commands."""
