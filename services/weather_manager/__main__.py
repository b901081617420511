from sdk import run_service
from services.weather_manager.service import WeatherManager

run_service(WeatherManager)
