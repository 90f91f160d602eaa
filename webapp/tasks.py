from celery import shared_task
from celery.signals import worker_ready

from .celery import QUEUE_DEFAULT, QUEUE_GPU, QUEUE_LIVE, queue_task_options
from .jobs import jobs_fail_stale as _jobs_fail_stale
from .storage import scratch_sweep_dead


@shared_task(name="webapp.tasks.jobs_fail_stale", ignore_result=True)
def jobs_fail_stale() -> int:
    """The periodic check: jobs whose worker died are failed, and what dead processes left
    in this host's scratch space goes (each host's own also when its workers start)."""
    scratch_sweep_dead()
    return _jobs_fail_stale()


@worker_ready.connect
def _sweep_scratch_on_start(**kwargs) -> None:
    # A worker restarted after a SIGKILL or an OOM kill finds its predecessor's folders.
    scratch_sweep_dead()


@shared_task(name="webapp.tasks.ping_default", **queue_task_options(QUEUE_DEFAULT))
def ping_default(token: str) -> str:
    """Round trip used by /healthz and the tests to prove a worker consumes ``default``."""
    return _ping(token, QUEUE_DEFAULT)


@shared_task(name="webapp.tasks.ping_gpu", **queue_task_options(QUEUE_GPU))
def ping_gpu(token: str) -> str:
    return _ping(token, QUEUE_GPU)


@shared_task(name="webapp.tasks.ping_live", **queue_task_options(QUEUE_LIVE))
def ping_live(token: str) -> str:
    return _ping(token, QUEUE_LIVE)


def _ping(token: str, queue: str) -> str:
    import socket

    from .models import WorkerPing

    WorkerPing.objects.update_or_create(
        token=token, defaults={"queue": queue, "worker": socket.gethostname()}
    )
    return token
