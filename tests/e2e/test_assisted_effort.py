"""The effort bench of bench/assisted_labeling.py (skipped unless MOUSETRACK_BENCH_EFFORT
names the JSON file to write): 50 frames of the real video labeled in real Chromium, once by
drawing every box, once with bootstrap proposals, counting the user's actions."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from assisted import bootstrap
from assisted.models import ProposalSource
from assisted.services import ProposalInput, proposals_replace
from labeling.models import Box, Frame, Project, Video
from labeling.services import project_create
from tests.conftest import login, screenshot
from tests.e2e.test_editor import box_count_is, drag, screen_of, wait_ready, wait_saved

pytestmark = pytest.mark.e2e
OUT = os.environ.get("MOUSETRACK_BENCH_EFFORT")
N_FRAMES = 50
ACCEPT_ABOVE = 0.9


def person_box(image: np.ndarray) -> tuple[float, float, float, float]:
    """The box a careful person draws: the dark body without the tail (the method of
    bench/data/openfield_hand_boxes.json: grey < 65, largest blob, its core > 4 px inside)."""
    import cv2

    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    floor = np.zeros_like(gray)
    floor[50:462, 14:622] = 1  # the arena floor: the walls are dark too
    mask = ((gray < 65) & (floor > 0)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, 8)
    blob = (labels == 1 + int(np.argmax(stats[1:, 4]))).astype(np.uint8)
    core = (cv2.distanceTransform(blob, cv2.DIST_L2, 5) > 4).astype(np.uint8)
    body = blob & cv2.dilate(core, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (11, 11)))
    return tuple(float(v) for v in cv2.boundingRect(body))


def _project(owner, name, openfield_video, *, proposals: bool):
    import cv2

    project: Project = project_create(name=name, owner=owner)
    video = Video.objects.create(
        project=project, original_name="openfield.mp4", width=640, height=480, fps=30.0,
        frame_count=2330,
    )  # fmt: skip
    cap = cv2.VideoCapture(str(openfield_video))
    images, frames = {}, []
    for index in np.linspace(20, 2310, N_FRAMES).astype(int):
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        ok, image = cap.read()
        assert ok
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        name = default_storage.save(f"frames/bench-{uuid.uuid4().hex}.jpg", ContentFile(jpeg))
        frame = Frame.objects.create(
            project=project, video=video, frame_index=int(index), timestamp_s=index / 30,
            image=name, width=640, height=480,
        )  # fmt: skip
        images[frame.pk] = image
        frames.append(frame)
    cap.release()
    if proposals:  # what the bootstrap job stores (its code, without the queue)
        model = bootstrap.background_model(list(images.values()))
        mouse = project.classes.first()
        for frame in frames:
            boxes = bootstrap.propose_boxes(images[frame.pk], model)
            proposals_replace(
                frame=frame,
                source=ProposalSource.BOOTSTRAP,
                proposals=[ProposalInput(mouse.pk, b.x, b.y, b.w, b.h, b.score) for b in boxes],
            )
    return project, frames, {f.pk: person_box(images[f.pk]) for f in frames}


class Actions:
    def __init__(self, page):
        self.page, self.drags, self.keys, self.clicks, self.fills = page, 0, 0, 0, 0

    def key(self, name):
        self.keys += 1
        self.page.keyboard.press(name)

    def draw(self, box):
        self.drags += 1
        to_screen = screen_of(self.page)
        x, y, w, h = box
        drag(self.page, to_screen(x, y), to_screen(x + w, y + h))

    def total(self) -> int:
        return self.drags + self.keys + self.clicks + self.fills

    def detail(self) -> str:
        return f"{self.drags} drags, {self.keys} keys, {self.clicks} clicks, {self.fills} fills"


def _iou(a, b) -> float:
    return bootstrap.box_iou(a, b)


@pytest.mark.skipif(not OUT, reason="a bench: set MOUSETRACK_BENCH_EFFORT=<json path>")
@pytest.mark.django_db(transaction=True)
def test_effort_with_and_without_proposals(page, owner, openfield_video):
    results = {}
    login(page, owner)
    # Without proposals: draw each box, next frame.
    project, frames, target = _project(owner, "Effort A", openfield_video, proposals=False)
    page.goto(f"/projects/{project.pk}/label/")
    wait_ready(page, frames[0])
    act, started = Actions(page), time.monotonic()
    for i, frame in enumerate(frames):
        wait_ready(page, frame)
        act.draw(target[frame.pk])
        box_count_is(page, 1)
        if i < len(frames) - 1:
            act.key("d")
    wait_saved(page)
    wall = round(time.monotonic() - started, 1)
    results["without"] = {"actions": act.total(), "detail": act.detail(), "wall_s": wall}
    drawn = [Box.objects.get(frame=f) for f in frames]
    results["without"]["mean_iou_to_target"] = round(
        float(np.mean([_iou((b.x, b.y, b.w, b.h), target[b.frame_id]) for b in drawn])), 3
    )

    # With proposals: accept all above S on the list, then the rest one by one (Enter, or
    # Backspace and draw where the proposal is off: IoU < 0.7 to the person's box).
    project, frames, target = _project(owner, "Effort B", openfield_video, proposals=True)
    page.goto(f"/projects/{project.pk}/label/?proposals=pending")
    wait_ready(page, frames[0])
    act, started = Actions(page), time.monotonic()
    page.fill("#accept-above-score", str(ACCEPT_ABOVE))
    act.fills += 1
    page.click("#btn-accept-above")
    act.clicks += 1
    page.wait_for_function("() => document.getElementById('editor').dataset.acceptedAbove")
    accepted = int(page.eval_on_selector("#editor", "e => e.dataset.acceptedAbove"))
    rest = list(Frame.objects.filter(project=project, status="unlabeled").order_by("frame_index"))
    redrawn = 0
    if rest:
        wait_ready(page, rest[0])
    for i, frame in enumerate(rest):
        wait_ready(page, frame)
        proposal = frame.proposals.filter(status="pending").first()
        if (
            proposal
            and _iou((proposal.x, proposal.y, proposal.w, proposal.h), target[frame.pk]) >= 0.7
        ):
            act.key("Enter")
        else:
            if proposal:
                act.key("Backspace")
            act.draw(target[frame.pk])
            redrawn += 1
        try:
            box_count_is(page, 1)
        except Exception:
            screenshot(page, "assisted-effort-stuck")
            state = page.eval_on_selector("#editor", "e => JSON.stringify(e.dataset)")
            raise AssertionError(f"frame {frame.pk} {frame.frame_index}: {state}") from None
        if i < len(rest) - 1:
            act.key("d")
    wait_saved(page)
    screenshot(page, "assisted-effort-with-proposals")
    wall = round(time.monotonic() - started, 1)
    results["with"] = {
        "actions": act.total(), "detail": act.detail(), "wall_s": wall,
        "accepted_above": accepted, "one_by_one": len(rest), "redrawn": redrawn,
    }  # fmt: skip
    boxes = [Box.objects.get(frame=f) for f in frames]
    results["with"]["mean_iou_to_target"] = round(
        float(np.mean([_iou((b.x, b.y, b.w, b.h), target[b.frame_id]) for b in boxes])), 3
    )
    results["frames"] = N_FRAMES
    results["accept_above"] = ACCEPT_ABOVE
    results["action_ratio"] = round(results["without"]["actions"] / results["with"]["actions"], 1)
    results["time_ratio"] = round(results["without"]["wall_s"] / results["with"]["wall_s"], 1)
    assert not page.js_errors, page.js_errors
    Path(OUT).parent.mkdir(parents=True, exist_ok=True)
    Path(OUT).write_text(json.dumps(results, indent=1))
