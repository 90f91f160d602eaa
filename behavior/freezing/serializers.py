"""What the API and the analysis say of a freezing job (``behavior.freezing.services``)."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from behavior.models import FreezingJob
from webapp.jobs.apis import JOB_FIELDS, JobOutputBase

#: A run with no job for the asked parameters yet.
NO_JOB = {"id": None, "status": "none", "progress": 0.0, "message": "", "error": ""}


class FreezingJobOutput(JobOutputBase):
    url = serializers.SerializerMethodField()
    cancel_url = serializers.SerializerMethodField()

    class Meta:
        model = FreezingJob
        fields = [*JOB_FIELDS, "run", "params", "url", "cancel_url"]

    def get_url(self, job: FreezingJob) -> str:
        return reverse("api-freezing-job", args=[job.pk])

    def get_cancel_url(self, job: FreezingJob) -> str:
        return reverse("api-freezing-job-cancel", args=[job.pk])


def freezing_job_state(job: FreezingJob | None) -> dict:
    """Where a job stands (``status`` "none": no job yet), for the API and the pages."""
    return dict(NO_JOB if job is None else FreezingJobOutput(job).data)
