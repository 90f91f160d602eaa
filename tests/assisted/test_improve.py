""" "Improve this model": a normal training job from the model on a new dataset version of the
current labels (accepted proposals in, pending ones out), and both on the comparison page."""

from __future__ import annotations

import pytest

from django.core.exceptions import ValidationError
from django.urls import reverse

from assisted.improve import comparison_url, model_improve
from assisted.services import ProposalInput, proposals_replace
from labeling.datasets.versions import dataset_version_manifest
from labeling.models import Role
from tests.conftest import wait_for
from tests.training.helpers import FAST_HP, make_frames
from training.models import TrainedModel, TrainingJob
from webapp.models import TERMINAL_STATUSES, JobStatus


@pytest.mark.django_db(transaction=True)
def test_improve_retrains_from_the_model_and_compares_both(
    celery_worker, project, owner, openfield_weights, client, make_user, member_of
):
    from tests.tracking.openfield_model import register_openfield_model

    start = register_openfield_model(project=project, weights=openfield_weights)
    frames = make_frames(project, splits=["train"] * 6 + ["val"] * 2, unlabeled=2)
    mouse = project.classes.first()
    # One pending proposal on an unlabeled frame: not a label, not in the new version.
    proposals_replace(
        frame=frames[-1], source="bootstrap", proposals=[ProposalInput(mouse.pk, 5, 5, 20, 10, 1)]
    )
    with pytest.raises(ValidationError, match="epochs"):
        model_improve(model=start, user=owner, epochs=0)
    viewer = member_of(make_user(), Role.VIEWER)
    client.force_login(viewer)
    assert client.post(reverse("model-improve", args=[start.pk])).status_code == 403
    assert not TrainingJob.objects.exists()

    job = model_improve(model=start, user=owner, overrides={**FAST_HP, "epochs": 1})
    assert job.start_from == "model" and job.start_model_id == start.pk
    manifest = dataset_version_manifest(version=job.dataset_version)
    assert len(manifest["frames"]) == 8  # the labeled frames only
    wait_for(
        lambda: TrainingJob.objects.get(pk=job.pk).status in TERMINAL_STATUSES,
        timeout=600,
        what="the improvement training job",
    )
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    improved = TrainedModel.objects.get(job=job)
    assert improved.name == f"{start.name} · improved"
    url = comparison_url(model=improved)
    assert url.endswith(f"?models={start.pk},{improved.pk}")

    client.force_login(owner)
    page = client.get(reverse("trained-model-detail", args=[improved.pk])).content.decode()
    assert 'id="compare-with-start"' in page and 'id="improve-model"' in page
    compare = client.get(url).content.decode()
    assert start.name in compare and improved.name in compare
