"""deploy/'s pods run on a read-only root filesystem (readOnlyRootFilesystem: true), with nothing writable but what
their Deployment mounts: an emptyDir at /tmp and, for notify, the letters volume.

Each process of the mesh runs as a real process in its own mount namespace (`unshare --mount`) where every mount
is remounted read-only but /tmp and notify's letters folder — the container's view — on the real Kafka and
FerretDB. A registry person flows to activation, whose letter request notify prints as a PDF into its pod's own
folder of the volume (as deploy/notify.yaml's DSP_NOTIFY_LETTER_DIR=/letters/$(POD_NAME) has it); the portal's
pages, a captcha image and an ALTCHA challenge, the console's login page answer; no process meets a read-only
file system.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.procs import free_port
from tests.support import (
    ROOT,
    Worker,
    make_matricule,
    skip_history,
)

# The container's view, for the command after it: every mount read-only (a failure is exit 97, never ignored);
# then the folders of $RW (colon-separated: /tmp, the emptyDir, and a volume) writable again, and those of $RO
# (the code and the Python environment, wherever a clone put them: under /tmp too) read-only again.
READ_ONLY = r"""
for mp in $(awk '{print $5}' /proc/self/mountinfo | sort -u); do
  case "$mp" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue;; esac
  mount -o remount,bind,ro "$mp" || { echo "cannot make $mp read-only" >&2; exit 97; }
