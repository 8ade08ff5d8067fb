"""python -m services.gateway: the portal API under uvicorn."""

from __future__ import annotations

import uvicorn

from services.kit import logging as kit_logging
from services.kit.runtime import settle_heap
from services.kit.settings import load

from .app import GatewaySettings, create_app

if __name__ == "__main__":
    settings = load(GatewaySettings)
    kit_logging.configure(settings.service, settings.log_level, settings.log_json)
    # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1; the gateway reads it itself,
    # from DSP_GATEWAY_TRUSTED_PROXIES only (services/gateway/limits.py)
    app = create_app(settings)
    settle_heap()  # the ~150,000 objects of the imports and the app, out of the collector's full passes
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None, proxy_headers=False)
