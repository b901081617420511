from sdk import run_service
from services.settings.service import GameSettings

run_service(GameSettings)
