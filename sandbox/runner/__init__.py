"""The task runner: plays the ECS service scheduler and container agent on this host."""
