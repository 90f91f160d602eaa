"""In real Chromium: the editor on a 13,622-frame project (the seed paper's dataset size,
three sources at its three resolutions) opens after one page of the list, loads the next
page as navigation nears its end (and the previous one going back), jumps by URL, slider
and "next unlabeled" to frames far beyond the loaded pages, and counts from the API."""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qs, urlparse

import pytest
from PIL import Image, ImageDraw

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from labeling.models import Frame, Video
from tests.conftest import login, screenshot

pytestmark = pytest.mark.e2e

TOTAL = 13_622
SOURCES = ((640, 480), (320, 240), (656, 490))  # the seed paper's three resolutions
UNLABELED = (3, 9_000)  # positions of the only unlabeled frames
LIST_URL = re.compile(r"/api/projects/\d+/frames/\?")


def _image(width: int, height: int, shade: int) -> str:
    image = Image.new("RGB", (width, height), (shade, shade, shade - 10))
    ImageDraw.Draw(image).ellipse((width // 3, height // 3, width // 2, height // 2), fill=30)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70)
    return default_storage.save("frames/e2e-lab/source.jpg", ContentFile(buffer.getvalue()))


@pytest.fixture
def lab_frames(project) -> list[int]:
    """13,622 frame rows in list order (video, then frame index); each source's frames
    share one stored image, so the rows cost a bulk insert and three small files."""
    per_source = -(-TOTAL // len(SOURCES))
    rows = []
    for s, (width, height) in enumerate(SOURCES):
        video = Video.objects.create(
            project=project,
            kind=Video.Kind.IMAGE_SET,
            original_name=f"source {s + 1} ({width}×{height})",
            width=width,
            height=height,
            frame_count=per_source,
        )
        image = _image(width, height, 200 - 40 * s)
        for i in range(min(per_source, TOTAL - len(rows))):
            rows.append(
                Frame(
                    project=project,
                    video=video,
                    frame_index=i,
                    image=image,
                    width=width,
                    height=height,
                    source_name=f"cam{s + 1}/img{i:05d}.jpg",
                    status=Frame.Status.UNLABELED
                    if len(rows) in UNLABELED
                    else Frame.Status.LABELED,
                )
            )
    Frame.objects.bulk_create(rows, batch_size=2000)
    ids = list(
        Frame.objects.filter(project=project)
        .order_by("video_id", "frame_index", "id")
        .values_list("id", flat=True)
    )
    assert len(ids) == TOTAL
    return ids


def wait_ready(page, frame_id: int) -> None:
    page.wait_for_function(
        "id => { const e = document.getElementById('editor');"
        " return e.dataset.ready === '1' && e.dataset.frameId === String(id); }",
        arg=frame_id,
    )


def editor(page, key: str) -> str:
    return page.eval_on_selector("#editor", f"e => e.dataset.{key}")


def slide_to(page, position: int) -> None:
    page.evaluate(
        "p => { const s = document.getElementById('frame-slider'); s.value = String(p);"
        " s.dispatchEvent(new Event('input')); }",
        position,
    )


def params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


@pytest.mark.django_db(transaction=True)
def test_a_lab_scale_list_opens_after_one_page_and_navigates_beyond_it(
    page, owner, project, lab_frames
):
    ids = lab_frames
    asked: list[dict[str, str]] = []
    page.on("request", lambda r: asked.append(params(r.url)) if LIST_URL.search(r.url) else None)
    login(page, owner)
    page.goto(f"/projects/{project.pk}/label/")
    wait_ready(page, ids[0])
    # One page of the list, and the count of all of it.
    assert page.locator("#frame-position").inner_text() == "Frame 1 / 13,622"
    assert len(asked) == 1 and "after" not in asked[0] and "offset" not in asked[0]
    assert editor(page, "loaded") == "0-200"
    assert page.get_attribute("#frame-slider", "max") == str(TOTAL - 1)

    # Near the end of the loaded page the next one loads (by cursor, in the background)...
    slide_to(page, 180)
    wait_ready(page, ids[180])
    page.wait_for_function("() => document.getElementById('editor').dataset.loaded === '0-400'")
    assert asked[1]["after"] == str(ids[199]) and len(asked) == 2
    # ...so stepping past the first page's boundary needs no wait and no other request.
    for _ in range(25):
        page.keyboard.press("d")
    wait_ready(page, ids[205])
    assert page.locator("#frame-position").inner_text() == "Frame 206 / 13,622"
    assert page.locator("#frame-meta").inner_text().startswith("#205 · cam1/img00205.jpg")
    assert len(asked) == 2
    screenshot(page, "editor-lab-scale-second-page")

    # Next unlabeled: none in the 400 loaded frames; the server finds frame 9,001.
    page.keyboard.press("u")
    wait_ready(page, ids[9_000])
    assert page.locator("#frame-position").inner_text() == "Frame 9,001 / 13,622"
    search, jump = asked[2], asked[3]
    assert search["status"] == "unlabeled" and search["after"] == str(ids[399])
    assert search["limit"] == "1" and jump["around"] == str(ids[9_000])
    assert editor(page, "loaded") == "8950-9150"
    assert "source 2" in page.locator("#frame-video").inner_text()  # 320×240 source
    screenshot(page, "editor-lab-scale-next-unlabeled")
    # Again: nothing unlabeled after it, so it wraps to the list's start (frame 4).
    page.keyboard.press("u")
    wait_ready(page, ids[3])
    assert page.locator("#frame-position").inner_text() == "Frame 4 / 13,622"
    page.keyboard.press("u")
    wait_ready(page, ids[9_000])

    # A frame id in the URL opens the page around it: one list request.
    asked.clear()
    page.goto(f"/projects/{project.pk}/label/?frame={ids[12_000]}")
    wait_ready(page, ids[12_000])
    assert page.locator("#frame-position").inner_text() == "Frame 12,001 / 13,622"
    assert [a.get("around") for a in asked] == [str(ids[12_000])]
    # On a 1280-px screen the toolbar keeps one row with five-digit counters (its
    # buttons drop their labels, not the save state), and so does the navbar.
    assert page.viewport_size["width"] == 1280
    tops = page.eval_on_selector_all(
        ".editor-toolbar > *", "nodes => nodes.map(n => n.getBoundingClientRect().top)"
    )
    assert max(tops) - min(tops) < 8, tops
    assert page.locator("#save-indicator").is_visible()
    assert not page.locator("#btn-copy-prev .btn-label").is_visible()
    assert page.get_attribute("#btn-copy-prev", "aria-label")
    assert page.locator(".navbar").bounding_box()["height"] < 70
    assert editor(page, "loaded") == "11950-12150"
    # Near the window's start, the previous page loads; stepping back crosses into it.
    slide_to(page, 11_955)
    wait_ready(page, ids[11_955])
    page.wait_for_function(
        "() => document.getElementById('editor').dataset.loaded === '11750-12150'"
    )
    assert asked[-1]["before"] == str(ids[11_950])
    for _ in range(10):
        page.keyboard.press("a")
    wait_ready(page, ids[11_945])
    assert page.locator("#frame-position").inner_text() == "Frame 11,946 / 13,622"
    assert "656×490" in page.locator("#frame-meta").inner_text()

    # The slider reaches the last frame, far outside the loaded pages.
    slide_to(page, TOTAL - 1)
    wait_ready(page, ids[-1])
    assert page.locator("#frame-position").inner_text() == "Frame 13,622 / 13,622"
    page.keyboard.press("d")
    page.locator("#editor-toast.show").wait_for()
    assert "last frame" in page.locator("#editor-toast").inner_text()
    screenshot(page, "editor-lab-scale-last")

    # Filters still narrow the list (and the count).
    page.select_option("#filter-status", "unlabeled")
    wait_ready(page, ids[3])
    assert page.locator("#frame-position").inner_text() == "Frame 1 / 2"
    page.keyboard.press("d")
    wait_ready(page, ids[9_000])
    assert not page.js_errors, page.js_errors
