"""HAPI FHIR's validator and generic client (Maven Central, `ca.uhn.hapi.fhir`), for checking what dsp-mesh produces
in FHIR R4 with software nobody here wrote.

The jars are resolved once into the project cache with Maven (as Kafka's are, `infra.kafka`) and the two small
programs in `infra/hapi/` are compiled against them with javac. `FhirValidator` runs `FhirCheck` as one long-lived
process (the validator takes ~10 s to load R4's definitions) and validates one resource per call; `client_check`
runs `FhirClientCheck`, HAPI's generic client reading the DSP as a practice's software would:

    with FhirValidator() as hapi:
        assert hapi.errors(resource) == []
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from .local import cache_dir
from .procs import InfraError, held

HERE = Path(__file__).parent / "hapi"
POM, SOURCES = HERE / "pom.xml", (HERE / "FhirCheck.java", HERE / "FhirClientCheck.java")
HAPI_VERSION = "8.8.1"


def install(cache: Path | None = None) -> str:
    """The Java classpath of the compiled checker (jars fetched and source compiled the first time only)."""
    cache = cache or cache_dir()
    libs = cache / f"hapi-{HAPI_VERSION}" / "libs"
    with held(cache / ".maven.lock"):  # one Maven (and one javac into the same folder) at a time
        return _install(libs)


def _install(libs: Path) -> str:
    if not (libs.parent / "complete").exists():
        mvn = shutil.which("mvn")
        if mvn is None:
            raise InfraError("Maven (mvn) is required once, to fetch HAPI FHIR's jars from Maven Central")
        print(f"[infra] fetching HAPI FHIR {HAPI_VERSION} jars from Maven Central into {libs} ...", file=sys.stderr,
              flush=True)
        libs.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(  # noqa: S603
            [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", "-DincludeScope=runtime",
             f"-DoutputDirectory={libs}"], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise InfraError(f"mvn could not fetch HAPI FHIR:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        (libs.parent / "complete").touch()
    source_id = hashlib.sha256(b"".join(source.read_bytes() for source in SOURCES)).hexdigest()[:12]
    classes = libs.parent / f"classes-{source_id}"  # recompiled when a source changes
    if not (classes / "FhirCheck.class").exists():
        javac = shutil.which("javac")
        if javac is None:
            raise InfraError("a JDK (javac) is required once, to compile infra/hapi/*.java")
        partial = classes.with_name(classes.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        proc = subprocess.run([javac, "-cp", f"{libs}/*", "-d", str(partial), *map(str, SOURCES)],  # noqa: S603
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise InfraError(f"javac infra/hapi/*.java failed:\n{proc.stderr[-3000:]}")
        shutil.rmtree(classes, ignore_errors=True)
        partial.rename(classes)
    return f"{classes}:{libs}/*"


class FhirValidator:
    """One HAPI validator process; `validate` answers the validator's messages for one resource."""

    def __init__(self, cache: Path | None = None) -> None:
        self.classpath = install(cache)
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> FhirValidator:
        java = shutil.which("java")
        if java is None:
            raise InfraError("Java 17+ is required to run HAPI FHIR's validator")
        self.proc = subprocess.Popen(  # noqa: S603
            [java, "-Xmx768m", "-cp", self.classpath, "FhirCheck"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, encoding="utf-8")
        if self._line() != {"ready": True}:
            raise InfraError("HAPI FHIR's validator did not start")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.proc is not None:
            self._pipes()[0].close()
            self.proc.wait(timeout=30)

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        if self.proc is None or self.proc.stdin is None or self.proc.stdout is None:
            raise InfraError("use FhirValidator as a context manager")
        return self.proc.stdin, self.proc.stdout

    def _line(self) -> Any:
        line = self._pipes()[1].readline()
        if not line:
            raise InfraError("HAPI FHIR's validator stopped")
        return json.loads(line)

    def validate(self, resource: dict[str, Any] | str) -> list[dict[str, str]]:
        """Every message (severity: fatal, error, warning, information; location; message)."""
        stdin = self._pipes()[0]
        text = resource if isinstance(resource, str) else json.dumps(resource, ensure_ascii=False)
        stdin.write(text.replace("\n", " ") + "\n")
        stdin.flush()
        messages: list[dict[str, str]] = self._line()
        return messages

    def errors(self, resource: dict[str, Any] | str) -> list[dict[str, str]]:
        """The messages that make the resource invalid (fatal and error)."""
        return [m for m in self.validate(resource) if m["severity"] in ("fatal", "error")]


def client_check(base: str, token: str, matricule: str, blocked: str | None = None, timeout_s: float = 120) -> Any:
    """What HAPI's generic client saw reading `matricule`'s DSP at `base` with `token` (`FhirClientCheck.java`)."""
    java = shutil.which("java")
    if java is None:
        raise InfraError("Java 17+ is required to run HAPI FHIR's client")
    proc = subprocess.run(  # noqa: S603
        [java, "-Xmx512m", "-cp", install(), "FhirClientCheck", base, token, matricule, *filter(None, [blocked])],
        capture_output=True, text=True, check=False, timeout=timeout_s)
    if proc.returncode != 0:
        raise InfraError(f"HAPI's client failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
