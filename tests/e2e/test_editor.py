"""In real Chromium: label frames of the real open-field video with the mouse and keyboard;
autosave, reload, nudge, a conflicting second session, a server outage and read-only."""

from __future__ import annotations

import re
import uuid

import pytest

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from labeling.models import Frame, Role, Video
from tests.conftest import login, screenshot

pytestmark = pytest.mark.e2e

FRAME_INDICES = (0, 600, 1200)
# Chromium logs every non-2xx fetch to the console; these ones the test provokes on purpose.
EXPECTED_CONSOLE = re.compile(r"Failed to load resource: .*\b(409|503)\b")


@pytest.fixture
def frames(project, openfield_video) -> list[Frame]:
    return openfield_frames(project, openfield_video)


def openfield_frames(project, openfield_video) -> list[Frame]:
    """Three frames decoded from the real video, stored like sampled frames are."""
    import cv2

    capture = cv2.VideoCapture(str(openfield_video))
    video = Video.objects.create(
        project=project,
        original_name="openfield <b>m3v1</b>.mp4",
        width=640,
        height=480,
        fps=30.0,
        frame_count=2330,
    )
    frames = []
    try:
        for index in FRAME_INDICES:
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, image = capture.read()
            assert ok, f"could not decode frame {index}"
            ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
            name = default_storage.save(
                f"frames/e2e-{uuid.uuid4().hex}.jpg", ContentFile(jpeg.tobytes())
            )
            height, width = image.shape[:2]
            frames.append(
                Frame.objects.create(
                    project=project,
                    video=video,
                    frame_index=index,
                    timestamp_s=index / 30,
                    image=name,
                    width=width,
                    height=height,
                )
            )
    finally:
        capture.release()
    return frames


def wait_ready(page, frame: Frame) -> None:
    page.wait_for_function(
        "id => { const e = document.getElementById('editor');"
        " return e.dataset.ready === '1' && e.dataset.frameId === String(id); }",
        arg=frame.pk,
    )


def wait_saved(page) -> None:
    page.wait_for_function("() => document.getElementById('editor').dataset.saveState === 'saved'")


def box_count_is(page, n: int) -> None:
    page.wait_for_function(
        "n => document.getElementById('editor').dataset.boxCount === String(n)", arg=n
    )


def screen_of(page):
    """Map original-image pixels to page coordinates with the editor's current view."""
    view = page.eval_on_selector(
        "#editor", "e => [+e.dataset.viewScale, +e.dataset.viewX, +e.dataset.viewY]"
    )
    canvas = page.locator("#editor-canvas").bounding_box()
    scale, ox, oy = view

    def to_screen(x: float, y: float) -> tuple[float, float]:
        return canvas["x"] + ox + x * scale, canvas["y"] + oy + y * scale

    return to_screen


def drag(page, start, end) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=8)
    page.mouse.up()


def boxes_of(client, frame) -> list[tuple[float, float, float, float]]:
    data = client.get(f"/api/frames/{frame.pk}/annotation/").json()
    return [(b["x"], b["y"], b["w"], b["h"]) for b in data["boxes"]]


def assert_close(actual, expected, tolerance=1.0) -> None:
    assert len(actual) == len(expected), (actual, expected)
    for got, want in zip(actual, expected, strict=True):
        assert all(abs(g - w) <= tolerance for g, w in zip(got, want, strict=True)), (got, want)


def unexpected_errors(page) -> list[str]:
    return [e for e in page.js_errors if not EXPECTED_CONSOLE.search(e)]


