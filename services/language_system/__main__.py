from sdk import run_service
from services.language_system.service import LanguageSystem

run_service(LanguageSystem)
