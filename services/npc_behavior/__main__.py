from sdk import run_service
from services.npc_behavior.service import NpcBehavior

run_service(NpcBehavior)
