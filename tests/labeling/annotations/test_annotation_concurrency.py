"""Parallel saves to one frame, from real threads with their own database connections:
every answer is 200 or 409 (never 500), no acknowledged save is lost, and the boxes on
record are exactly those of the last accepted save. Runs on the configured database
(SQLite by default; PostgreSQL when DATABASE_URL points at one)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from django.db import connections

from labeling.models import Box, Frame, Role
from tests.labeling.annotation_helpers import make_frames, make_video

THREADS = 6


@pytest.fixture
def writers(make_user, member_of, owner):
    return [owner] + [member_of(make_user(f"writer{i}"), Role.ANNOTATOR) for i in range(1, 4)]


@pytest.fixture
def frame(project):
    return make_frames(make_video(project), 1)[0]


def run_in_threads(count: int, work) -> list:
    """Start ``work(i)`` in ``count`` threads at once; return results (or exceptions)."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def target(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # surfaced by the assertions, never swallowed
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer thread hung"
    return results


def boxes_for(mouse_id: int, writer: int, n: int) -> list[dict]:
    """``n`` boxes whose x marks who wrote them."""
    return [
        {"class_id": mouse_id, "x": float(writer), "y": float(i), "w": 10.0, "h": 10.0}
        for i in range(n)
    ]


@pytest.mark.django_db(transaction=True)
def test_parallel_saves_on_one_version_accept_exactly_one(api_client_for, writers, frame):
    mouse = frame.project.classes.get()
    url = f"/api/frames/{frame.pk}/annotation/"

    def save(i: int):
        client = api_client_for(writers[i % len(writers)])
        response = client.put(
            url,
            {"version": 0, "boxes": boxes_for(mouse.pk, i, i + 1), "request_id": f"writer-{i}"},
            format="json",
        )
        return response.status_code, response.json()

    results = run_in_threads(THREADS, save)
    assert not [r for r in results if isinstance(r, Exception)], results
    statuses = Counter(code for code, _ in results)
    assert statuses == {200: 1, 409: THREADS - 1}, statuses
    winner = next(i for i, (code, _) in enumerate(results) if code == 200)
    frame.refresh_from_db()
    assert frame.annotation_version == 1 and frame.last_request_id == f"writer-{winner}"
    on_record = list(Box.objects.filter(frame=frame).order_by("id").values("x", "y"))
    assert on_record == [{"x": float(winner), "y": float(i)} for i in range(winner + 1)]
    for code, payload in results:
        if code == 409:  # every loser was shown the winner's boxes
            assert payload["current"]["version"] == 1
            assert len(payload["current"]["boxes"]) == winner + 1


@pytest.mark.django_db(transaction=True)
def test_parallel_retries_of_one_save_write_it_once(api_client_for, owner, frame):
    mouse = frame.project.classes.get()
    url = f"/api/frames/{frame.pk}/annotation/"
    payload = {"version": 0, "boxes": boxes_for(mouse.pk, 7, 3), "request_id": "autosave-1"}

    def save(_: int):
        response = api_client_for(owner).put(url, payload, format="json")
        return response.status_code, response.json()

    results = run_in_threads(THREADS, save)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert {code for code, _ in results} == {200}
    assert {body["version"] for _, body in results} == {1}
    assert Box.objects.filter(frame=frame).count() == 3


@pytest.mark.django_db(transaction=True)
def test_read_modify_write_loops_lose_no_acknowledged_save(api_client_for, writers, frame):
    """Each thread saves ROUNDS times, re-reading after every 409, like the editor does."""
    rounds = 4
    mouse = frame.project.classes.get()
    url = f"/api/frames/{frame.pk}/annotation/"
    acknowledged: list[tuple[int, int]] = []  # (version, writer) per 200
    lock = threading.Lock()

    def loop(i: int):
        client = api_client_for(writers[i % len(writers)])
        codes = Counter()
        done = 0
        while done < rounds:
            version = client.get(url).json()["version"]
            response = client.put(
                url,
                {"version": version, "boxes": boxes_for(mouse.pk, i, 1 + (done % 3))},
                format="json",
            )
            codes[response.status_code] += 1
            if response.status_code == 200:
                done += 1
                with lock:
                    acknowledged.append((response.json()["version"], i))
            elif response.status_code != 409:
                return codes
        return codes

    results = run_in_threads(THREADS, loop)
    assert not [r for r in results if isinstance(r, Exception)], results
    codes = sum(results, Counter())
    assert set(codes) <= {200, 409}, codes
    assert codes[200] == THREADS * rounds
    # Every accepted save got its own version: none overwrote another unseen.
    versions = sorted(v for v, _ in acknowledged)
    assert versions == list(range(1, THREADS * rounds + 1))
    frame.refresh_from_db()
    assert frame.annotation_version == THREADS * rounds
    assert frame.status == Frame.Status.LABELED
    last_writer = max(acknowledged)[1]
    assert set(Box.objects.filter(frame=frame).values_list("x", flat=True)) == {float(last_writer)}
