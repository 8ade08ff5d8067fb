"""Local stand-ins for the outside world notify talks to — real servers on loopback, not mocks:

- an SMTP server (aiosmtpd) that stores every message it accepts in a Maildir;
- an HTTP SMS gateway that checks its bearer token and appends every SMS to a JSON-lines file
  (`GET /messages` lists them).

`python -m infra.sinks smtp --port 2525 --maildir DIR` · `python -m infra.sinks sms --port 8125 --file F`
(`make run` starts both; the tests start them in-process and read them back).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mailbox
import signal
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class SmtpSink:
    def __init__(self, port: int, maildir: Path) -> None:
        maildir.parent.mkdir(parents=True, exist_ok=True)
        mailbox.Maildir(str(maildir), create=True)  # tmp/, new/, cur/
        self.maildir = maildir
        self.controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=port)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def messages(self) -> list[mailbox.MaildirMessage]:
        return list(mailbox.Maildir(str(self.maildir), create=False))


class SmsSink:
    def __init__(self, port: int, path: Path, token: str = "local-sms-sink",  # noqa: S107 - a local sink
                 host: str = "127.0.0.1") -> None:
        self.port, self.path, self.token, self.host = port, path, token, host
        self.server: asyncio.Server | None = None

    async def start(self) -> SmsSink:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.server = await asyncio.start_server(self._serve, self.host, self.port)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def messages(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await reader.readline()
                if not request:
                    break
                method, target, _ = request.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, payload = self._answer(method, target, headers, body)
                data = json.dumps(payload).encode()
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                             f"content-length: {len(data)}\r\n\r\n".encode() + data)
                await writer.drain()
        except (ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if method == "GET" and target == "/messages":
            return 200, self.messages()
        if method != "POST" or target != "/sms":
            return 404, {"detail": "POST /sms or GET /messages"}
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"detail": "bad token"}
        try:
            sms = json.loads(body)
            record = {"to": str(sms["to"]), "text": str(sms["text"]), "reference": str(sms.get("reference", ""))}
        except (ValueError, KeyError, TypeError):
            return 400, {"detail": "expected JSON {to, text, reference}"}
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return 202, {"status": "accepted"}


async def _run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    if args.kind == "smtp":
        smtp = SmtpSink(args.port, Path(args.maildir)).start()
        print(f"SMTP sink on 127.0.0.1:{args.port}, Maildir {args.maildir}", flush=True)
        await stop.wait()
        smtp.stop()
    else:
        sms = await SmsSink(args.port, Path(args.file), args.token, args.host).start()
        print(f"SMS sink on http://127.0.0.1:{args.port}/sms, file {args.file}", flush=True)
        await stop.wait()
        await sms.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["smtp", "sms"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1", help="the SMS sink's address (0.0.0.0 in a container)")
    parser.add_argument("--maildir", default="maildir")
    parser.add_argument("--file", default="sms.jsonl")
    parser.add_argument("--token", default="local-sms-sink")
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
