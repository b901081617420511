from sdk import run_service
from services.ai_router.service import AiRouter

run_service(AiRouter)
