from sdk import run_service
from services.capability_registry.service import CapabilityRegistry

run_service(CapabilityRegistry)