@pytest.mark.django_db(transaction=True)
def test_draw_autosave_reload_nudge_and_resolve_a_conflict(
    page, owner, project, frames, api_client_for, make_user, member_of
):
    api = api_client_for(owner)
    login(page, owner)
    page.goto(f"/projects/{project.pk}/label/")
    wait_ready(page, frames[0])
    assert page.locator("#frame-position").inner_text() == "Frame 1 / 3"
    # The video's name is text, not markup.
    assert page.locator("#frame-video").inner_text() == "openfield <b>m3v1</b>.mp4"

    # Draw two boxes with real mouse drags; each is saved without a save button.
    to_screen = screen_of(page)
    drag(page, to_screen(100, 120), to_screen(260, 300))
    # Zoom in with the wheel at the image's centre: the next box is still in image pixels.
    fitted = float(page.eval_on_selector("#editor", "e => e.dataset.viewScale"))
    page.mouse.move(*to_screen(320, 240))
    page.mouse.wheel(0, -300)
    page.wait_for_function(
        "s => +document.getElementById('editor').dataset.viewScale > s * 1.4", arg=fitted
    )
    to_screen = screen_of(page)
    drag(page, to_screen(380, 150), to_screen(520, 330))
    wait_saved(page)
    expected = [(100, 120, 160, 180), (380, 150, 140, 180)]
    assert_close(boxes_of(api, frames[0]), expected)
    screenshot(page, "editor-drawn")

    # After a reload the boxes come back at the same image coordinates.
    page.reload()
    wait_ready(page, frames[0])
    assert page.locator("#box-list li").count() == 2
    assert page.eval_on_selector("#editor", "e => e.dataset.boxCount") == "2"
    assert_close(boxes_of(api, frames[0]), expected)

    # Select the first box by clicking it, nudge it with the arrow keys (Shift = 10 px).
    before = boxes_of(api, frames[0])
    to_screen = screen_of(page)
    page.mouse.click(*to_screen(180, 210))
    page.wait_for_function("() => document.getElementById('editor').dataset.selected === '0'")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")
    page.wait_for_function("() => document.getElementById('editor').dataset.saveState !== 'saved'")
    wait_saved(page)
    actual = boxes_of(api, frames[0])
    assert_close(actual, [(103, 130, 160, 180), expected[1]])
    # The nudge moved the box by exactly 3 and 10 image pixels, whatever the zoom.
    assert (round(actual[0][0] - before[0][0], 2), round(actual[0][1] - before[0][1], 2)) == (3, 10)

    # Move the second box by dragging it, then resize it with its bottom-right handle.
    drag(page, to_screen(450, 240), to_screen(490, 240))
    page.wait_for_function("() => document.getElementById('editor').dataset.selected === '1'")
    drag(page, to_screen(560, 330), to_screen(580, 350))
    wait_saved(page)
    assert_close(boxes_of(api, frames[0])[1:], [(420, 150, 160, 200)])

    # A second session (the API, as another annotator) saves first...
    colleague = api_client_for(member_of(make_user("colleague"), Role.ANNOTATOR))
    current = colleague.get(f"/api/frames/{frames[0].pk}/annotation/").json()
    theirs = [{"class_id": project.classes.get().pk, "x": 300, "y": 200, "w": 80, "h": 60}]
    response = colleague.put(
        f"/api/frames/{frames[0].pk}/annotation/",
        {"version": current["version"], "boxes": theirs},
        format="json",
    )
    assert response.status_code == 200
    # ...so this page's next edit is refused with a 409 and the page says so.
    page.keyboard.press("ArrowLeft")
    banner = page.locator("#conflict-banner")
    banner.wait_for(state="visible")
    assert "colleague" in banner.inner_text()
    assert page.locator("#conflict-reload").is_visible()
    assert page.eval_on_selector("#editor", "e => e.dataset.saveState") == "conflict"
    assert boxes_of(api, frames[0]) == [(300, 200, 80, 60)]  # their boxes are intact
    screenshot(page, "editor-conflict")

    page.click("#conflict-reload")
    banner.wait_for(state="hidden")
    box_count_is(page, 1)
    wait_saved(page)
    assert boxes_of(api, frames[0]) == [(300, 200, 80, 60)]

    # Keyboard: the help overlay, next frame, "no animal", mark reviewed.
    page.keyboard.press("?")
    page.locator("#help-modal").wait_for(state="visible")
    assert page.locator("#help-modal").get_by_text("Next unlabeled frame").is_visible()
    screenshot(page, "editor-help")
    page.keyboard.press("Escape")
    page.locator("#help-modal").wait_for(state="hidden")
    page.keyboard.press("d")
    wait_ready(page, frames[1])
    page.keyboard.press("c")  # copy the previous frame's (their) box
    box_count_is(page, 1)
    page.keyboard.press("n")  # no animal: the copied box goes
    box_count_is(page, 0)
    page.keyboard.press("Control+z")
    box_count_is(page, 1)
    page.keyboard.press("Control+Shift+z")
    box_count_is(page, 0)
    page.keyboard.press("r")
    page.wait_for_function("() => document.getElementById('editor').dataset.status === 'reviewed'")
    wait_saved(page)
    state = api.get(f"/api/frames/{frames[1].pk}/annotation/").json()
    assert state["is_negative"] and state["status"] == "reviewed" and state["boxes"] == []
    page.keyboard.press("u")  # the only unlabeled frame left
    wait_ready(page, frames[2])
    assert not unexpected_errors(page), page.js_errors


