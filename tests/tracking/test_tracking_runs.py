"""Tracking runs through a real Celery worker on clips of the real open-field video.

A small YOLO11n trained on that video (``openfield_weights``) does the detecting; the
video goes through the app's sandboxed decoder. Covered: a whole run and its CSV contract,
cancel, a worker SIGKILLed mid-video (marked failed, then a retry resumes from the stored
chunks and finishes once), and a video that stops decoding midway.
"""

from __future__ import annotations

import io
import subprocess
import uuid
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import OPENFIELD_VIDEO, wait_for
from tests.tracking.openfield_model import register_openfield_model
from tracking import tasks
from tracking.models import TrackingRun
from webapp import jobs
from webapp.models import TERMINAL_STATUSES, JobStatus

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def clip(out: Path, *, frames: int, start_s: float = 0.0) -> Path:
    """The first ``frames`` frames of the shared video (from ``start_s``), H.264, faststart.

    ``-ss`` after ``-i`` (decode from the start, drop frames before ``start_s``): seeking
    the input lands between this recording's entry points and gives grey-green garbage."""
    import imageio_ffmpeg

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(OPENFIELD_VIDEO),
         "-ss", str(start_s), "-frames:v", str(frames), "-an", "-c:v", "libx264", "-preset",
         "veryfast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(out)],
        check=True,
    )  # fmt: skip
    return out


def add_video(project, path: Path):
    from labeling.videos.services import IncomingFile, video_upload

    return video_upload(
        project=project,
        user=None,
        incoming=IncomingFile(path=path, name=path.name, size=path.stat().st_size),
    )


def start_run(api_client_for, owner, project, model, video, **extra):
    response = api_client_for(owner).post(
        f"/api/projects/{project.pk}/tracking-runs/",
        {"model": model.pk, "videos": [video.pk], **extra},
        format="json",
    )
    assert response.status_code == 201, response.content
    return TrackingRun.objects.get(pk=response.json()["runs"][0]["id"])


def finished(run: TrackingRun) -> bool:
    run.refresh_from_db()
    return run.status in TERMINAL_STATUSES


@pytest.mark.django_db(transaction=True)
def test_a_run_tracks_every_frame_and_the_csv_holds_one_row_per_frame_and_animal(
    celery_worker, openfield_weights, project, owner, api_client_for, tmp_path
):
    model = register_openfield_model(project=project, weights=openfield_weights)
    video = add_video(project, clip(tmp_path / "clip.mp4", frames=90))
    run = start_run(api_client_for, owner, project, model, video)
    wait_for(lambda: finished(run), timeout=600, what="the tracking run")
    assert run.status == JobStatus.SUCCEEDED, f"{run.error}\n{celery_worker.log()[-3000:]}"
    assert run.frames_done == 90 and run.video_sha256 and run.device
    assert run.trust and run.timing
    assert run.timing["identity"] == {"used": False, "reason": "one animal"}

    response = api_client_for(owner).get(f"/api/tracking-runs/{run.pk}/trajectory.csv")
    table = pd.read_csv(io.BytesIO(b"".join(response.streaming_content)))
    assert list(table.frame) == list(range(90)) and set(table.animal) == {1}
    assert set(table.status) <= {"detected", "interpolated", "missing"}
    found = table[table.status == "detected"]
    assert len(found) >= 0.8 * 90, table.status.value_counts()
    assert found.x.between(0, 640).all() and found.y.between(0, 480).all()
    assert table.time_s.is_monotonic_increasing
    assert table.time_s.iloc[1] == pytest.approx(1 / 30, abs=1e-3)


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_running_run_and_retry_resumes(
    celery_worker, openfield_weights, project, owner, api_client_for, tmp_path
):
    model = register_openfield_model(project=project, weights=openfield_weights)
    video = add_video(project, clip(tmp_path / "long.mp4", frames=900))
    run = start_run(api_client_for, owner, project, model, video)
    wait_for(
        lambda: TrackingRun.objects.get(pk=run.pk).frames_done > 0, timeout=300, what="progress"
    )
    response = api_client_for(owner).post(f"/api/tracking-runs/{run.pk}/cancel/")
    assert response.status_code == 200
    wait_for(lambda: finished(run), timeout=120, what="the cancel")
    assert run.status == JobStatus.CANCELLED and not run.trajectory


