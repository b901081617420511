"""A local ECS that really runs the fleet.

The sandbox is one background daemon that serves the AWS APIs fleetctl uses (moto, on
loopback), plays the ECS service scheduler by running each container as a local process,
and supervises a JetStream-enabled ``nats-server``. Clients reach it only through its AWS
endpoint URL and NATS URL, exactly as they would reach AWS.
"""
