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

# What the jobs turning an uploaded file into a frame source share: all or nothing, and
# a decoding failure told in the checker's own words (it names the file and the reason).
FILE_TO_SOURCE = {
    "queue": QUEUE_DEFAULT,
    "cancelled": "Cancelled; nothing was added.",
    "typed_errors": False,
}

IMAGESET_IMPORT = JobKind(
    name="image set import",
    model=ImageSetImportJob,
    task="labeling.tasks.imageset_import_run",
    work=imageset_work.imageset_job_work,
    after=imageset_work.imageset_job_after,
    **FILE_TO_SOURCE,
)

VIDEO_UPLOAD = JobKind(
    name="video upload",
    model=VideoUploadJob,
    task="labeling.tasks.video_upload_run",
    work=upload_work.video_upload_job_work,
    on_stop=upload_work.video_upload_job_undo,
    after=upload_work.video_upload_job_after,
    **FILE_TO_SOURCE,
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
