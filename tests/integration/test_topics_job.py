"""compose's `topics` job, run exactly as compose runs it: its argv and environment from compose.yaml, the image's
ENV, a home folder that does not exist and cannot be made (the image's user once had none), no cache folder, not
root's powers — against the test Kafka. Every worker waits for this job to succeed."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.topics import all_topics
from tests.support import ROOT

NOBODY = 65534


def _image_env() -> dict[str, str]:
    """The Dockerfile's ENV lines (PATH's $PATH left to this machine's)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(item.split("=", 1) for item in shlex.split(line[4:])))
    return env


def _demoted(probe_env: dict[str, str]) -> tuple[list[str], str]:
    """A prefix that runs a command without root's powers: as nobody where this interpreter and the repo are
    readable by nobody, else as uid 0 with every capability dropped (permissions then apply to it as to any
    user: it cannot make a folder in a read-only one). Not root: nothing to drop."""
    if os.geteuid() != 0:
        return [], f"uid {os.geteuid()}"
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to run the job without root's powers")
    nobody = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    readable = subprocess.run([*nobody, sys.executable, "-c", "import aiokafka, schemas.topics"], cwd=ROOT,
                              env=probe_env, capture_output=True, timeout=60, check=False)
    if readable.returncode == 0:
        return nobody, "nobody"
    return [setpriv, "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"], "uid 0 without capabilities"


def test_the_topics_job_succeeds_as_compose_runs_it(infra: Any, tmp_path: Path) -> None:
    job = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["topics"]
    argv = job["command"]
    assert argv == ["python", "-m", "infra", "topics"]
    locked = tmp_path / "home-parent"
    locked.mkdir()
    home = locked / "dsp"  # like /home/dsp under a root-owned /home: absent, and cannot be created
    locked.chmod(0o555)
    bindir = str(Path(sys.executable).parent)  # `python` on PATH, as /opt/venv/bin is in the image
    env = {**_image_env(), **job.get("environment", {}), "HOME": str(home), "PATH": f"{bindir}:/usr/bin:/bin",
           "DSP_KAFKA_BOOTSTRAP": infra.bootstrap}
    if infra.local is not None:  # the job's admin login, on this broker: SCRAM (compose's admin logs in with PLAIN)
        env.update({k: v for k, v in infra.local.kafka.client_env("admin").items() if k != "DSP_KAFKA_BOOTSTRAP"})
    else:
        env = {k: v for k, v in env.items() if not k.startswith(("DSP_KAFKA_SASL", "DSP_KAFKA_USER",
                                                                 "DSP_KAFKA_PASS", "DSP_KAFKA_SECURITY"))}
    assert not any(k in env for k in ("DSP_CACHE_DIR", "DSP_STATE_DIR", "XDG_CACHE_HOME"))
    prefix, who = _demoted(env)
    try:
        done = subprocess.run([*prefix, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
                              check=False)
    finally:
        locked.chmod(0o755)
    assert done.returncode == 0, f"as {who}:\n{done.stdout}\n{done.stderr}"
    assert f"all {len(all_topics())} present" in done.stdout, done.stdout
    assert not home.exists()  # no state folder, no cache: nothing written under the home
    assert list(locked.iterdir()) == []



async def _max_bytes(admin: Any, names: list[str]) -> dict[str, str]:
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    found: dict[str, str] = {}
    for response in await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n, {"max.message.bytes": ""})
                                                  for n in names]):
        for _error, _message, _kind, name, entries in response.resources:
            found[name] = next(e[1] for e in entries if e[0] == "max.message.bytes")
    return found


async def test_the_file_topics_take_a_5_mib_file_even_when_they_existed_before(infra: Any) -> None:
    """A file of 5 MiB is 6.7 MiB in base64: the topics that carry files (and their dead-letter twins) take 8 MiB
    records; a topic created before (an older `make run`'s state folder, Kafka's 1 MiB default) is brought to it."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    from infra.local import create_topics
    from schemas.topics import FILE_MESSAGE_BYTES, topic_configs
    from tests.support import kafka_options

    names = sorted(name for name, config in topic_configs().items() if "max.message.bytes" in config)
    assert names == ["lab.results.fhir.v1", "lab.results.fhir.v1.dlq", "lab.results.v1", "lab.results.v1.dlq",
                     "records.commands.v1", "records.commands.v1.dlq"]
    admin = AIOKafkaAdminClient(**kafka_options(infra.bootstrap))
    await admin.start()
    try:
        assert set((await _max_bytes(admin, names)).values()) == {str(FILE_MESSAGE_BYTES)}
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "records.commands.v1.dlq",
                                                  {"max.message.bytes": "1048588"})])  # as created before
        assert (await _max_bytes(admin, ["records.commands.v1.dlq"])) == {"records.commands.v1.dlq": "1048588"}
        assert await create_topics(infra.bootstrap, options=kafka_options(infra.bootstrap)) == []
        assert set((await _max_bytes(admin, names)).values()) == {str(FILE_MESSAGE_BYTES)}
    finally:
        await admin.close()
