"""Live sessions through the real job machinery: a paced video on a ``live``-queue Celery
worker with a loop:// TTL and a webhook on localhost; stop mid-session keeps the run; a
camera that vanishes or stalls ends the session with what it recorded; two sessions on one
camera refused through the API; the event log downloadable."""

from __future__ import annotations

import json

import pytest

from tests.conftest import wait_for
from tests.tracking.openfield_model import register_openfield_model
from tests.tracking.test_tracking_runs import add_video, clip
from tracking import live_services
from tracking.live import sources
from tracking.live_work import live_session_execute
from tracking.models import LiveSession, TrackingRun
from webapp.models import TERMINAL_STATUSES, JobStatus

from .helpers import Receiver

HALVES = [
    {"name": "left", "shape": "rect", "x": 0, "y": 0, "w": 320, "h": 480},
    {"name": "right", "shape": "rect", "x": 320, "y": 0, "w": 320, "h": 480},
    {"name": "arena", "shape": "rect", "x": 0, "y": 0, "w": 640, "h": 480},
]


def _setup(url: str) -> dict:
    return {
        "zones": HALVES,
        "rules": [
            # Fires once the mouse has been seen for half a second: an event every run has.
            {"name": "settled", "kind": "time_in_zone", "zone": "arena", "seconds": 0.5},
            {"name": "into right", "kind": "zone_entry", "zone": "right"},
            {"name": "into left", "kind": "zone_entry", "zone": "left"},
        ],
        "outputs": [
            {"name": "ttl", "kind": "serial", "port": "loop://"},
            {"name": "hook", "kind": "webhook", "url": url},
        ],
    }


def _finished(session: LiveSession) -> bool:
    session.refresh_from_db()
    return session.status in TERMINAL_STATUSES


def _start(api_client_for, owner, project, model, video, setup, **params) -> LiveSession:
    response = api_client_for(owner).post(
        f"/api/projects/{project.pk}/live-sessions/",
        {"model": model.pk, "source": f"video:{video.pk}", "setup": setup, "params": params},
        format="json",
    )
    assert response.status_code == 201, response.content
    return LiveSession.objects.get(pk=response.json()["id"])


@pytest.mark.django_db(transaction=True)
def test_a_paced_video_on_a_live_worker_sends_events_and_ends_as_a_run(
    start_worker, openfield_weights, project, owner, api_client_for, tmp_path
):
    worker = start_worker(queues=("live",))
    model = register_openfield_model(project=project, weights=openfield_weights)
    video = add_video(project, clip(tmp_path / "clip.mp4", frames=150))
    with Receiver() as receiver:
        session = _start(api_client_for, owner, project, model, video, _setup(receiver.url))
        # The page's view while it runs: a frame, the animal, a preview.
        wait_for(lambda: LiveSession.objects.get(pk=session.pk).state.get("frame"),
                 timeout=300, what="the first status")  # fmt: skip
        state = LiveSession.objects.get(pk=session.pk).state
        assert state["size"] == [640, 480] and state["preview"] and len(state["animals"]) == 1
        wait_for(lambda: _finished(session), timeout=600, what="the session's end")
        bodies = list(receiver.bodies)
    assert session.status == JobStatus.SUCCEEDED, f"{session.error}\n{worker.log()[-3000:]}"
    summary = session.summary
    assert summary["ended"] == "source ended" and summary["frames_offered"] == 150
    assert summary["events_by_kind"].get("time_in_zone") == 1
    # The webhook received the events, then the safe state, in order, as they happened.
    kinds = [body["kind"] for _, body in bodies]
    assert "time_in_zone" in kinds and kinds[-1] == "safe_state"
    arrivals = [stamp for stamp, _ in bodies]
    assert arrivals == sorted(arrivals)
    # The event log: each event with its capture, hand-over and output times, per output.
    response = api_client_for(owner).get(f"/api/live-sessions/{session.pk}/events.jsonl")
    assert response.status_code == 200
    log = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    settled = [e for e in log if e["kind"] == "time_in_zone"]
    assert {e["output"] for e in settled} == {"ttl", "hook"}
    for e in settled:
        assert e["error"] is None and e["capture_s"] <= e["handed_s"] <= e["output_s"]
        assert e["zone"] == "arena" and e["animal"] == 1 and e["latency_ms"] > 0
    # An ordinary run of the recording: same page, trajectory, exports.
    run = TrackingRun.objects.get(pk=session.run_id)
    assert run.status == JobStatus.SUCCEEDED and run.trajectory
    assert run.frames_done == summary["frames_recorded"] == run.video.frame_count
    csv = api_client_for(owner).get(f"/api/tracking-runs/{run.pk}/trajectory.csv")
    assert csv.status_code == 200
    assert api_client_for(owner).get(f"/tracking-runs/{run.pk}/").status_code in (200, 302)


