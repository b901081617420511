from sdk import run_service
from services.model_mgmt.service import ModelMgmt

run_service(ModelMgmt)
