"""Apache Kafka 4.x (KRaft, one combined broker/controller) from Maven Central, run with the machine's java."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from .procs import InfraError, port_open, read_pid, spawn, stop, wait_port

KAFKA_VERSION = "4.1.1"
POM = Path(__file__).with_name("kafka-pom.xml")


def _check_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise InfraError("Java 17+ is required to run Kafka: install it (e.g. apt-get install openjdk-17-jre-headless)")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr  # noqa: S603
    match = re.search(r'version "(\d+)', out)
    if match is None or int(match.group(1)) < 17:
        raise InfraError(f"Kafka 4.x needs Java 17 or newer; found: {out.splitlines()[0] if out else 'unknown'}")
    return java


def install(cache_dir: Path) -> Path:
    """Resolve the broker's runtime jars once into the cache; returns the libs folder."""
    libs = cache_dir / f"kafka-{KAFKA_VERSION}" / "libs"
    marker = libs.parent / "complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraError("Maven (mvn) is required once, to fetch the Kafka jars from Maven Central")
    print(f"[infra] fetching Apache Kafka {KAFKA_VERSION} jars from Maven Central into {libs} ...", flush=True)
    libs.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(  # noqa: S603
        [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
         "-DincludeScope=runtime", f"-DoutputDirectory={libs}"],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0 or not (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        raise InfraError(f"mvn could not fetch Kafka:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    marker.touch()
    return libs


class KafkaNode:
    def __init__(self, cache_dir: Path, state_dir: Path, port: int, controller_port: int) -> None:
        self.cache_dir, self.port, self.controller_port = cache_dir, port, controller_port
        self.run_dir = state_dir / "run"
        self.data_dir = state_dir / "kafka-data"
        self.pid_file = self.run_dir / "kafka.pid"
        self.log_file = self.run_dir / "kafka.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def properties(self) -> str:
        return "\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
            f"log.dirs={self.data_dir}",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=8",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            "num.partitions=1",
            "",
        ])

    def running(self) -> bool:
        return read_pid(self.pid_file) is not None

    def start(self, timeout: float = 60.0) -> float:
        java = _check_java()
        libs = install(self.cache_dir)
        if self.running():
            return 0.0
        for port in (self.port, self.controller_port):
            if port_open(port):
                raise InfraError(f"port {port} is taken by another process: stop it or set DSP_KAFKA_PORT/"
                                 "DSP_KAFKA_CONTROLLER_PORT")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config = self.run_dir / "server.properties"
        config.write_text(self.properties())
        classpath = f"{libs}/*"
        if not (self.data_dir / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            fmt = subprocess.run(  # noqa: S603 - `--cluster-id=`: an id may start with "-" (1 in 32), not an option
                [java, "-cp", classpath, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                 "-c", str(config)], capture_output=True, text=True, check=False,
            )
            if fmt.returncode != 0:
                raise InfraError(f"kafka storage format failed:\n{fmt.stdout}\n{fmt.stderr}")
        spawn("kafka", [java, "-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                        "-Dorg.slf4j.simpleLogger.showDateTime=true",
                        "-cp", classpath, "kafka.Kafka", str(config)], self.run_dir)
        return wait_port(self.port, timeout, self.pid_file, self.log_file)

    def stop(self) -> bool:
        return stop(self.pid_file, timeout=30.0)