@pytest.mark.django_db(transaction=True)
def test_a_failed_save_is_shown_kept_across_a_reload_and_retried(
    page, owner, project, frames, api_client_for, monkeypatch
):
    from labeling.annotations import apis as annotation_apis
    from webapp.api import ServiceUnavailable

    # The live server runs in this process: make every save fail as an outage would.
    outage = {"on": True}
    real_save = annotation_apis.annotation_save

    def save_or_fail(**kwargs):
        if outage["on"]:
            raise ServiceUnavailable("The database is unavailable.")
        return real_save(**kwargs)

    monkeypatch.setattr(annotation_apis, "annotation_save", save_or_fail)
    login(page, owner)
    page.goto(f"/projects/{project.pk}/label/?frame={frames[2].pk}")
    wait_ready(page, frames[2])
    to_screen = screen_of(page)
    drag(page, to_screen(50, 60), to_screen(150, 200))
    page.wait_for_function(
        "() => document.getElementById('editor').dataset.saveState === 'retrying'"
    )
    error = page.locator("#save-error-banner")
    error.wait_for(state="visible")
    assert "Couldn't save: the server answered 503" in error.inner_text()
    screenshot(page, "editor-save-failed")
    draft_keys = page.evaluate("() => Object.keys(localStorage).filter(k => k.includes('draft'))")
    assert draft_keys == [f"mousetrack.draft.p{project.pk}.f{frames[2].pk}"]

    # Leaving with unsaved work asks first; accept, and the draft survives the reload.
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.type), d.accept()))
    page.reload()
    wait_ready(page, frames[2])
    assert dialogs == ["beforeunload"]
    assert page.eval_on_selector("#editor", "e => e.dataset.boxCount") == "1"
    assert boxes_of(api_client_for(owner), frames[2]) == []
    error.wait_for(state="visible")

    # The server is back: the retry goes through and the draft is gone.
    outage["on"] = False
    page.click("#save-retry")
    wait_saved(page)
    assert_close(boxes_of(api_client_for(owner), frames[2]), [(50, 60, 100, 140)])
    assert page.evaluate("() => Object.keys(localStorage).filter(k => k.includes('draft'))") == []
    assert not unexpected_errors(page), page.js_errors


@pytest.mark.django_db(transaction=True)
def test_viewers_see_the_boxes_but_cannot_change_them(
    page, owner, project, frames, api_client_for, make_user, member_of
):
    box = {"class_id": project.classes.get().pk, "x": 200, "y": 100, "w": 120, "h": 90}
    api_client_for(owner).put(
        f"/api/frames/{frames[0].pk}/annotation/", {"version": 0, "boxes": [box]}, format="json"
    )
    viewer = member_of(make_user("vera"), Role.VIEWER)
    login(page, viewer)
    page.goto(f"/projects/{project.pk}/label/")
    wait_ready(page, frames[0])
    assert page.locator("#readonly-banner").is_visible()
    assert page.locator("#btn-negative").is_disabled()
    to_screen = screen_of(page)
    drag(page, to_screen(400, 300), to_screen(500, 400))  # pans instead of drawing
    page.keyboard.press("n")
    page.keyboard.press("Delete")
    assert page.eval_on_selector("#editor", "e => e.dataset.boxCount") == "1"
    assert page.eval_on_selector("#editor", "e => e.dataset.saveState") == "saved"
    frames[0].refresh_from_db()
    assert frames[0].annotation_version == 1
    screenshot(page, "editor-viewer")

    # Filters narrow the list; the URL keeps them for a reload.
    page.select_option("#filter-status", "unlabeled")
    wait_ready(page, frames[1])
    assert page.locator("#frame-position").inner_text() == "Frame 1 / 2"
    assert "status=unlabeled" in page.url
    page.select_option("#filter-status", "labeled")
    wait_ready(page, frames[0])
    assert page.locator("#frame-position").inner_text() == "Frame 1 / 1"
    assert not unexpected_errors(page), page.js_errors