done
IFS=:
for dir in $RW; do mount --bind "$dir" "$dir" && mount -o remount,bind,rw "$dir" || exit 97; done
for dir in $RO; do mount --bind "$dir" "$dir" && mount -o remount,bind,ro "$dir" || exit 97; done
unset IFS RW RO
exec "$@"
"""
REFUSED = ("Read-only file system", "Errno 30", "PermissionError", "Permission denied")


def read_only(*command: str) -> list[str]:
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", READ_ONLY, "read-only", *command]


def mounts_env(volume: Path | None = None) -> dict[str, str]:
    """The emptyDir (/tmp) and the volume writable; the repository and the venv read-only wherever they are."""
    code = [str(ROOT), str(Path(sys.prefix).resolve())]
    return {"RW": ":".join(["/tmp", *([str(volume)] if volume else [])]), "RO": ":".join(code)}  # noqa: S108


class ReadOnlyWorker(Worker):
    """`python -m services.<name>` as the pod runs it: a read-only root, /tmp and `writable` only."""

    def __init__(self, service: str, env: dict[str, str], log_path: Path, writable: Path | None = None) -> None:
        super().__init__(service, env, log_path)
        self.writable = writable

    def launch(self) -> Worker:
        env, extra = self.environment(), mounts_env(self.writable)
        self.proc = subprocess.Popen(read_only(sys.executable, "-m", f"services.{self.service}"), cwd=ROOT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
                                          **env, **extra},
                                     stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT)
        return self

    def ready(self, within_s: float = 90.0) -> ReadOnlyWorker:
        assert self.proc is not None
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.service} exited with {self.proc.returncode}:\n{self.logs()[-3000:]}")
            if self.http("/health/ready")[0] == 200:
                return self
            time.sleep(0.3)
        raise AssertionError(f"{self.service} not ready within {within_s}s:\n{self.logs()[-3000:]}")


def test_the_wrapper_makes_the_root_read_only_but_tmp_and_the_volume(tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    probe = (f"touch {ROOT}/.read-only-probe 2>/dev/null && echo code-writable; "
             f"touch {Path(sys.prefix).resolve()}/.read-only-probe 2>/dev/null && echo venv-writable; "
             "touch /etc/.read-only-probe 2>/dev/null && echo etc-writable; "
             f"touch /tmp/.read-only-probe-{os.getpid()} && echo tmp-ok; touch {volume}/x && echo volume-ok")
    done = subprocess.run(read_only("sh", "-c", probe), capture_output=True, text=True, timeout=30, check=False,
                          env={**os.environ, **mounts_env(volume)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["tmp-ok", "volume-ok"], done.stdout + done.stderr
    assert not (ROOT / ".read-only-probe").exists() and (volume / "x").exists()
    Path(f"/tmp/.read-only-probe-{os.getpid()}").unlink()  # noqa: S108


@pytest.fixture(scope="module")
def pods(worker_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("read-only-pods")
    letters = tmp / "letters"  # the ReadWriteMany claim, mounted at /letters in the pod (writable as /tmp is)
    letters.mkdir()
    notify_dir = yaml.safe_load_all((ROOT / "deploy" / "notify.yaml").read_text())
    deployment = next(d for d in notify_dir if d and d["kind"] == "Deployment")
    letter_dir = next(e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
                      if e["name"] == "DSP_NOTIFY_LETTER_DIR")
    assert letter_dir == "/letters/$(POD_NAME)"
    ports = {name: free_port() for name in ("records", "activation", "access", "notify", "gateway", "console")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    own: dict[str, dict[str, str]] = {
        "notify": {"DSP_NOTIFY_LETTER_DIR": str(letters / "notify-7d9f8b6c5-x2x4q")},
        "gateway": {f"DSP_GATEWAY_{w.upper()}_URL": urls[w] for w in ("activation", "access", "records", "notify")},
        "console": {"DSP_CONSOLE_WORKER_URLS": ",".join(f"{w}={urls[w]}" for w in
                                                        ("records", "activation", "access", "notify"))},
    }
    # a mesh of their own: their own consumer groups and databases (the session's other workers keep theirs)
    alone = {"DSP_KAFKA_GROUP_PREFIX": f"{worker_env['DSP_KAFKA_GROUP_PREFIX']}ro-",
             "DSP_MONGO_DB_PREFIX": f"{worker_env['DSP_MONGO_DB_PREFIX']}ro"}
    started = {name: ReadOnlyWorker(name, {**worker_env, **alone, f"DSP_{name.upper()}_HTTP_PORT": str(port),
                                           **own.get(name, {})}, tmp / f"{name}.log",
                                    letters if name == "notify" else None)
               for name, port in ports.items()}
    # started where the run is: replaying what the other modules published (the chaos run's thousands of results
    # and notices) is not what this test is about, and took notify past the minute its letter is given
    asyncio.run(skip_history(worker_env["DSP_KAFKA_BOOTSTRAP"],
                             [f"{alone['DSP_KAFKA_GROUP_PREFIX']}{name}" for name in ports]))
    try:
        for worker in started.values():
            worker.launch()
        for worker in started.values():
            worker.ready()
        yield {"workers": started, "letters": letters}
    finally:
        for worker in started.values():
            worker.stop()


def fetch(worker: Worker, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{worker.port}{path}", data=body,
                                     headers={"Content-Type": "application/json"} if body is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:  # noqa: S310 - a fixed http:// URL
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def test_every_process_works_on_a_read_only_root(pods: dict[str, Any], infra: Any, unique: str,
                                                 kafka_send: Callable[..., None]) -> None:
    workers: dict[str, ReadOnlyWorker] = pods["workers"]
    matricule = make_matricule(date(1990, 6, 5), int(unique[:3], 16) % 1000)
    person = {"message_id": f"reg-{unique}", "matricule": matricule, "given_name": "Lena", "family_name": "Schmit",
              "birth_date": "1990-06-05", "email": "lena.schmit@example.lu", "mobile": "+352621000111",
              "postal_address": {"line1": "3 rue du Nord", "postal_code": "L-2229", "locality": "Luxembourg"}}
    kafka_send("registry.persons.v1", json.dumps(person).encode(), matricule.encode())
    folder = pods["letters"] / "notify-7d9f8b6c5-x2x4q"  # made by notify itself, in the volume
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(folder.glob("*.pdf")):
        time.sleep(0.5)
    letters = list(folder.glob("*.pdf"))
    assert letters and letters[0].read_bytes().startswith(b"%PDF"), workers["notify"].logs()[-3000:]
    assert (folder / "manifest.jsonl").exists()
    gateway, console = workers["gateway"], workers["console"]
    for path in ("/", "/login", "/activate", "/pro/login", "/openapi.json"):
        assert fetch(gateway, path)[0] == 200, path
    captcha = fetch(gateway, "/v1/activation/captcha", b"{}")
    assert captcha[0] == 200 and len(captcha[1]) > 1000, captcha  # an image, drawn on a read-only root
    assert fetch(gateway, "/v1/activation/altcha", b"{}")[0] == 200
    assert fetch(console, "/login")[0] == 200
    for name, worker in workers.items():
        assert worker.http("/health/ready")[0] == 200, name
        logs = worker.logs()
        assert not [word for word in REFUSED if word in logs], f"{name}:\n{logs[-3000:]}"


@pytest.fixture
def kafka_send(infra: Any) -> Callable[..., None]:
    import asyncio

    from aiokafka import AIOKafkaProducer

    def send(topic: str, value: bytes, key: bytes) -> None:
        async def go() -> None:
            producer = AIOKafkaProducer(**infra.kafka, acks="all")
            await producer.start()
            try:
                await producer.send_and_wait(topic, value, key=key)
            finally:
                await producer.stop()

        asyncio.run(go())

    return send