@pytest.mark.django_db(transaction=True)
def test_stop_mid_session_keeps_what_was_recorded_as_a_run(
    start_worker, openfield_weights, project, owner, api_client_for, tmp_path
):
    start_worker(queues=("live",))
    model = register_openfield_model(project=project, weights=openfield_weights)
    video = add_video(project, clip(tmp_path / "long.mp4", frames=900))
    session = _start(api_client_for, owner, project, model, video, {"zones": HALVES})
    wait_for(lambda: (LiveSession.objects.get(pk=session.pk).state.get("frame") or 0) > 20,
             timeout=300, what="20 frames")  # fmt: skip
    # A second session on the same camera is refused while this one holds it.
    again = api_client_for(owner).post(
        f"/api/projects/{project.pk}/live-sessions/",
        {"model": model.pk, "source": f"video:{video.pk}"},
        format="json",
    )
    assert again.status_code == 400 and f"live session #{session.pk}" in again.json()["source"][0]
    response = api_client_for(owner).post(f"/api/live-sessions/{session.pk}/stop/")
    assert response.status_code == 202
    wait_for(lambda: _finished(session), timeout=300, what="the stop")
    assert session.status == JobStatus.SUCCEEDED and "stopped" in session.message
    recorded = session.summary["frames_recorded"]
    assert 20 < recorded < 900
    run = TrackingRun.objects.get(pk=session.run_id)
    assert run.status == JobStatus.SUCCEEDED and run.frames_done == recorded


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("camera", "ending"),
    [
        (dict(vanish_at=40), "camera vanished"),
        (dict(stall_at=40, stall_s=120.0), "camera stalled"),
    ],
    ids=["vanishes", "stalls"],
)
def test_a_camera_that_vanishes_or_stalls_ends_the_session_with_what_it_recorded(
    openfield_weights, project, monkeypatch, camera, ending
):
    """In this process (the command's way): the camera is the synthetic one, unplugged or
    frozen at frame 40; the session ends FAILED saying so, keeps its 40-odd frames as a run,
    and its outputs ended in their safe state."""
    model = register_openfield_model(project=project, weights=openfield_weights)
    monkeypatch.setattr(
        sources, "open_source",
        lambda spec, paced=False: sources.SyntheticCamera(size=(640, 480), **camera),
    )  # fmt: skip
    from tracking import live_work

    monkeypatch.setattr(
        live_work, "live_params",
        lambda session, px_per_cm=None: _short_stall(session, px_per_cm),
    )  # fmt: skip
    session = live_services.live_session_create(
        project=project, created_by=None, model=model, source="/dev/video9",
        setup={"zones": HALVES[:2],
               "outputs": [{"name": "ttl", "kind": "serial", "port": "loop://"}]},
    )  # fmt: skip
    live_session_execute(session_id=session.pk)
    session.refresh_from_db()
    assert session.status == JobStatus.FAILED and ending in session.error
    assert "kept" in session.error
    summary = session.summary
    assert summary["ended"] == ending and 0 < summary["frames_recorded"] <= 40
    run = TrackingRun.objects.get(pk=session.run_id)
    assert run.status == JobStatus.SUCCEEDED and run.frames_done == summary["frames_recorded"]
    with session.events.open("rb") as f:
        log = [json.loads(line) for line in f.read().splitlines()]
    assert log and log[-1]["kind"] == "safe_state"
    # The camera is free again.
    assert live_services.live_session_holding(key="/dev/video9") is None


def _short_stall(session, px_per_cm):
    import dataclasses

    # live_work.live_params with a short give-up time (the real one is patched out).
    from tracking.engine.cropping import CropParams
    from tracking.engine.runner import DetectParams
    from tracking.live.session import LiveParams

    p = session.params
    return dataclasses.replace(
        LiveParams(
            n_animals=session.n_animals,
            detect=DetectParams(imgsz=int(p["imgsz"]), conf=float(p["conf"])),
            crop=CropParams(enabled=True),
        ),
        stall_s=0.3,
        give_up_s=1.5,
    )
