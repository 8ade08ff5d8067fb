"""python -m services.notify"""

from services.kit.main import run

from .app import NotifySettings, create_app

run(NotifySettings, create_app)
