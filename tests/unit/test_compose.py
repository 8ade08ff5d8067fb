"""compose.yaml parses and runs every service the code has, each healthy before its dependants start."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
services = compose["services"]
code_services = sorted(p.parent.name for p in (ROOT / "services").glob("*/__main__.py"))


def test_every_service_in_the_code_runs_in_compose() -> None:
    assert code_services == ["access", "activation", "console", "gateway", "notify", "records"]
    for name in code_services:
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]
        assert (ROOT / "services" / name / "__main__.py").exists()


def test_official_images_for_the_infrastructure() -> None:
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["mongo"]["image"].startswith("mongo:")
    assert services["mailpit"]["image"].startswith("axllent/mailpit")


def test_healthchecks_and_healthy_dependencies() -> None:
    for name in ("kafka", "mongo", "mailpit", *code_services):
        assert services[name]["healthcheck"]["test"], name
    for name in code_services:
        deps = services[name]["depends_on"]
        assert deps["kafka"]["condition"] == "service_healthy"
        assert deps["mongo"]["condition"] == "service_healthy"
        assert deps["topics"]["condition"] == "service_completed_successfully"
    assert services["topics"]["command"] == ["python", "-m", "infra", "topics"]


def test_required_secrets_are_demanded_not_defaulted() -> None:
    for name in code_services:
        key = services[name]["environment"]["DSP_LOG_PSEUDONYM_KEY"]
        assert key.startswith("${DSP_LOG_PSEUDONYM_KEY:?"), name
    assert "DSP_LOG_PSEUDONYM_KEY:-" not in (ROOT / "compose.yaml").read_text()


def test_each_worker_is_reachable_on_its_own_loopback_port() -> None:
    ports = [services[name]["ports"][0] for name in code_services]
    assert len(set(ports)) == len(ports) and all(p.startswith("127.0.0.1:") and p.endswith(":8080") for p in ports)


def test_prometheus_scrapes_every_worker_and_grafana_is_provisioned_from_the_repo() -> None:
    import json

    scrape = yaml.safe_load((ROOT / "infra/prometheus/prometheus.yml").read_text())
    targets = scrape["scrape_configs"][0]["static_configs"][0]["targets"]
    assert sorted(t.split(":")[0] for t in targets) == ["access", "activation", "notify", "records"]
    mounts = services["grafana"]["volumes"]
    assert any(m.startswith("./infra/grafana/provisioning:") for m in mounts)
    dashboard = json.loads((ROOT / "infra/grafana/dashboards/dsp-mesh.json").read_text())
    assert all("dsp_" in p["targets"][0]["expr"] for p in dashboard["panels"])


def test_notify_private_sealing_key_goes_to_notify_only_its_public_key_to_the_producers() -> None:
    for name in code_services:
        environment = services[name]["environment"]
        assert ("DSP_NOTIFY_SEAL_KEY" in environment) == (name == "notify"), name
    assert services["notify"]["environment"]["DSP_NOTIFY_SEAL_KEY"].startswith("${DSP_NOTIFY_SEAL_KEY:?")
    for name in ("activation", "access"):
        assert services[name]["environment"]["DSP_NOTIFY_PUBLIC_KEY"].startswith("${DSP_NOTIFY_PUBLIC_KEY:?"), name
    assert "DSP_NOTIFY_SEAL_KEY" not in str(compose["x-worker"])
