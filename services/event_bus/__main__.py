from sdk import run_service
from services.event_bus.service import EventBus

run_service(EventBus)
