from sdk import run_service
from services.body_broker.service import BodyBroker

run_service(BodyBroker)
