"""``manage.py add_video``: the same checks as an upload, an id on stdout, nothing created
on failure."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from kombu.exceptions import OperationalError

from django.core.management import CommandError, call_command

from labeling import tasks
from labeling.models import FrameSamplingJob, Video
from tests.conftest import wait_for
from tests.labeling.video_helpers import (
    files_on_disk,
    png_bytes,
    table_counts,
    write_video,
    zip_bytes,
)
from webapp.models import JobStatus


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("videos") / "cage 4.mp4", frames=12, fps=10)


def add_video(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("add_video", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_adds_a_video_and_prints_its_id(project, tiny_path):
    out, err = add_video("--project", "Open field", str(tiny_path))
    video = Video.objects.get()
    assert out.strip() == str(video.pk)
    assert (video.original_name, video.frame_count, video.width, video.height) == (
        "cage 4.mp4",
        12,
        64,
        48,
    )
    assert video.project == project and video.file.name.endswith(".mp4")
    assert "12 frames" in err
    assert not FrameSamplingJob.objects.exists()


@pytest.mark.django_db
def test_the_project_name_is_case_insensitive_and_a_zip_becomes_an_image_set(project, tmp_path):
    archive = tmp_path / "frames.zip"
    archive.write_bytes(zip_bytes({"a.png": png_bytes(), "b.png": png_bytes()}))
    out, _ = add_video("--project", "open FIELD", str(archive))
    video = Video.objects.get(pk=int(out))
    assert video.kind == Video.Kind.IMAGE_SET and video.frames.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content,reason",
    [
        (b"", "empty"),
        (b"\x00\x01junk" * 1000, "not a video"),
    ],
)
def test_a_bad_file_creates_nothing(project, tmp_path, content, reason):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    before = (files_on_disk(), table_counts())
    with pytest.raises(CommandError, match=reason):
        add_video("--project", "Open field", str(bad))
    assert (files_on_disk(), table_counts()) == before


@pytest.mark.django_db
def test_unknown_project_missing_file_and_bad_interval_are_errors(project, tiny_path, tmp_path):
    with pytest.raises(CommandError, match="No project named"):
        add_video("--project", "Nope", str(tiny_path))
    with pytest.raises(CommandError, match="no such file"):
        add_video("--project", "Open field", str(tmp_path / "missing.mp4"))
    with pytest.raises(CommandError, match="between 0.01 and 3600"):
        add_video("--project", "Open field", str(tiny_path), "--sample-every", "0")
    assert not Video.objects.exists()


@pytest.mark.django_db
def test_in_place_registers_a_file_under_the_shared_roots(project, tiny_path, tmp_path, settings):
    share = tmp_path / "share"
    share.mkdir()
    target = share / "m1.mp4"
    target.write_bytes(tiny_path.read_bytes())
    settings.SHARED_VIDEO_ROOTS = [share]
    out, _ = add_video("--project", "Open field", "--in-place", str(target))
    video = Video.objects.get(pk=int(out))
    assert video.external_path == str(target) and not video.file
    outside = tmp_path / "elsewhere.mp4"
    outside.write_bytes(tiny_path.read_bytes())
    with pytest.raises(CommandError, match="outside the shared video folders"):
        add_video("--project", "Open field", "--in-place", str(outside))


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_sampling_fails_and_nothing_is_kept(project, tiny_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("Connection refused.")

    monkeypatch.setattr(tasks.frame_sampling_run, "apply_async", refuse)
    before = (files_on_disk(), table_counts())
    with pytest.raises(CommandError, match="Sampling could not be queued"):
        add_video("--project", "Open field", str(tiny_path), "--sample-every", "0.5")
    assert (files_on_disk(), table_counts()) == before


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_sample_every_queues_sampling_that_the_worker_runs(celery_worker, project, tiny_path):
    out, err = add_video("--project", "Open field", str(tiny_path), "--sample-every", "0.5")
    video = Video.objects.get(pk=int(out))
    job = video.sampling_jobs.get()
    assert f"Sampling job {job.pk} queued" in err
    done = wait_for(
        lambda: FrameSamplingJob.objects.filter(
            pk=job.pk, status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED]
        ).first(),
        timeout=120,
        what="sampling",
    )
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert list(video.frames.values_list("frame_index", flat=True)) == [0, 5, 10]
