"""python -m services.records"""

from services.kit.main import run

from .app import RecordsSettings, create_app

run(RecordsSettings, create_app)
