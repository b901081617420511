from sdk import run_service
from services.time_manager.service import TimeManager

run_service(TimeManager)
