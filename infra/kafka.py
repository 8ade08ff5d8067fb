"""Apache Kafka 4.x (KRaft, one combined broker/controller) from Maven Central, run with the machine's java.

Secured: clients connect over SASL_PLAINTEXT with SCRAM-SHA-512 (one principal per service, `infra.kafka_acls`),
the StandardAuthorizer denies what no ACL allows, `admin` is the only super user. The controller listener asks
for SASL PLAIN as `admin` (SCRAM cannot authenticate controllers: its credentials live in the metadata they serve).
Passwords are generated once per state folder (mode 600) and never printed."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import shutil
import subprocess
import uuid
from pathlib import Path

from .kafka_acls import ADMIN, PRINCIPALS, Acl, all_acls, group_acls
from .procs import InfraError, held, port_open, read_pid, spawn, stop, wait_port

KAFKA_VERSION = "4.1.1"
POM = Path(__file__).with_name("kafka-pom.xml")
ACCESS_TOOL = Path(__file__).with_name("KafkaAccess.java")
MECHANISM = "SCRAM-SHA-512"


def secret_file(path: Path) -> str:
    """A password generated once (mode 600 from its creation), then read back."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def _jaas(module: str, user: str, password: str, extra: str = "") -> str:
    return f'org.apache.kafka.common.security.{module} required username="{user}" password="{password}"{extra};'


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
    with held(cache_dir / ".maven.lock"):  # one Maven at a time on the local repository (Kafka's, HAPI's jars)
        if not marker.exists():  # or another process fetched them while this one waited
            _fetch(libs, marker)
    return libs


def _fetch(libs: Path, marker: Path) -> None:
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


