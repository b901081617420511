from sdk import run_service
from services.ai_integration.service import AiIntegration

run_service(AiIntegration)
