"""The README's run command: infrastructure, every worker and the demo laboratory, stopped by Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from selenium.webdriver.common.by import By

from infra.procs import free_port, port_open
from tests.browser import Person, chromium
from tests.support import ROOT, rss_kib


def console_login(port: int, name: str, password: str) -> int:
    """The status of a login through the console's form (303: logged in), once the console answers."""
    deadline = time.monotonic() + 60
    while not port_open(port) and time.monotonic() < deadline:
        time.sleep(0.5)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        form = client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token, form.text
        return client.post("/login", data={"csrf": token[1], "name": name, "password": password}).status_code


def inbox(env: dict[str, str]) -> dict[str, str]:
    """What `make inbox` prints of the demo patient: matricule, e-mail, the letter's code, the last one-time code."""
    said = subprocess.run([sys.executable, "-m", "demo.inbox"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=True).stdout
    found = {"matricule": re.search(r"matricule (\d{13})", said), "email": re.search(r"e-mail (\S+@\S+)", said),
             "code": re.search(r"activation code on it: (\S+)", said),
             "otp": re.search(r"one-time code e-mailed: (\d{6})", said)}
    return {k: m.group(1) for k, m in found.items() if m}


def newcomer_reaches_her_dsp(portal: str, env: dict[str, str], started: float) -> dict[str, str]:
    """The README's walk: `make inbox`, then at the browser the quick guide (the proof of work instead of the image:
    a test cannot read it), the code e-mailed, the first login, and her DSP with the demo laboratory's results.
    Returns the browser's cookies at the end (her session: the fleet test goes on with it)."""
    deadline = time.monotonic() + 120
    while "code" not in (found := inbox(env)) and time.monotonic() < deadline:
        time.sleep(1)
    assert "code" in found, found
    with chromium() as driver:
        person = Person(driver, portal)
        person.open("/activate").tick("accept").press("accept-terms")
        person.type("matricule", found["matricule"]).type("activation_code", found["code"]).press("altcha-instead")
        person.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '.altcha[data-solved="true"]'))
        person.press("next-step").sees("Étape 2 sur 5")
        person.type("password", "Moselle-Vines-2026").type("password_confirm", "Moselle-Vines-2026")
        person.press("set-password").sees("Étape 3 sur 5")
        person.tick("channel-email").type("email", found["email"]).press("choose-channel")
        person.type("code", _new_code(env, None)).press("verify-code")
        person.press("skip-luxtrust").press("confirm").sees("Votre activation est terminée")
        last = inbox(env).get("otp")
        person.press("to-login").type("matricule", found["matricule"]).type("password", "Moselle-Vines-2026")
        person.press("login").type("code", _new_code(env, last)).press("verify")
        assert person.path == "/home", person.text[:300]
        person.sees("Anne Muller", "Hémogramme", within_s=60)
        print(f"a newcomer reached her DSP {time.monotonic() - started:.0f} s after `make run` started")
        return {c["name"]: c["value"] for c in driver.get_cookies()}


def _new_code(env: dict[str, str], old: str | None) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        code = inbox(env).get("otp")
        if code and code != old:
            return code
        time.sleep(0.5)
    raise AssertionError("no new one-time code e-mailed to the demo patient within 60 s")


SERVICES = ("records", "activation", "access", "notify", "gateway", "console")


