from sdk import run_service
from services.knowledge_base.service import KnowledgeBase

run_service(KnowledgeBase)
