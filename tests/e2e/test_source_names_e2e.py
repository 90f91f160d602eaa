"""In real Chromium: a frame of an image set shows its own file name in the editor and on the
source's page (image sets remember each image's name and folder)."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from labeling.videos.services import IncomingFile, imageset_upload
from tests.conftest import login, screenshot

pytestmark = pytest.mark.e2e


def _png(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (160, 120), (value, 60, 60)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.django_db(transaction=True)
def test_editor_and_source_page_show_the_image_file_name(page, owner, project, tmp_path):
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("day1/cam 2 <b>x</b>.png", _png(40))
        zf.writestr("day1/cam 3.png", _png(90))
    video = imageset_upload(
        project=project,
        user=owner,
        files=[IncomingFile(path=archive, name="set.zip", size=archive.stat().st_size)],
    )
    first = video.frames.order_by("frame_index").first()
    login(page, owner)
    page.goto(f"/projects/{project.pk}/label/")
    page.wait_for_function(
        "id => { const e = document.getElementById('editor');"
        " return e.dataset.ready === '1' && e.dataset.frameId === String(id); }",
        arg=first.pk,
    )
    # The name is text, not markup.
    assert page.locator("#frame-meta").inner_text() == "#0 · day1/cam 2 <b>x</b>.png · 160×120"
    screenshot(page, "editor-source-name")
    page.goto(f"/projects/{project.pk}/videos/{video.pk}/")
    captions = page.locator("#frame-grid figcaption").all_inner_texts()
    assert any("day1/cam 3.png" in text for text in captions)
    screenshot(page, "video-detail-source-names")


@pytest.mark.django_db(transaction=True)
def test_dataset_page_names_the_layout_and_shows_the_warning(
    page, owner, project, tmp_path, celery_worker
):
    archive = tmp_path / "voc-lab.zip"
    xml = (
        "<annotation><filename>m1.png</filename><size><width>160</width><height>120</height>"
        "</size><object><name>mouse</name><bndbox><xmin>3</xmin><ymin>4</ymin><xmax>40</xmax>"
        "<ymax>30</ymax></bndbox></object></annotation>"
    )
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("JPEGImages/m1.png", _png(40))
        zf.writestr("JPEGImages/m2.png", _png(80))
        zf.writestr("Annotations/m1.xml", xml)
        zf.writestr("ImageSets/Main/train.txt", "m1\nm2\n")
    login(page, owner)
    page.goto(f"/projects/{project.pk}/dataset/")
    page.set_input_files("#import-file", str(archive))
    page.click("#import-submit")
    page.wait_for_selector("text=Layout: Pascal VOC")
    page.wait_for_selector("text=imported as unlabeled frames")
    page.click("#import-layouts summary")
    assert page.locator("#import-layouts li").count() == 10
    screenshot(page, "dataset-import-layout-warning")
