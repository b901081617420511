from sdk import run_service
from services.story_teller.service import StoryTeller

run_service(StoryTeller)
