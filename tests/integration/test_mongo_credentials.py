"""MongoDB's door on the local FerretDB v1.24.2 (`--test-enable-new-auth`): who may connect, and what it does not
check. FerretDB v1 authenticates (SCRAM-SHA-256, users it stores itself) but does not authorize: `createUser` refuses
every role, and any authenticated user reads and writes every database. The tests assert that real behaviour;
compose's `mongo` (infra/mongo-init) is where each user is confined to readWrite on its own database."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

from infra import mesh
from infra.ferretdb import ADMIN_USER, MONGO_SERVICES, FerretNode
from services.kit.mongo import make_client
from services.records.app import RecordsSettings
from tests.inprocess import settings_from

from .conftest import Infra

UNAUTHORIZED, AUTHENTICATION_FAILED = 13, 18  # MongoDB's error codes, which FerretDB answers with


@pytest.fixture(scope="module")
def ferret(infra: Infra) -> FerretNode:
    if infra.local is None:
        pytest.skip(f"the infrastructure is {infra.mode!r}, not the project's own FerretDB")
    return infra.local.ferret


def as_user(ferret: FerretNode, user: str, password: str | None = None) -> AsyncMongoClient[dict[str, Any]]:
    """A client as a service does it (services.kit.mongo), on the bare address."""
    return make_client(ferret.uri, f"test-{user}", user, SecretStr(password or ferret.password(user)))


@pytest.fixture
async def lab_result(mongo: AsyncMongoClient[dict[str, Any]], run_id: str,
                     unique: str) -> AsyncIterator[dict[str, Any]]:
    """A lab result in records' database, written by the admin (the tests' own client)."""
    doc = {"_id": f"lab-{unique}", "document_type": "lab-result", "patient_matricule": "1893120105732",
           "title": "Sérologie VIH", "value_text": "Positive"}
    await mongo[f"{run_id}_records"]["documents"].insert_one(doc)
    yield doc
    await mongo[f"{run_id}_records"]["documents"].delete_one({"_id": doc["_id"]})


async def test_a_client_without_credentials_is_refused_every_command_but_the_handshake(
        ferret: FerretNode, run_id: str, lab_result: dict[str, Any]) -> None:
    anonymous: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ferret.uri, serverSelectionTimeoutMS=5000)
    try:
        assert (await anonymous.admin.command("ping"))["ok"] == 1  # the handshake commands stay open
        documents = anonymous[f"{run_id}_records"]["documents"]
        for attempt in (documents.find_one({"_id": lab_result["_id"]}), documents.insert_one({"forged": True}),
                        anonymous.list_database_names(), anonymous["admin"].command("createUser", "intruder",
                                                                                    pwd="x" * 20, roles=[])):
            with pytest.raises(OperationFailure) as refused:
                await attempt
            assert refused.value.code == UNAUTHORIZED and "requires authentication" in str(refused.value)
    finally:
        await anonymous.close()


async def test_a_wrong_password_or_an_unknown_user_is_refused(ferret: FerretNode, run_id: str,
                                                              lab_result: dict[str, Any]) -> None:
    for user, password in (("records", "not-the-password-of-records"), ("records", ferret.password("access")),
                           ("mallory", "a-password-nobody-has-got")):
        client = as_user(ferret, user, password)
        try:
            with pytest.raises(OperationFailure) as refused:
                await client[f"{run_id}_records"]["documents"].find_one({"_id": lab_result["_id"]})
            assert refused.value.code == AUTHENTICATION_FAILED, (user, refused.value)
        finally:
            await client.close()


async def test_each_service_reads_and_writes_its_own_database_as_its_own_user(ferret: FerretNode, run_id: str,
                                                                              unique: str) -> None:
    for service in MONGO_SERVICES:
        client = as_user(ferret, service)
        try:
            status = await client.admin.command("connectionStatus")
            assert status["authInfo"]["authenticatedUsers"] == [{"user": service, "db": "admin"}]
            own = client[f"{run_id}_{service}"][f"credentials_{unique}"]
            await own.insert_one({"_id": service, "n": 1})
            await own.update_one({"_id": service}, {"$inc": {"n": 1}})
            assert await own.find_one({"_id": service}) == {"_id": service, "n": 2}
            await own.drop()
        finally:
            await client.close()


async def test_ferretdb_v1_does_not_confine_a_user_to_its_own_database(ferret: FerretNode, run_id: str,
                                                                         lab_result: dict[str, Any]) -> None:
    """What FerretDB v1 does NOT enforce, asserted as it is (on MongoDB, access would get Unauthorized here)."""
    access = as_user(ferret, "access")
    try:
        with pytest.raises(OperationFailure, match="not implemented"):  # no role can be given: no authorization
            await access.admin.command("createUser", "confined", pwd="c" * 24,
                                       roles=[{"role": "readWrite", "db": f"{run_id}_access"}])
        # any authenticated user reads another service's database ...
        assert await access[f"{run_id}_records"]["documents"].find_one({"_id": lab_result["_id"]}) == lab_result
        # ... and sees the user list (SCRAM's salted keys, not the passwords)
        users = {u["user"] async for u in access.admin["system.users"].find({}, {"user": 1})}
        assert {ADMIN_USER, *MONGO_SERVICES} <= users
    finally:
        await access.close()


def test_workers_get_their_own_user_and_never_the_admin_password(ferret: FerretNode, infra: Infra,
                                                                 worker_env: dict[str, str]) -> None:
    assert infra.local is not None
    admin_password = ferret.password(ADMIN_USER)
    # `python -m infra run`: each process its own user and password
    env = mesh.mesh_env(infra.local)
    given = {name: mesh.worker_env(infra.local, name, env) for name in MONGO_SERVICES}
    for name, process_env in given.items():
        assert process_env["DSP_MONGO_USERNAME"] == name
        assert process_env["DSP_MONGO_PASSWORD"] == ferret.password(name)
        assert admin_password not in str(process_env)
    assert len({e["DSP_MONGO_PASSWORD"] for e in given.values()}) == len(MONGO_SERVICES)
    # the workers the tests start (tests.support.with_mongo_user): their own user on the bare address
    settings = settings_from(RecordsSettings, worker_env)
    assert settings.mongo_uri == ferret.uri and settings.mongo_username == "records"
    assert settings.mongo_password is not None
    assert settings.mongo_password.get_secret_value() == ferret.password("records")


def test_passwords_are_kept_private_and_out_of_argv_and_logs(ferret: FerretNode) -> None:
    assert (ferret.users_dir.stat().st_mode & 0o777) == 0o700
    passwords = []
    for user in (ADMIN_USER, *MONGO_SERVICES):
        path = ferret.users_dir / f"{user}.password"
        assert (path.stat().st_mode & 0o777) == 0o600, user
        passwords.append(path.read_text().strip())
    pid = ferret.pid_file.read_text().strip()
    with open(f"/proc/{pid}/cmdline", "rb") as f:  # what `ps` shows
        argv = f.read().decode()
    assert "--test-enable-new-auth" in argv and "--setup-username" in argv
    log = ferret.log_file.read_text(errors="replace")
    for password in passwords:
        assert password not in argv and password not in log
    assert os.environ.get("FERRETDB_SETUP_PASSWORD") is None  # only the server's own environment has it
