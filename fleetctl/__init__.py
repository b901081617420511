"""fleetctl: a declarative deploy controller for a fleet of NATS microservices on AWS ECS.

The code lives in the repository's top-level folders ``controller/``, ``cli/`` and ``sandbox/``;
``fleetctl/`` holds symbolic links to them, so they import (and install from a wheel) as
``fleetctl.controller``, ``fleetctl.cli`` and ``fleetctl.sandbox`` and never claim a generic
top-level name in a shared environment.
"""
