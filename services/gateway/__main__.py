from sdk import run
from services.gateway.app import NAME, GatewayConfig, serve

run(NAME, serve, GatewayConfig)
