from sdk import run_service
from services.performance_mode.service import PerformanceMode

run_service(PerformanceMode)