def test_run_brings_up_the_mesh_stores_demo_results_and_stops_everything(tmp_path: Path) -> None:
    ports = {f"DSP_{n}_HTTP_PORT": str(free_port()) for n in ("RECORDS", "ACTIVATION", "ACCESS", "NOTIFY")}
    gateway, console = free_port(), free_port()
    kafka_port, mongo_port = free_port(), free_port()
    env = {**os.environ, **ports, "DSP_STATE_DIR": str(tmp_path), "DSP_KAFKA_PORT": str(kafka_port),
           "DSP_KAFKA_CONTROLLER_PORT": str(free_port()), "DSP_MONGO_PORT": str(mongo_port), "PYTHONUNBUFFERED": "1",
           "DSP_SMTP_SINK_PORT": str(free_port()), "DSP_SMS_SINK_PORT": str(free_port()),
           "DSP_GATEWAY_HTTP_PORT": str(gateway), "DSP_CONSOLE_HTTP_PORT": str(console)}
    env.pop("DSP_KAFKA_BOOTSTRAP", None)
    env.pop("DSP_MONGO_URI", None)
    out = tmp_path / "run.out"
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "infra", "run"], cwd=ROOT, env=env,
                            stdout=out.open("wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        stored = 0
        while time.monotonic() < deadline and stored == 0:
            time.sleep(1)
            assert proc.poll() is None, out.read_text()
            counts = re.findall(r"lab results stored: (\d+)\s+dead-lettered: (\d+)\s+workers up: 4/4", out.read_text())
            stored = int(counts[-1][0]) if counts else 0
        text = out.read_text()
        assert stored > 0, text  # records stores only signed results: the demo laboratories sign theirs
        keys = sorted((tmp_path / "lab-keys").glob("*.key"))  # one key per demo laboratory, made once, mode 600
        assert [k.name for k in keys] == ["LAB-BIONEXT.key", "LAB-KETTERTHILL.key", "LAB-LNS.key"]
        assert all(k.stat().st_mode & 0o777 == 0o600 for k in keys)
        for port in ports.values():
            assert f"http://127.0.0.1:{port}/health/ready" in text
        pids = [int(p.read_text()) for p in (tmp_path / "run").glob("*.pid")]
        assert len(pids) == 11  # kafka, ferretdb, 4 workers, gateway, console, demo laboratory, SMTP and SMS sinks
        assert f"http://127.0.0.1:{gateway}/docs" in text
        password = tmp_path / "console-operator.password"  # the local console operator, created once
        assert f"console login: http://127.0.0.1:{console}/login as 'operator' (replayer), password in {password}" \
            in text
        assert password.stat().st_mode & 0o777 == 0o600
        assert console_login(console, "operator", password.read_text().strip()) == 303
        while time.monotonic() < deadline + 60 and not list((tmp_path / "letters").glob("*.pdf")):
            time.sleep(1)  # the demo registry's persons get their activation letters
        assert list((tmp_path / "letters").glob("*.pdf")), text
        assert f"web portal (myDSP): http://127.0.0.1:{gateway}/" in text and "make inbox" in text
        newcomer_reaches_her_dsp(f"http://127.0.0.1:{gateway}", env, started)
        rss = {name: rss_kib(int((tmp_path / "run" / f"{name}.pid").read_text())) for name in SERVICES}
        assert max(rss.values()) < 150 * 1024, rss  # each worker's resident memory, demo data in and a walk done
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)
    assert ("[mesh] stopped: records, activation, access, notify, gateway, console, demo-laboratory, smtp-sink, "
            "sms-sink, kafka, ferretdb") in out.read_text()
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"process {pid} survived the stop")
    assert not port_open(kafka_port) and not port_open(mongo_port)


def test_run_exits_when_its_mesh_is_stopped_from_another_shell(tmp_path: Path) -> None:
    """`make down` elsewhere: the supervisor says so and exits, instead of printing `workers up: 0/4` forever."""
    env = {**os.environ, "DSP_STATE_DIR": str(tmp_path), "DSP_KAFKA_PORT": str(free_port()),
           "DSP_KAFKA_CONTROLLER_PORT": str(free_port()), "DSP_MONGO_PORT": str(free_port()), "PYTHONUNBUFFERED": "1",
           "DSP_SMTP_SINK_PORT": str(free_port()), "DSP_SMS_SINK_PORT": str(free_port()),
           "DSP_GATEWAY_HTTP_PORT": str(free_port()), "DSP_CONSOLE_HTTP_PORT": str(free_port()),
           **{f"DSP_{n}_HTTP_PORT": str(free_port()) for n in ("RECORDS", "ACTIVATION", "ACCESS", "NOTIFY")}}
    env.pop("DSP_KAFKA_BOOTSTRAP", None)
    env.pop("DSP_MONGO_URI", None)
    out = tmp_path / "run.out"
    proc = subprocess.Popen([sys.executable, "-m", "infra", "run"], cwd=ROOT, env=env,
                            stdout=out.open("wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while "workers up: 4/4" not in out.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, out.read_text()
            time.sleep(1)
        down = subprocess.run([sys.executable, "-m", "infra", "down"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert down.returncode == 0, down.stdout + down.stderr
        assert proc.wait(timeout=10) == 0  # looked for every second
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=90)
    said = out.read_text()
    assert "[mesh] the mesh was stopped from elsewhere (make down)" in said
    assert "[mesh] stopped: nothing was left running" in said
    assert "Unable connect to node" not in said and "Unable to update metadata" not in said  # the client kept quiet
