"""Fixtures shared by every test: users and projects, the broker, real Celery worker
processes, and headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
OPENFIELD_VIDEO = SHARED_DATA / "openfield-m3v1.mp4"
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "correct-horse-battery-staple"


# --- data -----------------------------------------------------------------------------
@pytest.fixture
def openfield_video() -> Path:
    if not OPENFIELD_VIDEO.exists():
        pytest.skip(f"the shared open-field video is absent ({OPENFIELD_VIDEO})")
    return OPENFIELD_VIDEO


@pytest.fixture
def make_user(db) -> Callable[..., object]:
    from django.contrib.auth import get_user_model

    def make(username: str | None = None, **extra):
        username = username or f"user-{uuid.uuid4().hex[:8]}"
        return get_user_model().objects.create_user(
            username=username, password=PASSWORD, email=f"{username}@lab.test", **extra
        )

    return make


@pytest.fixture
def owner(make_user):
    return make_user("olivia")


@pytest.fixture
def project(owner):
    from labeling.services import project_create

    return project_create(name="Open field", owner=owner, description="Top view, 640x480")


@pytest.fixture
def member_of(project) -> Callable[..., object]:
    """``member_of(user, role)`` adds a user to ``project``."""
    from labeling.services import member_set

    def add(user, role: str):
        member_set(project=project, username=user.username, role=role)
        return user

    return add


@pytest.fixture
def api_client_for() -> Callable[..., object]:
    from rest_framework.test import APIClient

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


# --- object storage -------------------------------------------------------------------
@pytest.fixture
def s3_endpoint():
    """A real S3 API (moto's server) on localhost with an empty ``lab-media`` bucket."""
    pytest.importorskip("moto.server")
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="lab-media")
    yield endpoint
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_endpoint) -> str:
    """Media in the S3 bucket for this test (the web process, not its workers)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "lab-media",
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "access_key": "test",
                "secret_key": "test",
                "file_overwrite": False,
            },
        },
    }
    return s3_endpoint


# --- broker and workers ---------------------------------------------------------------
@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """The configured Redis, or an embedded one started for this test run."""
    from django.conf import settings

    from webapp.embedded_redis import start_embedded_redis

    proc = (
        start_embedded_redis(settings.EMBEDDED_REDIS_SOCKET)
        if (settings.USING_EMBEDDED_REDIS)
        else None
    )
    yield settings.REDIS_URL
    if proc is not None:
        proc.terminate()
        proc.wait(timeout=10)


def database_url_for_workers() -> str:
    """A DATABASE_URL naming the test database the current process is using."""
    from django.db import connection

    cfg = connection.settings_dict
    if cfg["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{cfg['NAME']}"
    user = cfg.get("USER") or ""
    password = f":{cfg['PASSWORD']}" if cfg.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = cfg.get("HOST") or "127.0.0.1"
    port = f":{cfg['PORT']}" if cfg.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{cfg['NAME']}"


@dataclass
class WorkerProcess:
    """A real ``celery worker`` process in its own process group."""

    proc: subprocess.Popen
    log_path: Path
    queues: tuple[str, ...]
    env: dict[str, str] = field(repr=False, default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the worker and its pool children, as an OOM killer or lost node would."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def _wait_for_ping(queue: str, worker: WorkerProcess, timeout: float = 90.0) -> None:
    from webapp import tasks
    from webapp.models import WorkerPing

    token = uuid.uuid4().hex
    task = {"gpu": tasks.ping_gpu, "live": tasks.ping_live}.get(queue, tasks.ping_default)
    task.apply_async(args=[token])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if WorkerPing.objects.filter(token=token).exists():
            return
        if worker.proc.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{worker.log()[-4000:]}")
        time.sleep(0.2)
    raise RuntimeError(f"celery worker did not answer on {queue!r}:\n{worker.log()[-4000:]}")


@pytest.fixture
def broker_down(monkeypatch):
    """Publishing goes to a Redis that is not there (a real connection failure).

    Fresh, empty connection pools are swapped in; undoing the patches puts the working
    pools back untouched (closing them would break later tests' publishing).
    """
    from webapp.celery import app

    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")  # nothing listens
    yield
    monkeypatch.undo()


@pytest.fixture(scope="session")
def start_worker(broker, django_db_setup, django_db_blocker, tmp_path_factory):
    """``start_worker(queues=("default", "gpu"), env={...})`` starts a worker process that
    shares this test run's database, broker and media, and waits until it consumes."""
    started: list[WorkerProcess] = []

    def start(queues=("default", "gpu"), env: dict[str, str] | None = None) -> WorkerProcess:
        log_dir = tmp_path_factory.mktemp("worker")
        worker_env = {**os.environ, "DATABASE_URL": database_url_for_workers(), **(env or {})}
        worker_env["PYTHONUNBUFFERED"] = "1"
        name = f"test-{uuid.uuid4().hex[:6]}@%h"
        log_path = log_dir / "worker.log"
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "webapp",
            "worker",
            "-Q",
            ",".join(queues),
            "-c",
            "1",
            "--prefetch-multiplier",
            "1",
            "-n",
            name,
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
        ]
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(
                cmd,
                cwd=REPO_ROOT,
                env=worker_env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = WorkerProcess(proc=proc, log_path=log_path, queues=tuple(queues), env=worker_env)
        started.append(worker)
        with django_db_blocker.unblock():
            for queue in queues:
                _wait_for_ping(queue, worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="session")
def celery_worker(start_worker) -> WorkerProcess:
    """One worker for the whole run, consuming both queues. Tests using it need
    ``transactional_db`` (or ``live_server``) so the worker sees their rows."""
    return start_worker()


def wait_for(predicate: Callable[[], object], *, timeout: float = 120.0, interval=0.25, what=""):
    """Poll until ``predicate()`` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


# --- browser --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Script errors, and static assets that failed to load. HTTP 4xx answers to forms and
    # API calls are part of the app's behaviour and are checked by the tests themselves.
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and "/static/" in r.url
            else None
        ),
    )
    page.js_errors = errors
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/ and return its path."""
    path = ARTIFACTS / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page, user, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login" not in url)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in Django's cache (LocMem, shared by the whole test process):
    each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(scope="session")
def openfield_weights(tmp_path_factory) -> Path:
    """A YOLO11n trained on the shared open-field video (once per session); skips without it."""
    from django.conf import settings

    from tests.tracking.openfield_model import train_openfield_detector

    if not OPENFIELD_VIDEO.exists():
        pytest.skip(f"the shared open-field video is absent ({OPENFIELD_VIDEO})")
    # Developers may keep one trained copy between sessions (CI never sets this, so CI
    # always trains its own): MOUSETRACK_TEST_WEIGHTS_CACHE=/some/dir/openfield.pt
    cache = os.environ.get("MOUSETRACK_TEST_WEIGHTS_CACHE")
    if cache and Path(cache).is_file():
        return Path(cache)
    weights = train_openfield_detector(Path(settings.VAR_DIR))
    if cache:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(cache).with_suffix(".partial")
        shutil.copyfile(weights, tmp)
        tmp.replace(cache)
    return weights