class KafkaNode:
    def __init__(self, cache_dir: Path, state_dir: Path, port: int, controller_port: int, tied: bool = False) -> None:
        self.cache_dir, self.port, self.controller_port, self.tied = cache_dir, port, controller_port, tied
        self.run_dir = state_dir / "run"
        self.data_dir = state_dir / "kafka-data"
        self.pid_file = self.run_dir / "kafka.pid"
        self.log_file = self.run_dir / "kafka.log"
        self.users_dir = state_dir / "kafka-users"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def password(self, principal: str) -> str:
        """`principal`'s SCRAM password (generated once, mode 600, in the state folder)."""
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,39}", principal):  # the project's, or one a test makes
            raise InfraError(f"not a Kafka principal name: {principal!r}")
        return secret_file(self.users_dir / f"{principal}.password")

    def client_env(self, principal: str) -> dict[str, str]:
        """The DSP_KAFKA_* variables a process connecting as `principal` needs."""
        return {"DSP_KAFKA_BOOTSTRAP": self.bootstrap, "DSP_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "DSP_KAFKA_SASL_MECHANISM": MECHANISM, "DSP_KAFKA_USERNAME": principal,
                "DSP_KAFKA_PASSWORD": self.password(principal)}

    def client_options(self, principal: str = ADMIN) -> dict[str, str]:
        """aiokafka keyword arguments to connect as `principal` (bootstrap included)."""
        return {"bootstrap_servers": self.bootstrap, "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": MECHANISM, "sasl_plain_username": principal,
                "sasl_plain_password": self.password(principal)}

    def properties(self) -> str:
        admin = self.password(ADMIN)
        return "\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"listeners=SASL_PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=SASL_PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
            "inter.broker.listener.name=SASL_PLAINTEXT",
            f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
            f"listener.name.sasl_plaintext.sasl.enabled.mechanisms={MECHANISM}",
            f"listener.name.sasl_plaintext.{MECHANISM.lower()}.sasl.jaas.config="
            + _jaas("scram.ScramLoginModule", ADMIN, admin),
            "sasl.mechanism.controller.protocol=PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
            "listener.name.controller.plain.sasl.jaas.config="
            + _jaas("plain.PlainLoginModule", ADMIN, admin, f' user_{ADMIN}="{admin}"'),
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found=false",
            f"super.users=User:{ADMIN}",
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
        if (self.data_dir / "meta.properties").exists() and not (self.users_dir / f"{ADMIN}.password").exists():
            raise InfraError(f"the Kafka data in {self.data_dir} predates SASL/ACLs (no admin credential in "
                             f"{self.users_dir}): stop everything (python -m infra down) and delete {self.data_dir} "
                             "(local data only) so that it is formatted again with its users")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config = self.run_dir / "server.properties"
        config.touch(mode=0o600)
        config.chmod(0o600)  # it holds the admin password (the broker's own logins)
        config.write_text(self.properties())
        classpath = f"{libs}/*"
        if not (self.data_dir / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            # The super user must exist before the broker starts (the broker logs in to itself as admin); the
            # other users are added through the Admin API once it runs (`apply_access`).
            fmt = subprocess.run(  # noqa: S603 - `--cluster-id=`: an id may start with "-" (1 in 32), not an option
                [java, "-cp", classpath, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                 "-c", str(config), "--add-scram", f"{MECHANISM}=[name={ADMIN},password={self.password(ADMIN)}]"],
                capture_output=True, text=True, check=False,
            )
            if fmt.returncode != 0:
                raise InfraError("kafka storage format failed:\n"
                                 f"{fmt.stdout.replace(self.password(ADMIN), '***')}\n"
                                 f"{fmt.stderr.replace(self.password(ADMIN), '***')}")
        spawn("kafka", [java, "-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                        "-Dorg.slf4j.simpleLogger.showDateTime=true",
                        "-cp", classpath, "kafka.Kafka", str(config)], self.run_dir, die_with_parent=self.tied)
        return wait_port(self.port, timeout, self.pid_file, self.log_file)

    def stop(self) -> bool:
        return stop(self.pid_file, timeout=30.0)

    def _access_tool(self, libs: Path) -> Path:
        """KafkaAccess.java compiled once (per source version) against the broker's jars."""
        digest = hashlib.sha256(ACCESS_TOOL.read_bytes()).hexdigest()[:12]
        out = libs.parent / f"access-{digest}"
        if (out / "KafkaAccess.class").exists():
            return out
        javac = shutil.which("javac")
        if javac is None:
            raise InfraError("javac (a JDK 17+) is needed once, to build the tool that creates Kafka users and ACLs")
        partial = libs.parent / f"access-{digest}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        built = subprocess.run([javac, "-cp", f"{libs}/*", "-d", str(partial), str(ACCESS_TOOL)],  # noqa: S603
                               capture_output=True, text=True, check=False)
        if built.returncode != 0:
            raise InfraError(f"javac KafkaAccess.java failed:\n{built.stderr[-3000:]}")
        shutil.rmtree(out, ignore_errors=True)
        partial.rename(out)
        return out

    def apply(self, acls: list[Acl], users: tuple[str, ...] = (), exact: bool = False) -> str:
        """Create/update `users` (SCRAM) and `acls` as admin; with `exact`, delete the other ACLs of every
        project principal. Secrets go to the tool on stdin, never on a command line."""
        java, libs = _check_java(), install(self.cache_dir)
        tool = self._access_tool(libs)
        lines = [f"config {k}={v}" for k, v in {
            "bootstrap.servers": self.bootstrap, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": MECHANISM,
            "sasl.jaas.config": _jaas("scram.ScramLoginModule", ADMIN, self.password(ADMIN)),
            "request.timeout.ms": "30000", "default.api.timeout.ms": "60000"}.items()]
        lines += [f"exact User:{p}" for p in PRINCIPALS] if exact else []
        lines += [f"user {u} {self.password(u)}" for u in users]
        lines += [acl.line() for acl in acls]
        proc = subprocess.run(  # noqa: S603 - fixed argv; the secrets are on stdin
            [java, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
             "-cp", f"{tool}:{libs}/*", "KafkaAccess"],
            input="\n".join(lines) + "\n", capture_output=True, text=True, check=False, timeout=180)
        if proc.returncode != 0:
            raise InfraError(f"creating Kafka users/ACLs failed: {proc.stderr.strip()[-2000:]}")
        return proc.stdout.strip()

    def apply_access(self, group_prefix: str = "") -> str:
        """Every principal's SCRAM credential and exactly the ACLs of `infra.kafka_acls` (groups: `group_prefix`)."""
        return self.apply(all_acls(group_prefix), users=PRINCIPALS, exact=True)

    def grant_groups(self, group_prefix: str) -> str:
        """The consumer-group ACLs for one more group prefix (the tests isolate runs with prefixes)."""
        return self.apply(group_acls(group_prefix))
