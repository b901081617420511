from sdk import run_service
from services.router.service import Router

run_service(Router)
