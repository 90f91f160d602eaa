"""In real Chromium, two users in two browser contexts label the same frame of the real
open-field video: a stale draft is never replayed over a colleague's boxes, the conflict
choice (keep theirs / keep mine / merge) is offered every time the frame is reopened and
reachable from the keyboard, and nothing is written until the user picks. Also: a tiny
mis-drag makes no box and says why."""

from __future__ import annotations

import pytest

from labeling.models import Role
from tests.conftest import login, screenshot
from tests.e2e.test_editor import (
    assert_close,
    box_count_is,
    boxes_of,
    drag,
    openfield_frames,
    screen_of,
    unexpected_errors,
    wait_ready,
    wait_saved,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def frames(project, openfield_video):
    return openfield_frames(project, openfield_video)


VIEWPORT = {"width": 1280, "height": 800}


def open_tab(context, errors: list[str]):
    """A new tab in ``context`` that records script errors and every annotation PUT."""
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.puts = []
    tab.on(
        "request",
        lambda r: tab.puts.append(r.url) if r.method == "PUT" and "/annotation/" in r.url else None,
    )
    return tab


def save_state(tab) -> str:
    return tab.eval_on_selector("#editor", "e => e.dataset.saveState")


def drafts(tab) -> list[str]:
    return tab.evaluate("() => Object.keys(localStorage).filter(k => k.includes('draft'))")


@pytest.mark.django_db(transaction=True)
def test_a_stale_draft_is_never_replayed_and_the_user_chooses_with_the_keyboard(
    browser, live_server, page, owner, project, frames, api_client_for, make_user, member_of
):
    api = api_client_for(owner)
    frame = frames[0]
    editor_url = f"/projects/{project.pk}/label/?frame={frame.pk}"
    bob = member_of(make_user("bob"), Role.ANNOTATOR)

    # Tab A (Olivia) and tab B (Bob, another browser context) both open the frame at v0.
    login(page, owner)
    page.goto(editor_url)
    wait_ready(page, frame)
    b_context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 800}
    )
    b_errors: list[str] = []
    try:
        b1 = open_tab(b_context, b_errors)
        login(b1, bob)
        b1.goto(editor_url)
        wait_ready(b1, frame)

        # A saves a box.
        to_screen = screen_of(page)
        drag(page, to_screen(100, 120), to_screen(260, 300))
        wait_saved(page)
        theirs = boxes_of(api, frame)
        assert_close(theirs, [(100, 120, 160, 180)])

        # Stale B draws another box: 409, the conflict banner, nothing of B's stored.
        to_screen = screen_of(b1)
        drag(b1, to_screen(380, 150), to_screen(520, 330))
        b1.locator("#conflict-banner").wait_for(state="visible")
        assert save_state(b1) == "conflict"
        assert boxes_of(api, frame) == theirs
        screenshot(b1, "editor-conflict-live")
        # B closes the tab without choosing: the draft stays in this browser.
        b1.close()

        # Reopened twice: each time the choice is offered again, and nothing is written.
        for attempt in (1, 2):
            tab = open_tab(b_context, b_errors)
            tab.goto(editor_url)
            wait_ready(tab, frame)
            tab.locator("#conflict-banner").wait_for(state="visible")
            assert save_state(tab) == "conflict"
            assert "olivia" in tab.locator("#conflict-text").inner_text()
            assert tab.eval_on_selector("#editor", "e => e.dataset.boxCount") == "1"  # B's draft
            # Their box shows as an outline, so the choice is made seeing both.
            assert tab.eval_on_selector("#editor", "e => e.dataset.theirBoxes") == "1"
            assert drafts(tab) == [f"mousetrack.draft.p{project.pk}.f{frame.pk}"]
            # Give a wrongly scheduled autosave every chance to fire (400 ms debounce).
            tab.wait_for_timeout(1500)
            assert tab.puts == [], tab.puts
            assert save_state(tab) == "conflict"
            frame.refresh_from_db()
            assert frame.annotation_version == 1 and boxes_of(api, frame) == theirs
            screenshot(tab, f"editor-conflict-reopened-{attempt}")
            if attempt == 1:
                tab.close()

        # The choice is keyboard reachable: focus is on the first choice; Tab reaches
        # "Merge"; editor shortcuts (Tab selects a box, Enter accepts proposals) stay out.
        focused = tab.evaluate("() => document.activeElement.id")
        assert focused == "conflict-reload", focused
        for _ in range(3):
            if tab.evaluate("() => document.activeElement.id") == "conflict-merge":
                break
            tab.keyboard.press("Tab")
        assert tab.evaluate("() => document.activeElement.id") == "conflict-merge"
        assert tab.puts == []
        tab.keyboard.press("Enter")
        tab.locator("#conflict-banner").wait_for(state="hidden")
        wait_saved(tab)
        box_count_is(tab, 2)
        assert tab.eval_on_selector("#editor", "e => e.dataset.theirBoxes") == "0"
        # Merge = their boxes plus mine; one PUT, based on their version.
        assert len(tab.puts) == 1
        frame.refresh_from_db()
        assert frame.annotation_version == 2
        assert_close(sorted(boxes_of(api, frame)), [(100, 120, 160, 180), (380, 150, 140, 180)])
        assert drafts(tab) == []
        screenshot(tab, "editor-conflict-merged")

        # Merge drops my boxes that duplicate theirs (same class, IoU > 0.9), keeps the rest.
        merged = tab.evaluate(
            # The pure module, imported beside the page's editor.js (no window globals).
            """async () => (await import(new URL("editor/geometry.js",
                document.querySelector("script[src*='labeling/editor']").src))).mergeAnnotations(
                {boxes: [{class_id: 1, x: 0, y: 0, w: 100, h: 100}], is_negative: false,
                 status: "reviewed", version: 5},
                {boxes: [{class_id: 1, x: 1, y: 1, w: 100, h: 100},
                         {class_id: 2, x: 1, y: 1, w: 100, h: 100},
                         {class_id: 1, x: 300, y: 300, w: 20, h: 20}],
                 is_negative: false, status: "labeled"})"""
        )
        assert [(b["class_id"], b["x"]) for b in merged["boxes"]] == [(1, 0), (2, 1), (1, 300)]
        assert merged["status"] == "labeled" and not merged["is_negative"]
        assert not [e for e in b_errors], b_errors
    finally:
        b_context.close()
    assert not unexpected_errors(page), page.js_errors


