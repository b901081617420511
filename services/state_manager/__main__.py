from sdk import run_service
from services.state_manager.service import StateManager

run_service(StateManager)
