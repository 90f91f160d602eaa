"""In real Chromium, on a real tracking run of the shared open-field recording: draw a ruler
and the open-field preset over a still of the video, save, read the analysis (measures,
zones, heatmap, trajectory), fill in a subject on the experiment page, see the results
table and the group summary, and download the one-row-per-animal CSV.

The run is a real one: a 5-second clip of the shared video (frames 330–479, where the mouse
crosses the middle of the arena) tracked by a real Celery worker with the detector trained
on that video (``openfield_weights``). The figures the page shows are checked against a
straightforward computation from the run's own per-frame CSV, written here.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from behavior.experiment.services import analysis_settings_save
from behavior.models import ArenaSetup
from tests.conftest import login, screenshot, wait_for
from tests.tracking.openfield_model import register_openfield_model
from tests.tracking.test_tracking_runs import add_video, clip, finished, start_run
from webapp.models import JobStatus

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.slow]

CLIP_START_S, CLIP_FRAMES = 11.0, 150
# The white floor of the shared recording (inner walls), original-video pixels.
FLOOR = (12, 50, 616, 468)
RULER_CM = 60.0  # the length typed for the ruler drawn along the floor's bottom edge


def image_to_screen(page, width: int = 640):
    """Map original-video pixels to page coordinates on the arena stage."""
    box = page.locator("#arena-stage .konvajs-content").bounding_box()
    k = box["width"] / width

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


def expected_from_csv(table: pd.DataFrame, centre: dict, px_per_cm: float) -> dict:
    """Distance, centre time and centre entries by the issue's definitions, computed the
    plain way from the per-frame CSV (one animal): steps between consecutive tracked frames
    at most 0.5 s apart; a frame lasts until the next; the start position is no entry."""
    t = table.time_s.to_numpy(float)
    xy = table[["x", "y"]].to_numpy(float)
    duration = np.append(np.diff(t), np.median(np.diff(t)))
    distance, centre_s, entries, visits = 0.0, 0.0, 0, 0
    prev = None  # (time, x, y, inside) of the previous tracked frame
    for i in range(len(t)):
        x, y = xy[i]
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        inside = (
            centre["x"] <= x <= centre["x"] + centre["w"]
            and centre["y"] <= y <= centre["y"] + centre["h"]
        )
        if inside:
            centre_s += duration[i]
            visits += prev is None or not prev[3]
        if prev is not None:
            if t[i] - prev[0] <= 0.5 + 1e-9:
                distance += float(np.hypot(x - prev[1], y - prev[2]))
            if inside and not prev[3]:
                entries += 1
        prev = (t[i], x, y, inside)
    return {
        "distance_cm": distance / px_per_cm,
        "centre_s": centre_s,
        "entries": entries,
        "visits": visits,
    }


@pytest.mark.django_db(transaction=True)
def test_ruler_and_open_field_on_a_real_run_measures_heatmap_table_and_csv(
    page, celery_worker, openfield_weights, project, owner, api_client_for, tmp_path
):
    model = register_openfield_model(project=project, weights=openfield_weights)
    path = clip(tmp_path / "openfield-m3v1-11s.mp4", frames=CLIP_FRAMES, start_s=CLIP_START_S)
    video = add_video(project, path)
    run = start_run(api_client_for, owner, project, model, video)
    wait_for(lambda: finished(run), timeout=600, what="the tracking run")
    assert run.status == JobStatus.SUCCEEDED, f"{run.error}\n{celery_worker.log()[-3000:]}"

    # The plain computation below counts every change of side as an entry: no minimum
    # bout (the project default, 0.2 s, is tested in tests/behavior/core/).
    analysis_settings_save(project=project, min_bout_s=0)
    login(page, owner)
    page.set_viewport_size({"width": 1280, "height": 1000})  # the whole 640×480 stage in view
    page.goto(f"/projects/{project.pk}/videos/{video.pk}/arena/")
    page.wait_for_selector("#zone-empty:not(.d-none)")
    page.wait_for_selector("#arena-stage .konvajs-content")
    at = image_to_screen(page)
    x1, y1, x2, y2 = FLOOR

    # A ruler along the floor's bottom edge, typed in as 60 cm.
    page.click("label[for=tool-ruler]")
    drag(page, at(x1, y2 - 4), at(x2, y2 - 4))
    page.fill("#ruler-length", str(RULER_CM))
    shown = float(page.locator("#calibration-readout").inner_text().split()[0])
    assert shown == pytest.approx((x2 - x1) / RULER_CM, rel=0.01)

    # The open-field preset from the arena outline dragged over the floor.
    page.click("#preset-open-field")
    assert page.locator("#tool-outline").is_checked()
    drag(page, at(x1, y1), at(x2, y2))
    page.click("#preset-apply")
    page.wait_for_selector("#zone-table tbody tr:nth-child(2)")
    names = page.locator("#zone-table .zone-name")
    assert [names.nth(i).input_value() for i in range(names.count())] == ["centre", "periphery"]
    screenshot(page, "behavior-arena-real")

    page.click("#arena-save")
    page.wait_for_selector("#arena-status[data-saved='1']")
    setup = ArenaSetup.objects.get(video=video)
    assert setup.calibration_method == "ruler" and setup.preset == "open_field"
    r = setup.ruler
    ruler_px = np.hypot(r["x2"] - r["x1"], r["y2"] - r["y1"])
    assert setup.px_per_cm == pytest.approx(ruler_px / RULER_CM, rel=1e-9)
    centre = setup.zones[0]
    assert centre["name"] == "centre" and centre["shape"] == "rect"
    # 50 % of the side of the dragged outline, concentric (within a screen pixel).
    assert centre["w"] == pytest.approx((x2 - x1) / 2, abs=2)
    assert centre["x"] + centre["w"] / 2 == pytest.approx((x1 + x2) / 2, abs=2)

    csv_response = api_client_for(owner).get(f"/api/tracking-runs/{run.pk}/trajectory.csv")
    track = pd.read_csv(io.BytesIO(b"".join(csv_response.streaming_content)))
    assert len(track) == CLIP_FRAMES
    want = expected_from_csv(track, centre, setup.px_per_cm)
    # The clip was chosen so the mouse crosses the centre: a test of something.
    assert want["entries"] >= 1 and 0.5 < want["centre_s"] < 4.5, want

    # The analysis page: locomotion and zone measures, the heatmap and the trajectory.
    page.click("#open-analysis")
    page.wait_for_url(f"**/tracking-runs/{run.pk}/analysis/")
    page.wait_for_selector("#analysis-status[data-ready='1']")
    card = page.locator(".animal-card").first
    metrics = card.locator(".animal-metrics")
    assert "cm" in metrics.inner_text()
    distance = float(card.locator("[data-metric=distance] .fw-semibold").inner_text().split()[0])
    assert distance == pytest.approx(want["distance_cm"], abs=0.06)
    cells = card.locator("tr[data-zone=centre] td")
    assert float(cells.nth(1).inner_text()) == pytest.approx(want["centre_s"], abs=0.05 + 1 / 30)
    assert int(cells.nth(3).inner_text()) == want["entries"]
    for key in ("time_moving_s", "time_immobile_s", "max_speed"):
        assert card.locator(f"[data-metric={key}]").count() == 1, key
    wait_for(lambda: image_loaded(page, ".heatmap-image"), timeout=60, what="heatmap")
    wait_for(lambda: image_loaded(page, ".trajectory-image"), timeout=60, what="trajectory")
    page.click("#definitions summary")
    screenshot(page, "behavior-analysis-real")

    # 1-s bins, freezing (decodes the clip) and a blurred heatmap.
    page.fill("#p-bin_s", "1")
    page.check("#p-freezing")
    page.fill("#p-sigma_cells", "1.5")
    page.click("#analyse")
    # Freezing is measured by a background job (progress shown), then the page re-reads.
    page.wait_for_selector("#freezing-status[data-status='succeeded']", timeout=120_000)
    page.wait_for_selector("#analysis-status[data-ready='1']", timeout=120_000)
    card = page.locator(".animal-card").first
    assert card.locator(".bin-results tbody tr").count() == 5
    assert card.locator("[data-metric=time_freezing_s]").count() == 1
    assert "freezing below 0.02" in page.locator("#analysis-status").inner_text()
    card.locator(".bouts-block summary").click()
    assert card.locator(".bout-results tbody tr[data-zone=centre]").count() == want["visits"]
    wait_for(lambda: image_loaded(page, ".heatmap-image"), timeout=60, what="blurred heatmap")
    assert "sigma_cells=1.5" in card.locator(".heatmap-image").get_attribute("src")
    screenshot(page, "behavior-analysis-bins-real")

    # A window past the end of the 5-s clip is refused, naming the field.
    page.fill("#p-end_s", "60")
    page.click("#analyse")
    page.wait_for_selector("#analysis-errors li")
    assert page.locator("#analysis-errors").inner_text().startswith("end_s:")

    # The experiment page: a subject typed in, the table, the group summary, the CSV.
    page.click("nav >> text=Experiment")
    page.wait_for_url(f"**/projects/{project.pk}/experiment/")
    page.wait_for_selector("#results-table[data-ready='1']")
    row = page.locator(f"#subject-table tr[data-video='{video.pk}']")
    row.locator("[data-field=subject_id]").fill("m3")
    row.locator("[data-field=group]").fill("control")
    page.wait_for_selector(f"#subject-table tr[data-video='{video.pk}'][data-saved='1']")
    wait_for(lambda: "control" in page.locator("#results-table").inner_text(), timeout=30)
    wait_for(lambda: image_loaded(page, "#summary-plot"), timeout=60, what="group plot")
    page.check("#with-freezing")
    wait_for(
        lambda: "time_freezing_s" in page.locator("#results-table thead").inner_text(),
        timeout=120,
        what="the freezing column",
    )
    screenshot(page, "behavior-experiment-real")
    with page.expect_download() as info:
        page.click("#download-csv")
    download = info.value
    assert download.suggested_filename == f"project-{project.pk}-experiment.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    df = pd.read_csv(saved)
    assert len(df) == 1
    assert df.loc[0, "video"] == path.name and df.loc[0, "group"] == "control"
    assert df.loc[0, "subject_id"] == "m3" and df.loc[0, "units"] == "cm"
    assert df.loc[0, "distance"] == pytest.approx(want["distance_cm"], rel=1e-3)
    assert df.loc[0, "zone:centre:time_s"] == pytest.approx(want["centre_s"], abs=1 / 30)
    assert df.loc[0, "zone:centre:entries"] == want["entries"]
    assert 0 <= df.loc[0, "time_freezing_s"] <= CLIP_FRAMES / 30
    # The trust figures of the run travel with the measures.
    assert df.loc[0, "trust:detected_pct"] == pytest.approx(run.trust["detected_pct"])
    assert not page.js_errors, page.js_errors


@pytest.mark.django_db(transaction=True)
def test_circle_and_polygon_arena_outlines_drive_presets_and_calibration(page, project, owner):
    """Round arenas and mazes seen at an angle: the outline is a circle (dragged from the
    centre) or a polygon (its corners clicked in order). No worker: a constructed run."""
    from tests.tracking.run_helpers import make_tracked_run, make_trajectory, make_video, walk_right

    video = make_video(project, name="round-arena.mp4")
    make_tracked_run(project=project, video=video, trajectory=make_trajectory(walk_right()))
    login(page, owner)
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(f"/projects/{project.pk}/videos/{video.pk}/arena/")
    page.wait_for_selector("#arena-stage .konvajs-content")
    at = image_to_screen(page)

    # A round open field of 40 cm diameter: 200 px radius around (320, 240).
    page.select_option("#outline-shape", "circle")
    assert page.locator("#tool-outline").is_checked()
    drag(page, at(320, 240), at(520, 240))
    page.check("#calibration-arena")
    page.fill("#arena-width-cm", "40")
    page.fill("#arena-height-cm", "40")
    shown = float(page.locator("#calibration-readout").inner_text().split()[0])
    assert shown == pytest.approx(10.0, rel=0.01)
    page.click("#preset-open-field")
    page.click("#preset-apply")
    page.wait_for_selector("#zone-table tbody tr:nth-child(2)")
    screenshot(page, "behavior-arena-circle")
    page.click("#arena-save")
    page.wait_for_selector("#arena-status[data-saved='1']")
    setup = ArenaSetup.objects.get(video=video)
    outline = setup.preset_params["outline"]
    assert outline["shape"] == "circle" and outline["r"] == pytest.approx(200, abs=1.5)
    assert setup.calibration_method == "arena"
    assert setup.px_per_cm == pytest.approx(outline["r"] * 2 / 40)
    centre, periphery = setup.zones
    assert centre["shape"] == "polygon" and len(centre["points"]) == 128
    assert periphery["holes"] and periphery["group"] == centre["group"]

    # A light/dark box filmed at an angle: four corners clicked in order.
    page.select_option("#outline-shape", "polygon")
    at = image_to_screen(page)  # the longer hint moved the stage down
    corners = [(100, 80), (540, 100), (560, 420), (80, 400)]
    for x, y in corners:
        page.mouse.click(*at(x, y))
    page.mouse.click(*at(*corners[0]))  # back on the first corner closes it
    # Its real inner size: about 460 × 321 px for 46 × 32 cm.
    page.fill("#arena-width-cm", "46")
    page.fill("#arena-height-cm", "32")
    shown = float(page.locator("#calibration-readout").inner_text().split()[0])
    assert shown == pytest.approx(10.0, rel=0.01)
    page.click("#preset-light-dark")
    page.click("#preset-apply")
    wait_for(
        lambda: (
            page.locator("#zone-table .zone-name").count() == 2
            and page.locator("#zone-table .zone-name").first.input_value() == "light"
        ),
        timeout=20,
        what="the light/dark zones",
    )
    page.click("#arena-save")
    page.wait_for_selector("#arena-status:has-text('Saved:')")
    setup.refresh_from_db()
    assert setup.preset == "light_dark_box"
    outline = setup.preset_params["outline"]
    assert outline["shape"] == "polygon" and len(outline["points"]) == 4
    for (x, y), (px, py) in zip(corners, outline["points"], strict=True):
        assert (px, py) == (pytest.approx(x, abs=1.5), pytest.approx(y, abs=1.5))
    assert [z["name"] for z in setup.zones] == ["light", "dark"]
    assert setup.px_per_cm == pytest.approx(10.0, rel=0.01)
    screenshot(page, "behavior-arena-polygon")
    assert not page.js_errors, page.js_errors
