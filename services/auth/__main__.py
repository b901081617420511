from sdk import run_service
from services.auth.service import Auth

run_service(Auth)
