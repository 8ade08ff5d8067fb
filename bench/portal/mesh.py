"""The mesh the portal bench drives: records, activation, access, notify and the gateway as their own processes
(`python -m services.<name>`, as `make run` starts them) on the bench's own infrastructure, with an SMTP sink for
notify's e-mails. Every key is new for the run; the bench keeps notify's private sealing key to read the codes
(as bench.login does) and the gateway's environment to run a second, instrumented gateway in its own process."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import Endpoints, records_key
from infra.procs import free_port
from services.kit.sealing import new_keypair
from services.kit.servicetokens import new_key, private_key, public_b64

WORKERS = ("records", "activation", "access", "notify")
SERVICES = (*WORKERS, "gateway")


@dataclass
class Mesh:
    ends: Endpoints
    folder: Path
    prefix: str = field(default_factory=lambda: f"bench{secrets.token_hex(3)}")
    ports: dict[str, int] = field(default_factory=lambda: {name: free_port() for name in (*SERVICES, "smtp")})
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.seal_private, seal_public = new_keypair()
        self.portal_key = secrets.token_hex(24)  # the same for the bench's own gateway: one portal
        self.keys = {name: records_key() if name == "records" else new_key()[0] for name in SERVICES}
        publics = ",".join(f"{name}={public_b64(private_key(seed))}" for name, seed in self.keys.items())
        self.common = {
            "DSP_KAFKA_BOOTSTRAP": self.ends.bootstrap, "DSP_MONGO_URI": self.ends.mongo_uri,
            "DSP_MONGO_DB_PREFIX": self.prefix, "DSP_KAFKA_GROUP_PREFIX": f"{self.prefix}-",
            "DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24), "DSP_NOTIFY_PUBLIC_KEY": seal_public,
            "DSP_SERVICE_PUBLIC_KEYS": publics, "DSP_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
            **{f"DSP_{name.upper()}_HTTP_PORT": str(self.ports[name]) for name in SERVICES}}
        self.own = {
            "activation": {"DSP_ACTIVATION_CODE_KEY": secrets.token_hex(24)},
            "access": {"DSP_ACCESS_AUDIT_KEY": secrets.token_hex(32), "DSP_ACCESS_AUDIT_SIGNING_KEY": new_key()[0]},
            "notify": {"DSP_NOTIFY_SEAL_KEY": self.seal_private, "DSP_NOTIFY_SMTP_PORT": str(self.ports["smtp"]),
                       "DSP_NOTIFY_SMS_URL": f"http://127.0.0.1:{free_port()}/sms",  # e-mail only in this bench
                       "DSP_NOTIFY_LETTER_DIR": str(self.folder / "letters")},
            "gateway": self.gateway_env(self.ports["gateway"]),
        }

    def gateway_env(self, port: int) -> dict[str, str]:
        """A gateway's own settings: the workers' addresses; every patient comes through 127.0.0.1 as through a
        reverse proxy, with her own address in X-Forwarded-For; the per-session limit on /v1/me/ is raised (a
        crowd of 200 sessions at 400 pages/s is 2 pages/s each, and a page makes 2-3 API calls) but still
        counted, so its cost stays in the figures."""
        url = {name: f"http://127.0.0.1:{self.ports[name]}" for name in WORKERS}
        return {"DSP_GATEWAY_HTTP_PORT": str(port), "DSP_GATEWAY_SECURE_COOKIES": "false",
                "DSP_GATEWAY_TRUSTED_PROXIES": "127.0.0.1", "DSP_GATEWAY_SESSION_RATE_LIMIT_PER_MINUTE": "1000000",
                "DSP_GATEWAY_PORTAL_KEY": self.portal_key, "DSP_GATEWAY_API_DOCS": "false",
                **{f"DSP_GATEWAY_{name.upper()}_URL": url[name] for name in WORKERS}}

    def env(self, name: str) -> dict[str, str]:
        return {**os.environ, **self.common, "DSP_SERVICE_KEY": self.keys[name], **self.own.get(name, {})}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    async def start(self) -> None:
        self.procs["smtp"] = subprocess.Popen(  # noqa: ASYNC220, S603 - started once, argv built here
            [sys.executable, "-m", "infra.sinks", "smtp", "--port", str(self.ports["smtp"]), "--maildir",
             str(self.folder / "maildir")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name in SERVICES:
            self.procs[name] = subprocess.Popen(  # noqa: ASYNC220, S603 - started once, argv built here
                [sys.executable, "-m", f"services.{name}"], env=self.env(name),
                stdout=(self.folder / f"{name}.log").open("wb"), stderr=subprocess.STDOUT)
        async with httpx.AsyncClient(timeout=5) as client:
            for name in SERVICES:
                for _ in range(600):
                    if self.procs[name].poll() is not None:
                        raise SystemExit(f"{name} stopped:\n{self.log(name)}")
                    try:
                        if (await client.get(f"{self.url(name)}/health/ready")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.2)
                else:
                    raise SystemExit(f"{name} not ready in 120 s:\n{self.log(name)}")

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
