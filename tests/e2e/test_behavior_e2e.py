"""In real Chromium: draw a ruler and the open-field arena on a tracked video, save, read
the analysis (measures and heatmap), then fill in a subject on the experiment page and
download the one-row-per-animal CSV."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from tests.conftest import login, screenshot, wait_for
from tests.tracking.run_helpers import make_tracked_run, make_trajectory, make_video, walk_right
from tracking.behavior_models import ArenaSetup

pytestmark = pytest.mark.e2e


def image_to_screen(page):
    """Map original-video pixels (640×480) to page coordinates on the arena stage."""
    box = page.locator("#arena-stage .konvajs-content").bounding_box()
    k = box["width"] / 640

    def to_screen(x: float, y: float) -> tuple[float, float]:
        return box["x"] + x * k, box["y"] + y * k

    return to_screen


def drag(page, start, end) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=10)
    page.mouse.up()


def image_loaded(page, selector: str) -> bool:
    return page.locator(selector).first.evaluate("img => img.complete && img.naturalWidth > 0")


@pytest.mark.django_db(transaction=True)
def test_draw_an_arena_read_the_analysis_and_download_the_experiment(
    page, project, owner, tmp_path
):
    video = make_video(project, name="cage3-day1.mp4")
    run = make_tracked_run(project=project, video=video, trajectory=make_trajectory(walk_right()))
    login(page, owner)
    page.goto(f"/projects/{project.pk}/videos/{video.pk}/arena/")
    page.wait_for_selector("#zone-empty:not(.d-none)")
    page.wait_for_selector("#arena-stage .konvajs-content")
    at = image_to_screen(page)

    # A ruler along the bottom wall: 480 px for 48 cm.
    page.click("label[for=tool-ruler]")
    drag(page, at(80, 440), at(560, 440))
    page.fill("#ruler-length", "48")
    assert page.locator("#calibration-readout").inner_text().startswith("10.0")

    # The open-field preset from the arena outline.
    page.click("#preset-open-field")
    assert page.locator("#tool-outline").is_checked()
    drag(page, at(80, 40), at(560, 440))
    page.click("#preset-apply")
    page.wait_for_selector("#zone-table tbody tr:nth-child(2)")
    names = page.locator("#zone-table .zone-name")
    assert [names.nth(i).input_value() for i in range(names.count())] == ["centre", "periphery"]
    screenshot(page, "behavior-arena")

    page.click("#arena-save")
    page.wait_for_selector("#arena-status[data-saved='1']")
    setup = ArenaSetup.objects.get(video=video)
    assert setup.calibration_method == "ruler"
    assert setup.px_per_cm == pytest.approx(10.0, rel=0.01)
    assert setup.preset == "open_field" and [z["name"] for z in setup.zones] == [
        "centre",
        "periphery",
    ]
    centre = setup.zones[0]
    assert centre["x"] == pytest.approx(200, abs=2) and centre["w"] == pytest.approx(240, abs=2)

    # The analysis of the run: measures per zone and the images.
    page.click("#open-analysis")
    page.wait_for_url(f"**/tracking-runs/{run.pk}/analysis/")
    page.wait_for_selector("#analysis-status[data-ready='1']")
    card = page.locator(".animal-card").first
    assert "Distance" in card.inner_text() and "cm" in card.inner_text()
    distance = card.locator(".animal-metrics .fw-semibold").first.inner_text()
    assert float(distance.split()[0]) == pytest.approx(29.9, rel=0.02)
    assert card.locator("tr[data-zone=centre] td").nth(3).inner_text() == "1"  # one entry
    wait_for(lambda: image_loaded(page, ".heatmap-image"), timeout=60, what="heatmap")
    wait_for(lambda: image_loaded(page, ".trajectory-image"), timeout=60, what="trajectory")
    page.click("#definitions summary")
    screenshot(page, "behavior-analysis")

    # A window past the end is refused, naming the field.
    page.fill("#p-end_s", "600")
    page.click("#analyse")
    page.wait_for_selector("#analysis-errors li")
    assert page.locator("#analysis-errors").inner_text().startswith("end_s:")

    # The experiment page: a subject typed in, then the CSV.
    page.click("nav >> text=Experiment")
    page.wait_for_url(f"**/projects/{project.pk}/experiment/")
    page.wait_for_selector("#results-table[data-ready='1']")
    row = page.locator(f"#subject-table tr[data-video='{video.pk}']")
    row.locator("[data-field=subject_id]").fill("M07")
    row.locator("[data-field=group]").fill("saline")
    page.wait_for_selector(f"#subject-table tr[data-video='{video.pk}'][data-saved='1']")
    wait_for(lambda: "saline" in page.locator("#results-table").inner_text(), timeout=30)
    wait_for(lambda: image_loaded(page, "#summary-plot"), timeout=60, what="group plot")
    screenshot(page, "behavior-experiment")
    with page.expect_download() as info:
        page.click("#download-csv")
    download = info.value
    assert download.suggested_filename == f"project-{project.pk}-experiment.csv"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    df = pd.read_csv(io.StringIO(path.read_text()))
    assert len(df) == 1
    assert df.loc[0, "video"] == "cage3-day1.mp4" and df.loc[0, "group"] == "saline"
    assert df.loc[0, "subject_id"] == "M07" and df.loc[0, "units"] == "cm"
    assert df.loc[0, "zone:centre:entries"] == 1
    assert not page.js_errors, page.js_errors
