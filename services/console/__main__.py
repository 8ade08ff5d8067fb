"""python -m services.console: the operations dashboard under uvicorn;
python -m services.console add-operator | remove-operator | list-operators: its operator accounts (cli.py)."""

from __future__ import annotations

import sys

COMMANDS = ("add-operator", "remove-operator", "list-operators", "-h", "--help")

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in COMMANDS:
        from .cli import main

        raise SystemExit(main(sys.argv[1:]))
    import uvicorn

    from services.kit import logging as kit_logging
    from services.kit.settings import load

    from .app import ConsoleSettings, create_app

    settings = load(ConsoleSettings)
    kit_logging.configure(settings.service, settings.log_level, settings.log_json)
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None)