@pytest.mark.django_db(transaction=True)
def test_keep_theirs_after_reopening_writes_nothing_and_drops_the_draft(
    browser, live_server, page, owner, project, frames, api_client_for, make_user, member_of
):
    api = api_client_for(owner)
    frame = frames[1]
    editor_url = f"/projects/{project.pk}/label/?frame={frame.pk}"
    bob = member_of(make_user("bob"), Role.ANNOTATOR)
    login(page, owner)
    page.goto(editor_url)
    wait_ready(page, frame)
    b_context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 800}
    )
    b_errors: list[str] = []
    try:
        b1 = open_tab(b_context, b_errors)
        login(b1, bob)
        b1.goto(editor_url)
        wait_ready(b1, frame)
        to_screen = screen_of(page)
        drag(page, to_screen(100, 120), to_screen(260, 300))
        wait_saved(page)
        theirs = boxes_of(api, frame)
        to_screen = screen_of(b1)
        drag(b1, to_screen(380, 150), to_screen(520, 330))
        b1.locator("#conflict-banner").wait_for(state="visible")
        b1.close()

        tab = open_tab(b_context, b_errors)
        tab.goto(editor_url)
        wait_ready(tab, frame)
        tab.locator("#conflict-banner").wait_for(state="visible")
        assert tab.evaluate("() => document.activeElement.id") == "conflict-reload"
        tab.keyboard.press("Enter")  # "Keep theirs"
        tab.locator("#conflict-banner").wait_for(state="hidden")
        wait_saved(tab)
        box_count_is(tab, 1)
        assert tab.puts == []
        assert drafts(tab) == []
        frame.refresh_from_db()
        assert frame.annotation_version == 1 and boxes_of(api, frame) == theirs

        # Reopened once more: no banner, no draft, their boxes.
        tab.close()
        tab = open_tab(b_context, b_errors)
        tab.goto(editor_url)
        wait_ready(tab, frame)
        box_count_is(tab, 1)
        assert tab.locator("#conflict-banner").is_hidden()
        assert save_state(tab) == "saved" and tab.puts == []
        assert not b_errors, b_errors
    finally:
        b_context.close()


