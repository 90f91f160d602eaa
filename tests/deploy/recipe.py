"""The deployment recipe (deploy/): its compose file read as Docker Compose reads it, and
the commands each node runs, which the multi-node test starts as they are."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
NODES = {  # compose service -> systemd unit
    "web": "mousetrack-web.service",
    "default-worker": "mousetrack-worker-default.service",
    "gpu-worker": "mousetrack-worker-gpu.service",
    "live-worker": "mousetrack-worker-live.service",
}


def compose() -> dict:
    """The compose file with its anchors and merge keys resolved, as Compose resolves them."""
    return yaml.safe_load(COMPOSE.read_text())


def node_command(service: str) -> list[str]:
    """The command the compose file runs for ``service`` (an exec-form list)."""
    return list(compose()["services"][service]["command"])


def unit_command(unit: str) -> list[str]:
    """A systemd unit's ExecStart, without the virtualenv's path on its program."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(Path(DEPLOY / "systemd" / unit).read_text())
    argv = shlex.split(parser["Service"]["ExecStart"])
    return [Path(argv[0]).name, *argv[1:]]
