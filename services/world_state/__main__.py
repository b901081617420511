from sdk import run_service
from services.world_state.service import WorldState

run_service(WorldState)