@pytest.mark.django_db(transaction=True)
def test_a_draft_without_a_known_base_version_is_never_sent(
    page, owner, project, frames, api_client_for
):
    """A draft left by an older editor (no format, so its base version cannot be trusted)
    that differs from the server is offered as a conflict, not replayed."""
    api = api_client_for(owner)
    frame = frames[2]
    mouse = project.classes.get().pk
    theirs = {"class_id": mouse, "x": 200, "y": 100, "w": 120, "h": 90}
    api.put(f"/api/frames/{frame.pk}/annotation/", {"version": 0, "boxes": [theirs]}, format="json")
    login(page, owner)
    page.goto(f"/projects/{project.pk}/label/")
    key = f"mousetrack.draft.p{project.pk}.f{frame.pk}"
    mine = {"class_id": mouse, "x": 20, "y": 30, "w": 40, "h": 50}
    page.evaluate(
        "([key, box]) => localStorage.setItem(key, JSON.stringify({baseVersion: 1, inflight: null,"
        " local: {boxes: [box], is_negative: false, status: 'labeled'}, savedAt: 1}))",
        [key, mine],
    )
    puts: list[str] = []
    page.on("request", lambda r: puts.append(r.url) if r.method == "PUT" else None)
    page.goto(f"/projects/{project.pk}/label/?frame={frame.pk}")
    wait_ready(page, frame)
    page.locator("#conflict-banner").wait_for(state="visible")
    page.wait_for_timeout(1000)
    assert puts == []
    assert boxes_of(api, frame) == [(200, 100, 120, 90)]
    page.click("#conflict-keep")  # an explicit overwrite, based on the server's version
    page.locator("#conflict-banner").wait_for(state="hidden")
    wait_saved(page)
    assert boxes_of(api, frame) == [(20, 30, 40, 50)]
    assert not unexpected_errors(page), page.js_errors


@pytest.mark.django_db(transaction=True)
def test_a_tiny_mis_drag_makes_no_box_and_says_why(page, owner, project, frames, api_client_for):
    login(page, owner)
    page.goto(f"/projects/{project.pk}/label/?frame={frames[0].pk}")
    wait_ready(page, frames[0])
    puts: list[str] = []
    page.on("request", lambda r: puts.append(r.url) if r.method == "PUT" else None)
    to_screen = screen_of(page)
    drag(page, to_screen(200, 200), to_screen(208, 208))  # the reported 8x8 px box
    toast = page.locator("#editor-toast.show")
    toast.wait_for(state="attached")
    assert "No box" in toast.inner_text() and "px" in toast.inner_text(), toast.inner_text()
    screenshot(page, "editor-tiny-drag")
    assert page.eval_on_selector("#editor", "e => e.dataset.boxCount") == "0"
    page.wait_for_timeout(800)
    assert puts == [] and boxes_of(api_client_for(owner), frames[0]) == []
    # A real drag still draws.
    drag(page, to_screen(200, 200), to_screen(260, 250))
    wait_saved(page)
    assert_close(boxes_of(api_client_for(owner), frames[0]), [(200, 200, 60, 50)])
    assert not unexpected_errors(page), page.js_errors
