"""python -m services.access"""

from services.kit.main import run

from .app import AccessSettings, create_app

run(AccessSettings, create_app)
