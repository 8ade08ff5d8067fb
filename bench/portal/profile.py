"""Where one page's time goes, at no load: a second gateway — the same code, the same settings, the same workers —
runs in the bench's own process, its four service clients instrumented with httpx event hooks (each call's time
from just before it is sent, after its service token is signed, to its body read) and its MongoDB client with a
pymongo command listener (the rate-limit counters; the gateway's only database work on these pages). The patients'
visits are replayed through it one page at a time; a page's own time is its time at the client minus its calls.
Then the same visits again under cProfile (`figures.hot`: the functions with the most own CPU per page view, in the
bench's process — the instrumented gateway and the bench's own client, whose share is small beside the pages').
The workers have no timing metrics of their own for these reads; their CPU per page under load is in the figures
(`cpu`)."""

from __future__ import annotations

import asyncio
import cProfile
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from pymongo import monitoring

from infra.procs import free_port

from .figures import hot, median_split, page_of, split
from .mesh import WORKERS, Mesh


class _Calls(monitoring.CommandListener):
    """Every call the gateway makes while `on`: (what, ms)."""

    def __init__(self) -> None:
        self.on, self.calls = False, list[tuple[str, float]]()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if self.on:
            self.calls.append(("gateway's MongoDB", event.duration_micros / 1000))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.succeeded(event)  # type: ignore[arg-type] - the same duration field

    def hooks(self, service: str) -> dict[str, list[Any]]:
        async def sent(request: httpx.Request) -> None:
            request.extensions["bench_t0"] = time.perf_counter()

        async def answered(response: httpx.Response) -> None:
            await response.aread()
            if self.on:
                took = (time.perf_counter() - response.request.extensions["bench_t0"]) * 1000
                self.calls.append((f"{service} {response.request.url.path}", took))
        return {"request": [sent], "response": [answered]}


@contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


async def visits(mesh: Mesh, targets: list[list[str]],
                 cookie_of: list[str]) -> tuple[dict[str, dict[str, float]], list[dict[str, Any]]]:
    """Each visit (a list of page URLs at the bench's gateway, with its patient's session cookie) page by page:
    per page, the median of each part over the visits (ms); then the visits again under cProfile: the hottest
    functions (`figures.hot`)."""
    from services.gateway.app import GatewaySettings, create_app
    from services.kit.settings import load

    listener = _Calls()
    monitoring.register(listener)  # before the gateway's client is made: it is told of every command
    port = free_port()
    with _environ({**mesh.common, "DSP_SERVICE_KEY": mesh.keys["gateway"], **mesh.gateway_env(port)}):
        app = create_app(load(GatewaySettings))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.05)
        for service in WORKERS:
            getattr(app.state.ctx, service).event_hooks = listener.hooks(service)
        splits: dict[str, list[dict[str, float]]] = {}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as web:
            for visit, cookie in zip(targets, cookie_of, strict=True):
                for path in visit:
                    listener.calls, listener.on = [], True
                    t0 = time.perf_counter()
                    reply = await web.get(path, headers={"Cookie": f"dsp_session={cookie}"})
                    took = (time.perf_counter() - t0) * 1000
                    listener.on = False
                    if reply.status_code != 200:
                        raise RuntimeError(f"{path}: HTTP {reply.status_code}")
                    splits.setdefault(page_of(path), []).append({"page": took, **split(took, listener.calls)})
            profiler, views = cProfile.Profile(), 0
            profiler.enable()
            for visit, cookie in zip(targets, cookie_of, strict=True):
                for path in visit:
                    await web.get(path, headers={"Cookie": f"dsp_session={cookie}"})
                    views += 1
            profiler.disable()
        return {page: median_split(s) for page, s in splits.items()}, hot(profiler, views)
    finally:
        server.should_exit = True
        await serving
