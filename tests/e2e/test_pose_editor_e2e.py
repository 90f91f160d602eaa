"""In real Chromium: define a skeleton on the project's page, then label a mouse's keypoints
on a real open-field frame with clicks and keys (place in order, skip, occluded, drag,
undo); autosaved with the box through the annotation API."""

from __future__ import annotations

import pytest

from labeling.models import Skeleton
from tests.conftest import login, screenshot
from tests.e2e.test_editor import (
    box_count_is,
    drag,
    openfield_frames,
    screen_of,
    unexpected_errors,
    wait_ready,
    wait_saved,
)

pytestmark = pytest.mark.e2e


def keypoints_of(client, frame) -> list:
    data = client.get(f"/api/frames/{frame.pk}/annotation/").json()
    return [b.get("keypoints", []) for b in data["boxes"]]


def assert_points(actual, expected, tolerance=1.5) -> None:
    assert len(actual) == len(expected), (actual, expected)
    for (x, y, v), (ex, ey, ev) in zip(actual, expected, strict=True):
        assert v == ev and abs(x - ex) <= tolerance and abs(y - ey) <= tolerance, (actual, expected)


@pytest.mark.django_db(transaction=True)
def test_define_a_skeleton_and_label_keypoints_with_clicks_and_keys(
    page, owner, project, openfield_video, api_client_for
):
    frames = openfield_frames(project, openfield_video)
    api = api_client_for(owner)
    login(page, owner)

    # The skeleton, from the project's settings page.
    page.goto(f"/projects/{project.pk}/")
    page.click("#skeleton-link")
    page.fill("#id_keypoints", "snout\near_left\near_right\ntail_base")
    page.fill("#id_edges", "snout, ear_left\nsnout, ear_right\nsnout, tail_base")
    page.fill("#id_flip_pairs", "ear_left, ear_right")
    page.click("#skeleton-form button[type=submit]")
    page.wait_for_selector("#skeleton-keypoints")
    assert Skeleton.objects.get(project=project).flip_pairs == [[1, 2]]
    screenshot(page, "pose-skeleton-settings")

    page.goto(f"/projects/{project.pk}/label/")
    wait_ready(page, frames[0])
    to_screen = screen_of(page)
    drag(page, to_screen(100, 120), to_screen(260, 300))
    box_count_is(page, 1)
    wait_saved(page)
    assert page.eval_on_selector("#editor", "e => e.dataset.selected") == "0"

    # K: place in skeleton order; the next name follows the pointer.
    page.keyboard.press("k")
    page.wait_for_function("() => document.getElementById('editor').dataset.kpNext === 'snout'")
    page.mouse.move(*to_screen(250, 200))
    screenshot(page, "pose-editor-next-name")
    page.mouse.click(*to_screen(250, 200))  # snout
    page.wait_for_function("() => document.getElementById('editor').dataset.kpNext === 'ear_left'")
    page.mouse.click(*to_screen(230, 180))  # ear_left
    page.keyboard.press("s")  # ear_right: not visible, skipped
    page.wait_for_function("() => document.getElementById('editor').dataset.kpNext === 'tail_base'")
    page.mouse.click(*to_screen(120, 220))  # tail_base: the last one ends placing
    page.wait_for_function("() => document.getElementById('editor').dataset.kpMode === '0'")
    page.keyboard.press("o")  # the last placed (tail base) is occluded
    wait_saved(page)
    (points,) = keypoints_of(api, frames[0])
    assert_points(points, [[250, 200, 2], [230, 180, 2], [0, 0, 0], [120, 220, 1]])

    # Drag the snout to adjust it; then undo brings it back.
    drag(page, to_screen(250, 200), to_screen(255, 190))
    wait_saved(page)
    (points,) = keypoints_of(api, frames[0])
    assert_points(points[:1], [[255, 190, 2]])
    screenshot(page, "pose-editor-skeleton-drawn")
    page.keyboard.press("Control+z")
    wait_saved(page)
    (points,) = keypoints_of(api, frames[0])
    assert_points(points[:1], [[250, 200, 2]])

    # Moving the box takes its keypoints along.
    drag(page, to_screen(180, 280), to_screen(190, 290))
    wait_saved(page)
    (points,) = keypoints_of(api, frames[0])
    assert_points(points, [[260, 210, 2], [240, 190, 2], [0, 0, 0], [130, 230, 1]])

    # C on the next frame copies the previous frame's box with its keypoints.
    page.keyboard.press("d")
    wait_ready(page, frames[1])
    page.keyboard.press("c")
    box_count_is(page, 1)
    wait_saved(page)
    (copied,) = keypoints_of(api, frames[1])
    assert_points(copied, [[260, 210, 2], [240, 190, 2], [0, 0, 0], [130, 230, 1]])
    assert not unexpected_errors(page)
