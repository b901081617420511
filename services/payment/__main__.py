from sdk import run_service
from services.payment.service import Payment

run_service(Payment)
