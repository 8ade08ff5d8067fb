"""python -m services.console: the operations dashboard under uvicorn."""

from __future__ import annotations

import uvicorn

from services.kit import logging as kit_logging
from services.kit.settings import load

from .app import ConsoleSettings, create_app

if __name__ == "__main__":
    settings = load(ConsoleSettings)
    kit_logging.configure(settings.service, settings.log_level, settings.log_json)
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None)
