"""The deployment recipe a lab's IT follows (deploy/): the compose file is valid Compose
(parsed by the compose_spec library, the spec's Rust implementation, after YAML anchors are
resolved as Docker Compose resolves them), every node has a health check, the systemd units
run the same commands, and .env.example documents every variable the compose file uses.
Docker itself may not run here; tests/multinode/ starts these same commands as processes."""

from __future__ import annotations

import json
import re

import pytest

from tests.deploy.recipe import COMPOSE, DEPLOY, NODES, compose, node_command, unit_command


def _validate(doc: dict) -> list[str]:
    from compose_spec import PyCompose

    spec = {k: v for k, v in doc.items() if not k.startswith("x-")}  # anchors, resolved
    return PyCompose.from_json(json.dumps(spec)).service_names()


def test_the_compose_file_is_valid_compose_with_every_node():
    names = _validate(compose())
    assert {
        "postgres",
        "redis",
        "minio",
        "web",
        "default-worker",
        "gpu-worker",
        "live-worker",
    } <= set(names)


def test_the_validator_refuses_what_compose_would_refuse():
    doc = compose()
    doc["services"]["web"]["depends_on"]["migrate"]["condition"] = "when_ready"
    with pytest.raises(ValueError, match="unknown variant `when_ready`"):
        _validate(doc)


def test_every_node_has_a_health_check_and_the_web_node_s_is_healthz():
    services = compose()["services"]
    for name in ("postgres", "redis", "minio", *NODES):
        assert services[name].get("healthcheck", {}).get("test"), name
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_the_gpu_worker_gets_a_gpu_and_takes_one_job_at_a_time():
    gpu = compose()["services"]["gpu-worker"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    command = node_command("gpu-worker")
    assert command[command.index("-Q") + 1] == "gpu"
    assert command[command.index("-c") + 1] == "1" and "--prefetch-multiplier" in command


def test_the_live_worker_takes_only_live_sessions_one_at_a_time_with_the_camera():
    """Live sessions run on the machine the camera is on: its worker consumes only the
    ``live`` queue (webapp/celery.py), no other worker consumes it, and it gets the devices."""
    from webapp.celery import QUEUE_LIVE

    command = node_command("live-worker")
    assert command[command.index("-Q") + 1] == QUEUE_LIVE
    assert command[command.index("-c") + 1] == "1" and "--prefetch-multiplier" in command
    for other in ("default-worker", "gpu-worker"):
        queues = node_command(other)[node_command(other).index("-Q") + 1].split(",")
        assert QUEUE_LIVE not in queues, other
    devices = compose()["services"]["live-worker"]["devices"]
    assert any(d.startswith("/dev/video") for d in devices)


@pytest.mark.parametrize("service", sorted(NODES))
def test_the_systemd_unit_runs_the_same_command_as_the_compose_service(service):
    assert unit_command(NODES[service]) == node_command(service)


def test_env_example_documents_every_variable_the_compose_file_uses():
    used = set(re.findall(r"\$\{(\w+)\}", COMPOSE.read_text()))
    # $$VAR is read inside the container; HOSTNAME is the container's own.
    used |= set(re.findall(r"\$\$(\w+)", COMPOSE.read_text())) - {"HOSTNAME"}
    documented = set(re.findall(r"^#?\s*(\w+)=", (DEPLOY / ".env.example").read_text(), re.M))
    assert used and used <= documented, used - documented
