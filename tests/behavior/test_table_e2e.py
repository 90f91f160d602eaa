"""In real Chromium: the experiment table's run of each video is shown and chosen on the
page (a newer two-animal test run of a one-mouse video does not change the table until
chosen), per-animal subjects; time bins carry from the analysis page into the table and
its CSV, the by-bin switch and the downloads are disabled with the reason shown when they
cannot work; and freezing is measured by a background job on a real worker, with
progress on the page, then the result (viewers read it, annotators start it)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from django.urls import reverse

from behavior.arenas.services import arena_setup_save
from behavior.experiment.services import subject_info_save
from labeling.models import Role
from tests.behavior.test_freezing import walk_then_freeze
from tests.conftest import PASSWORD, login, screenshot, wait_for
from tests.tracking.run_helpers import (
    ARENA_CM,
    OPEN_FIELD,
    make_tracked_run,
    make_trajectory,
    make_video,
    sit_still,
    walk_right,
)
from tests.tracking.test_tracking_runs import add_video

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def mouse(project):
    """A one-mouse video tracked once for real, then by a newer two-animal test run."""
    video = make_video(project, name="m1.mp4")
    arena_setup_save(video=video, calibration="arena", arena=ARENA_CM, **OPEN_FIELD)
    subject_info_save(video=video, subject_id="M1", group="saline")
    real = make_tracked_run(project=project, video=video, trajectory=make_trajectory(walk_right()))
    pair = np.stack([walk_right(), sit_still()], axis=1)
    test = make_tracked_run(project=project, video=video, trajectory=make_trajectory(pair))
    return video, real, test


def rows(page) -> int:
    return page.locator("#results-table tbody tr").count()


@pytest.mark.django_db(transaction=True)
def test_the_tables_run_is_shown_and_chosen_and_bins_carry_into_the_csv(
    page, project, owner, mouse, tmp_path
):
    video, real, test = mouse
    login(page, owner)
    page.goto(f"/projects/{project.pk}/experiment/")
    page.wait_for_selector("#results-table[data-ready='1']")
    assert rows(page) == 1
    cell = page.locator(f"#subject-table tr[data-video='{video.pk}']:not(.animal-row) .table-run")
    assert f"run #{real.pk}" in cell.inner_text()
    assert "default: newest finished with 1 animal" in cell.inner_text()
    # No bins yet: the by-bin switch is off, and says why.
    assert page.locator("#by-bin").is_disabled()
    assert "needs a bin length" in page.locator("#by-bin-reason").inner_text()
    assert "disabled" not in page.locator("#download-csv").get_attribute("class")
    screenshot(page, "behavior-table-default-run")

    # Choose the two-animal test run: stored, shown, and the table follows (2 rows).
    cell.locator(".run-choice").select_option(str(test.pk))
    page.wait_for_load_state("load")
    page.wait_for_selector("#results-table[data-ready='1']")
    wait_for(lambda: rows(page) == 2, timeout=30, what="two rows")
    cell = page.locator(f"#subject-table tr[data-video='{video.pk}']:not(.animal-row) .table-run")
    assert "chosen" in cell.inner_text()
    animal2 = page.locator(f"tr.animal-row[data-video='{video.pk}'][data-animal='2']")
    animal2.locator("[data-field=subject_id]").fill("M2")
    animal2.locator("[data-field=group]").fill("drug")
    wait_for(lambda: "M2" in page.locator("#results-table").inner_text(), timeout=30, what="M2")

    # Bins typed in: the switch opens, the table splits, the links carry them.
    page.fill("#r-bin_s", "5")
    wait_for(lambda: page.locator("#by-bin").is_enabled(), timeout=10, what="switch")
    page.check("#by-bin")
    wait_for(lambda: rows(page) == 4, timeout=30, what="2 animals × 2 bins")
    href = page.locator("#download-csv").get_attribute("href")
    assert "bin_s=5" in href and "by_bin=true" in href
    screenshot(page, "behavior-table-chosen-run-bins")
    with page.expect_download() as info:
        page.click("#download-csv")
    saved = tmp_path / "experiment.csv"
    info.value.save_as(saved)
    df = pd.read_csv(saved)
    assert len(df) == 4 and set(df["run"]) == {test.pk}
    assert list(df["subject_id"]) == ["M1", "M1", "M2", "M2"]
    assert list(df["bin"]) == [1, 2, 1, 2]

    # Bins chosen on the analysis page travel to the table and its downloads.
    page.goto(reverse("run-analysis", args=[test.pk]))
    page.wait_for_selector("#analysis-status[data-ready='1']")
    page.fill("#p-bin_s", "2.5")
    page.click("#analyse")
    page.wait_for_selector(".bins-block:not(.d-none)")
    page.click("#to-experiment")
    page.wait_for_selector("#results-table[data-ready='1']")
    assert page.locator("#r-bin_s").input_value() == "2.5"
    assert page.locator("#by-bin").is_checked()
    wait_for(lambda: rows(page) == 8, timeout=30, what="2 animals × 4 bins")
    assert "bin_s=2.5" in page.locator("#download-xlsx").get_attribute("href")

    # A window the recording does not reach: no download link to a raw 400 page.
    page.goto(f"/projects/{project.pk}/experiment/?end_s=999")
    page.wait_for_selector("#results-errors li")
    assert "disabled" in page.locator("#download-csv").get_attribute("class")
    assert "end_s" in page.locator("#export-reason").inner_text()
    assert "end_s = 999" in page.locator("#carried-params").inner_text()
    screenshot(page, "behavior-table-export-disabled")
    assert not page.js_errors, page.js_errors


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_freezing_is_measured_in_the_background_with_progress_then_shown(
    browser, live_server, page, celery_worker, project, owner, make_user, member_of, tmp_path
):
    centres = walk_then_freeze(tmp_path / "freeze.mp4")
    video = add_video(project, tmp_path / "freeze.mp4")
    run = make_tracked_run(
        project=project, video=video, trajectory=make_trajectory(centres, size=30)
    )
    viewer = member_of(make_user("vera"), Role.VIEWER)

    # A viewer asks for freezing: nothing is decoded for them, the page says who can start.
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    other = context.new_page()
    login(other, viewer, PASSWORD)
    other.goto(reverse("run-analysis", args=[run.pk]))
    other.wait_for_selector("#analysis-status[data-ready='1']")
    other.check("#p-freezing")
    other.click("#analyse")
    other.wait_for_selector("#freezing-status[data-status='none']")
    assert "annotator or the owner can start it" in other.locator("#freezing-text").inner_text()
    assert other.locator("#freezing-start").is_hidden()
    screenshot(other, "behavior-freezing-viewer")

    # The owner asks: the job starts, the page shows progress, then the result.
    login(page, owner)
    page.goto(reverse("run-analysis", args=[run.pk]))
    page.wait_for_selector("#analysis-status[data-ready='1']")
    page.check("#p-freezing")
    page.click("#analyse")
    page.wait_for_selector("#freezing-status[data-status='succeeded']", timeout=120_000)
    card = page.locator(".animal-card").first
    assert card.locator("[data-metric=time_freezing_s]").count() == 1
    assert "measured in the background" in page.locator("#freezing-text").inner_text()
    screenshot(page, "behavior-freezing-done")

    # The viewer now reads the finished result.
    other.click("#analyse")
    other.wait_for_selector("#freezing-status[data-status='succeeded']")
    assert other.locator(".animal-card [data-metric=time_freezing_s]").count() == 1
    context.close()
    assert not page.js_errors, page.js_errors
