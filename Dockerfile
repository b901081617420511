# The fleetctl image: the controller (`fleetctl controller run`) and every other command.
# Build from the repository root:
#   docker build -t gaming/fleetctl .
FROM python:3.11-slim@sha256:9c2b8a1e4f0d7c6b5a3e2f1d0c9b8a7e6f5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FLEETCTL_HEALTH_HOST=0.0.0.0 \
    FLEETCTL_LOG_FORMAT=json
WORKDIR /app

# git: Git manifest sources (controller/sources.py runs the git binary)
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home --shell /usr/sbin/nologin fleetctl

# fleetctl/ links to controller/, cli/ and sandbox/ (the wheel follows the links); the SDK and
# the services are not part of fleetctl.
COPY pyproject.toml README.md /app/
COPY fleetctl /app/fleetctl
COPY controller /app/controller
COPY cli /app/cli
COPY sandbox /app/sandbox
RUN pip install --no-cache-dir /app

USER 10001
EXPOSE 8089
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8089/healthz', timeout=2)"]
# Exec form: fleetctl is PID 1 and gets ECS's SIGTERM directly (in-flight calls finish, exit 0).
# The manifest source is the argument, e.g. s3://bucket/fleets/prod.yaml or git+https://...
ENTRYPOINT ["fleetctl", "controller", "run"]
CMD ["--help"]