@pytest.mark.django_db(transaction=True)
def test_killed_worker_is_marked_failed_and_a_retry_resumes_from_the_stored_chunks(
    start_worker, openfield_weights, project, owner, api_client_for, monkeypatch, settings,
    tmp_path,
):  # fmt: skip
    model = register_openfield_model(project=project, weights=openfield_weights)
    # Long enough that the doomed worker is still detecting at the first progress write it
    # makes (once a second): a cropping detector on a quiet machine does 300 frames in one.
    n_frames = 900
    video = add_video(project, clip(tmp_path / "kill.mp4", frames=n_frames))
    private = f"gpu-kill-{uuid.uuid4().hex[:6]}"
    doomed = start_worker(queues=(private, "default"), env={"TRACKING_CHUNK_FRAMES": "30"})
    with monkeypatch.context() as patch:
        patch.setattr(tasks.tracking_run_execute_task, "mousetrack_queue", private)
        run = start_run(api_client_for, owner, project, model, video)
    wait_for(
        lambda: TrackingRun.objects.get(pk=run.pk).frames_done >= 70, timeout=600, what="chunks"
    )
    doomed.kill()
    run.refresh_from_db()
    assert run.status == JobStatus.RUNNING
    killed_at = run.frames_done
    assert killed_at < n_frames, "the doomed worker finished before it was killed"

    settings.JOB_STALE_AFTER = 2
    wait_for(lambda: jobs.jobs_fail_stale() or finished(run), timeout=60, what="stale check")
    run.refresh_from_db()
    assert run.status == JobStatus.FAILED and "heartbeat" in run.error

    fresh = start_worker(queues=("gpu",), env={"TRACKING_CHUNK_FRAMES": "30"})
    response = api_client_for(owner).post(f"/api/tracking-runs/{run.pk}/retry/")
    assert response.status_code == 200, response.content
    wait_for(lambda: finished(run), timeout=600, what="the retried run")
    assert run.status == JobStatus.SUCCEEDED, f"{run.error}\n{fresh.log()[-3000:]}"
    assert run.frames_done == n_frames
    # Resumed, not restarted: the frames of the stored chunks were not detected again.
    # (frames_done is written once a second, so the stored chunks may end past the count
    # read at the kill by a second's worth of frames: more than a chunk with a detector
    # that crops; below it by less than a chunk.)
    resumed = run.timing["frames_resumed"]
    assert resumed % 30 == 0 and 60 <= resumed < n_frames, (resumed, killed_at)
    assert resumed >= killed_at - 30, (resumed, killed_at)
    assert run.timing["frames_processed"] == n_frames - resumed


@pytest.mark.django_db(transaction=True)
def test_a_video_that_stops_decoding_midway_fails_with_the_frame_and_keeps_the_rest(
    celery_worker, openfield_weights, project, owner, api_client_for, tmp_path
):
    model = register_openfield_model(project=project, weights=openfield_weights)
    from django.core.files.storage import default_storage

    # A truncated upload is refused at the door (its probe is strict), so the damage comes
    # later: the stored file is cut after it was accepted (a failing disk, a share rewritten).
    video = add_video(project, clip(tmp_path / "whole.mp4", frames=120))
    stored = Path(default_storage.path(video.file.name))
    data = stored.read_bytes()
    stored.write_bytes(data[: int(len(data) * 0.6)])
    run = start_run(api_client_for, owner, project, model, video)
    wait_for(lambda: finished(run), timeout=600, what="the tracking run")
    assert run.status == JobStatus.FAILED
    assert run.failed_at_frame is not None and 0 < run.failed_at_frame < 120
    assert f"frame {run.failed_at_frame}" in run.error
    # What was tracked before the break is kept, and nothing past it is invented.
    response = api_client_for(owner).get(f"/api/tracking-runs/{run.pk}/trajectory.csv")
    table = pd.read_csv(io.BytesIO(b"".join(response.streaming_content)))
    assert table.frame.max() == run.failed_at_frame - 1
