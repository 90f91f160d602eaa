"""``manage.py export_dataset`` and ``manage.py import_dataset`` (which queues a job: a real
worker runs it)."""

from __future__ import annotations

import io
import zipfile

import pytest

from django.core.management import call_command
from django.core.management.base import CommandError

from labeling.models import Frame, Project, ProjectMembership, Role
from tests.labeling.dataset_helpers import annotation_of, populate, snapshot, write_zip


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_export_to_a_folder_and_to_a_zip(project, tmp_path):
    populate(project)
    text = run("export_dataset", "--project", "open field", "--format", "yolo", str(tmp_path / "y"))
    assert "Exported 6 images (2 negatives), 5 boxes" in text
    assert (tmp_path / "y/data.yaml").is_file()
    run(
        "export_dataset",
        "--project",
        project.name,
        "--format",
        "coco",
        "--split",
        "train",
        str(tmp_path / "train.zip"),
    )
    with zipfile.ZipFile(tmp_path / "train.zip") as zf:
        assert "annotations/instances_train.json" in zf.namelist()
        assert not [n for n in zf.namelist() if "instances_val" in n]


@pytest.mark.django_db
def test_export_errors_are_clear(project, tmp_path):
    with pytest.raises(CommandError, match="No project named “Nope”"):
        run("export_dataset", "--project", "Nope", "--format", "voc", str(tmp_path / "x"))
    with pytest.raises(CommandError, match="no labeled frames"):
        run("export_dataset", "--project", project.name, "--format", "voc", str(tmp_path / "x"))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy/a").write_text("a")
    with pytest.raises(CommandError, match="not an empty folder"):
        run("export_dataset", "--project", project.name, "--format", "voc", str(tmp_path / "busy"))
    with pytest.raises(CommandError, match="does not exist"):
        run(
            "export_dataset",
            "--project",
            project.name,
            "--format",
            "voc",
            str(tmp_path / "missing/dir/out.zip"),
        )
    with pytest.raises(CommandError, match="invalid choice"):
        run(
            "export_dataset", "--project", project.name, "--format", "tfrecord", str(tmp_path / "x")
        )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", ["yolo", "cvat"])
def test_import_with_create_makes_the_project_with_the_datasets_classes(
    celery_worker, fmt, project, make_user, tmp_path
):
    frames = [f for f in populate(project) if f.status != Frame.Status.UNLABELED]
    run("export_dataset", "--project", project.name, "--format", fmt, str(tmp_path / "a.zip"))
    make_user("root", is_superuser=True, is_staff=True)
    lab = make_user("lab-head")
    text = run(
        "import_dataset",
        "--project",
        "Copy",
        "--create",
        "--owner",
        "lab-head",
        "--format",
        fmt,
        str(tmp_path / "a.zip"),
    )
    assert "Imported 6 images" in text and "(created)" in text
    copy = Project.objects.get(name="Copy")
    assert ProjectMembership.objects.get(project=copy).user == lab
    assert ProjectMembership.objects.get(project=copy).role == Role.OWNER
    assert list(copy.classes.values_list("name", flat=True)) == ["mouse", "rat"]
    imported = sorted(annotation_of(f) for f in copy.frames.all())
    assert imported == sorted(annotation_of(f) for f in frames)


@pytest.mark.django_db(transaction=True)
def test_import_with_create_defaults_to_the_first_superuser(
    celery_worker, project, make_user, tmp_path
):
    populate(project)
    run("export_dataset", "--project", project.name, "--format", "coco", str(tmp_path / "c"))
    admin = make_user("admin", is_superuser=True, is_staff=True)
    run(
        "import_dataset",
        "--project",
        "By admin",
        "--create",
        "--format",
        "auto",
        str(tmp_path / "c"),
    )
    assert Project.objects.get(name="By admin").created_by == admin


@pytest.mark.django_db(transaction=True)
def test_reimport_through_the_command_updates_in_place(celery_worker, project, tmp_path):
    populate(project)
    run("export_dataset", "--project", project.name, "--format", "voc", str(tmp_path / "v"))
    frames = Frame.objects.count()
    text = run("import_dataset", "--project", project.name, "--format", "voc", str(tmp_path / "v"))
    assert "0 new frames" in text
    assert Frame.objects.count() == frames


@pytest.mark.django_db(transaction=True)
def test_import_errors_are_clear_and_import_nothing(celery_worker, project, make_user, tmp_path):
    populate(project)
    before = snapshot()
    with pytest.raises(CommandError, match="No project named “Nope”. Use --create"):
        run("import_dataset", "--project", "Nope", "--format", "yolo", str(tmp_path))
    with pytest.raises(CommandError, match="--create needs --owner"):
        run("import_dataset", "--project", "Nope", "--create", "--format", "yolo", str(tmp_path))
    with pytest.raises(CommandError, match="No user named “ghost”"):
        run(
            "import_dataset",
            "--project",
            "Nope",
            "--create",
            "--owner",
            "ghost",
            "--format",
            "yolo",
            str(tmp_path),
        )
    with pytest.raises(CommandError, match="does not exist"):
        run(
            "import_dataset",
            "--project",
            project.name,
            "--format",
            "yolo",
            str(tmp_path / "nothing-here"),
        )
    slip = write_zip(tmp_path / "slip.zip", {"../../evil.txt": "x"})
    make_user("boss", is_superuser=True)
    with pytest.raises(CommandError) as exc:
        run("import_dataset", "--project", "Fresh", "--create", "--format", "auto", str(slip))
    assert "Nothing was imported" in str(exc.value) and "escapes" in str(exc.value)
    # The project --create made for the failed import is gone again.
    assert not Project.objects.filter(name="Fresh").exists()
    bad = write_zip(tmp_path / "bad.zip", {"annotations/instances_train.json": "{nope"})
    with pytest.raises(CommandError, match="not valid JSON"):
        run("import_dataset", "--project", project.name, "--format", "coco", str(bad))
    counts, media = before
    after_counts, after_media = snapshot()
    assert (after_counts["frames"], after_counts["boxes"], after_counts["videos"]) == (
        counts["frames"],
        counts["boxes"],
        counts["videos"],
    )
    assert after_media == media


@pytest.mark.django_db(transaction=True)
def test_unknown_classes_need_create_classes(celery_worker, project, tmp_path, owner):
    populate(project)
    run("export_dataset", "--project", project.name, "--format", "coco", str(tmp_path / "c"))
    from labeling.services import project_create

    project_create(name="Mice only", owner=owner)
    with pytest.raises(CommandError, match="'rat'"):
        run("import_dataset", "--project", "Mice only", "--format", "coco", str(tmp_path / "c"))
    text = run(
        "import_dataset",
        "--project",
        "Mice only",
        "--format",
        "coco",
        "--create-classes",
        str(tmp_path / "c"),
    )
    assert "New classes: rat." in text
