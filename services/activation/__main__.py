"""python -m services.activation"""

from services.kit.main import run

from .app import ActivationSettings, create_app

run(ActivationSettings, create_app)
