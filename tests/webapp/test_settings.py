"""Configuration: production mode passes the deploy checklist, and nothing secret is
committed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MOUSETRACK_", "DJANGO_", "PYTEST_")) and k != "SECRET_KEY"
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "DJANGO_ENV": "production",
            "SECRET_KEY": "p" * 20 + os.urandom(32).hex(),
            "ALLOWED_HOSTS": "mousetrack.lab.example",
            "MOUSETRACK_VAR_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _manage("check", env={"DJANGO_ENV": "production", "MOUSETRACK_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_development_generates_a_secret_key_outside_the_repository(tmp_path):
    result = _manage("check", env={"MOUSETRACK_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    key_file = tmp_path / "secret_key"
    assert key_file.exists() and len(key_file.read_text()) >= 50
    assert oct(key_file.stat().st_mode)[-3:] == "600"
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    assert "secret_key" not in tracked.stdout


def test_s3_storage_is_chosen_by_settings(tmp_path):
    code = (
        "import django; django.setup();"
        "from django.core.files.storage import default_storage as s;"
        "b = s.bucket_name; print(type(s._wrapped).__module__, b)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MOUSETRACK_", "PYTEST_"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "STORAGE_BACKEND": "s3",
            "AWS_STORAGE_BUCKET_NAME": "lab-media",
            "MOUSETRACK_VAR_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["storages.backends.s3", "lab-media"]


def test_visibility_timeout_exceeds_every_hard_time_limit(settings):
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert timeout > settings.GPU_QUEUE_TIME_LIMIT
    assert timeout > settings.DEFAULT_QUEUE_TIME_LIMIT
    assert timeout > settings.LIVE_QUEUE_TIME_LIMIT


def test_every_task_is_late_acked_and_routed_to_a_known_queue():
    """All but the live queue's: a live session is a trial in time, never redelivered."""
    from webapp.celery import QUEUE_LIVE, QUEUES, app

    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert ours
    for name, task in ours.items():
        if name == "webapp.tasks.jobs_fail_stale":
            continue
        if getattr(task, "mousetrack_queue", None) == QUEUE_LIVE:
            assert not task.acks_late and not task.reject_on_worker_lost, name
            continue
        assert task.acks_late and task.reject_on_worker_lost, name
        assert getattr(task, "mousetrack_queue", None) in QUEUES, name
