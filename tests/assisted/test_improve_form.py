""" "Improve this model" shows its settings before anything starts (issue 21): epochs, image
size, the starting weights and the data it will train on, prefilled from the model; a
bad value is refused on the form with nothing created."""

from __future__ import annotations

import pytest

from django.urls import reverse

from labeling.models import Role
from tests.training.helpers import fake_model, make_frames
from training.models import TrainingJob


@pytest.fixture
def model(project):
    make_frames(project, splits=["train"] * 6 + ["val"] * 2, unlabeled=2)
    model = fake_model(project, name="mice v1")
    model.hyperparameters = {"epochs": 40, "imgsz": 320, "batch": 8}
    model.imgsz = 320
    model.save(update_fields=["hyperparameters", "imgsz"])
    return model


@pytest.mark.django_db
def test_the_settings_are_shown_prefilled_and_nothing_starts_on_get(client, owner, model):
    page = reverse("trained-model-detail", args=[model.pk])
    client.force_login(owner)
    detail = client.get(page).content.decode()
    # The model page links to the settings; it no longer starts a job in one click.
    link = f'href="{reverse("model-improve", args=[model.pk])}"'
    assert 'id="improve-model"' in detail and link in detail
    assert 'id="improve-form"' not in detail

    res = client.get(reverse("model-improve", args=[model.pk]))
    assert res.status_code == 200
    html = res.content.decode()
    assert 'id="improve-form"' in html and 'method="post"' in html
    assert 'name="epochs"' in html and 'value="40"' in html
    assert 'name="imgsz"' in html and 'value="320"' in html
    assert "mice v1" in html and f"#{model.pk}" in html  # the starting weights
    assert 'id="improve-data"' in html
    data = html[html.index('id="improve-data"') :]
    assert "8 labeled frames" in data and "8 boxes" in data
    assert not TrainingJob.objects.exists()


@pytest.mark.django_db
def test_bad_settings_are_refused_on_the_form_and_viewers_get_403(
    client, owner, model, make_user, member_of
):
    url = reverse("model-improve", args=[model.pk])
    client.force_login(owner)
    for data, field in (
        ({"epochs": "0", "imgsz": "320"}, "epochs"),
        ({"epochs": "5", "imgsz": "33"}, "imgsz"),
        ({"epochs": "five", "imgsz": "320"}, "epochs"),
    ):
        res = client.post(url, data)
        assert res.status_code == 400, data
        html = res.content.decode()
        assert 'id="improve-form"' in html and "is-invalid" in html
        assert f'name="{field}"' in html
    assert not TrainingJob.objects.exists()

    viewer = member_of(make_user("vic"), Role.VIEWER)
    client.force_login(viewer)
    assert client.get(url).status_code == 403
    assert client.post(url, {"epochs": "5", "imgsz": "320"}).status_code == 403
    assert (
        'id="improve-model"'
        not in client.get(reverse("trained-model-detail", args=[model.pk])).content.decode()
    )
