"""The tracking app's background job kinds, each declared once (see :mod:`webapp.jobs`).

A tracking run ends itself (success, or FAILED at the frame where the video stopped
decoding, with the frames before it kept); the runner gives it cancel, the time limit and
unexpected errors. It resumes from its stored chunks (``TrackingRun.resume_task``).
"""

from __future__ import annotations

from webapp.celery import QUEUE_DEFAULT, QUEUE_GPU, QUEUE_LIVE
from webapp.jobs import JobKind

from . import live_work, render_work, run_work
from .models import LiveSession, TrackingRender, TrackingRun


def own_words(exc: BaseException) -> str:
    # The engine's and decoder's messages are written for the person who started the run.
    return (str(exc) or type(exc).__name__)[:2000]


#: How the kinds working on a run (and behaviour's freezing) end when stopped or broken.
RUN_ENDINGS = {"cancelled": "Cancelled", "explain": own_words}


TRACKING = JobKind(
    name="run",
    model=TrackingRun,
    task="tracking.tasks.tracking_run_execute",
    queue=QUEUE_GPU,
    work=run_work.tracking_run_work,
    after=run_work.tracking_run_after,
    timed_out_note="; Retry resumes where it stopped",
    **RUN_ENDINGS,
)

RENDER = JobKind(
    name="render",
    model=TrackingRender,
    task="tracking.tasks.tracking_render_execute",
    queue=QUEUE_DEFAULT,
    work=render_work.tracking_render_work,
    **RUN_ENDINGS,
)

# A live session on the camera machine's ``live`` queue; it ends itself FAILED when the
# camera vanished or stalled (what was recorded before kept as a run), and is never
# delivered again after a lost worker (a trial happens once).
LIVE = JobKind(
    name="live session",
    model=LiveSession,
    task="tracking.tasks.live_session_execute",
    queue=QUEUE_LIVE,
    work=live_work.live_session_work,
    cancelled="Stopped",
    explain=own_words,
)
