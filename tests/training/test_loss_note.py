"""The job page says why the first epochs' losses can read near 0 and then rise (issue 21):
Ultralytics divides each batch's losses by the sum of its assigner's target scores, floored
at 1, and those scores are tiny until predicted boxes start to overlap the animals."""

from __future__ import annotations

import pytest

from tests.training.helpers import FAST_HP, make_frames, record_dispatch
from training.services import training_job_create


@pytest.mark.django_db(transaction=True)
def test_the_job_page_explains_the_early_losses_next_to_the_chart(
    project, owner, client, monkeypatch
):
    record_dispatch(monkeypatch)
    make_frames(project)
    job = training_job_create(
        project=project, created_by=owner, preset="yolo11n", hyperparameters=FAST_HP
    )
    client.force_login(owner)
    html = client.get(f"/training/jobs/{job.pk}/").content.decode()
    chart = html.index('id="loss-chart"')
    note = html.index('id="loss-note"')
    assert chart < note < html.index('id="metric-chart"')  # in the losses card
    text = html[note : html.index("</p>", note)]
    assert "target scores" in text and "rise" in text and "README" in text
