from sdk import run_service
from services.orchestration.service import Orchestration

run_service(Orchestration)
