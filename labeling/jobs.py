"""The labeling app's background job kinds, each declared once (see :mod:`webapp.jobs`).

Every app keeps its kinds in ``<app>/jobs.py``: one place lists what the app runs in the
background, with its model, Celery task and queue; the work functions stay beside the
code they use, each in a ``<kind>_work.py`` module (``videos/sampling_work.py``,
``datasets/import_work.py``...).
"""

from __future__ import annotations

from webapp.celery import QUEUE_DEFAULT
from webapp.jobs import JobKind

from .datasets import export_work, import_work
from .models import (
    DatasetExportJob,
    DatasetImportJob,
    FrameSamplingJob,
    ImageSetImportJob,
    VideoUploadJob,
)
from .videos import imageset_work, sampling_work, upload_work

FRAME_SAMPLING = JobKind(
    name="sampling job",
    model=FrameSamplingJob,
    task="labeling.tasks.frame_sampling_run",
    queue=QUEUE_DEFAULT,
    work=sampling_work.sampling_job_work,
    cancelled=sampling_work.sampling_job_stopped,
    not_done=sampling_work.sampling_job_stopped,
    after=sampling_work.sampling_job_after,
)

IMAGESET_IMPORT = JobKind(
    name="image set import",
    model=ImageSetImportJob,
    task="labeling.tasks.imageset_import_run",
    queue=QUEUE_DEFAULT,
    work=imageset_work.imageset_job_work,
    cancelled="Cancelled; nothing was added.",
    after=imageset_work.imageset_job_after,
    typed_errors=False,
)

VIDEO_UPLOAD = JobKind(
    name="video upload",
    model=VideoUploadJob,
    task="labeling.tasks.video_upload_run",
    queue=QUEUE_DEFAULT,
    work=upload_work.video_upload_job_work,
    cancelled="Cancelled; nothing was added.",
    on_stop=upload_work.video_upload_job_undo,
    after=upload_work.video_upload_job_after,
    typed_errors=False,
)

DATASET_IMPORT = JobKind(
    name="import",
    model=DatasetImportJob,
    task="labeling.tasks.dataset_import_run",
    queue=QUEUE_DEFAULT,
    work=import_work.dataset_import_job_work,
    cancelled="Cancelled; nothing was imported.",
    not_done="Nothing was imported.",
    after=import_work.dataset_import_job_after,
)

DATASET_EXPORT = JobKind(
    name="export",
    model=DatasetExportJob,
    task="labeling.tasks.dataset_export_run",
    queue=QUEUE_DEFAULT,
    work=export_work.dataset_export_job_work,
)
