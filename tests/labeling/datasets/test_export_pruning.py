"""A project keeps only its newest exports' zips, per person who made them (issue 21,
item 2): one member's new exports never push out another member's finished one."""

from __future__ import annotations

import pytest

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from labeling.datasets import job_services
from labeling.models import DatasetExportJob, Role

pytestmark = pytest.mark.django_db


def _finished(project, user, n: int) -> DatasetExportJob:
    name = default_storage.save(f"exports/{project.pk}/e{n}.zip", ContentFile(b"zip"))
    return DatasetExportJob.objects.create(
        project=project, fmt="yolo", status="succeeded", file=name, created_by=user
    )


def test_one_members_exports_do_not_push_out_anothers(
    project, owner, make_user, member_of, monkeypatch
):
    monkeypatch.setattr(job_services, "EXPORTS_KEPT", 2)
    annotator = member_of(make_user("ann"), Role.ANNOTATOR)
    owners = _finished(project, owner, 0)
    theirs = [_finished(project, annotator, n) for n in range(1, 5)]
    job_services.dataset_exports_prune(project_id=project.pk)
    owners.refresh_from_db()
    assert owners.file and default_storage.exists(owners.file.name)
    kept = [j for j in theirs if DatasetExportJob.objects.get(pk=j.pk).file]
    assert kept == theirs[-2:]
    assert not any(default_storage.exists(j.file.name) for j in theirs[:2])
