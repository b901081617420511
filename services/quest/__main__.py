from sdk import run_service
from services.quest.service import Quest

run_service(Quest)
