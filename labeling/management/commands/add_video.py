"""``manage.py add_video --project NAME PATH [--sample-every SECONDS [--wait]] [--in-place]``

Adds a video (or a zip of images) to a project exactly as an upload would: the file is
decoded first and refused if it is not usable, so nothing is created on failure. Prints
the new frame source's id on stdout (details go to stderr, so scripts can capture the id).
When no worker listens on the ``default`` queue the sampling would wait for, it says so at
once; ``--wait`` follows the sampling to its end (exit status 0 only if it succeeded).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from labeling.models import FrameSamplingJob
from labeling.videos import sampling_services, services
from labeling.videos.selectors import video_reach_warnings
from webapp.celery import QUEUE_DEFAULT
from webapp.commands import follow_jobs, project_named
from webapp.jobs import BrokerUnavailable
from webapp.models import JobStatus
from webapp.worker_devices import no_worker_hint


class Command(BaseCommand):
    help = "Add a video file (or a zip of images) to a project; prints the new video's id."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="the video file (or a zip of images)")
        parser.add_argument("--project", required=True, help="the project's name")
        parser.add_argument(
            "--sample-every",
            type=float,
            default=None,
            metavar="SECONDS",
            help="then queue sampling of one frame every SECONDS (e.g. 1.5)",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="with --sample-every: follow the sampling until it ends",
        )
        parser.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
        parser.add_argument(
            "--in-place",
            action="store_true",
            help="register the file where it is (it must be under SHARED_VIDEO_ROOTS) "
            "instead of copying it into media storage",
        )

    def handle(
        self,
        *args,
        path: str,
        project: str,
        sample_every: float | None,
        in_place: bool,
        wait: bool = False,
        poll: float = 1.0,
        **options,
    ) -> None:
        target = project_named(project)
        if sample_every is not None and not 0.01 <= sample_every <= 3600:
            raise CommandError("--sample-every must be between 0.01 and 3600 seconds.")
        if wait and sample_every is None:
            raise CommandError("--wait follows the sampling: give --sample-every too.")
        source = Path(path)
        try:
            if in_place:
                video = services.video_register(
                    project=target, user=None, path=str(source.absolute())
                )
            else:
                if not source.is_file():
                    raise CommandError(f"{path}: no such file.")
                incoming = services.IncomingFile(
                    path=source, name=source.name, size=source.stat().st_size
                )
                video = services.frame_source_upload(project=target, user=None, files=[incoming])
        except ValidationError as exc:
            raise CommandError(f"{path}: {' '.join(exc.messages)}") from None
        for warning in video_reach_warnings(video=video):
            self.stderr.write(warning)

        if sample_every is not None and video.kind == video.Kind.VIDEO:
            try:
                job = sampling_services.sampling_job_start(
                    video=video,
                    user=None,
                    strategy=FrameSamplingJob.Strategy.EVERY_SECONDS,
                    params={"seconds": sample_every},
                )
            except BrokerUnavailable as exc:
                # All or nothing: without its sampling the command did not do what was asked.
                services.video_delete(video=video)
                raise CommandError(f"Sampling could not be queued: {exc}") from None
            self.stderr.write(f"Sampling job {job.pk} queued (one frame every {sample_every} s).")
            hint = no_worker_hint(QUEUE_DEFAULT)
            if hint:
                self.stderr.write(hint)
        else:
            job = None
        self.stderr.write(
            f"Added “{video.original_name}” to {target.name}: {video.frame_count} frames, "
            f"{video.width}×{video.height}."
        )
        self.stdout.write(str(video.pk))
        if wait and job is not None:
            self._follow(job, poll=max(0.2, poll))

    def _follow(self, job: FrameSamplingJob, *, poll: float) -> None:
        shown = None

        def report(jobs) -> None:
            nonlocal shown
            state = (job.status, job.frames_created)
            if state != shown:
                self.stderr.write(
                    f"sampling {job.get_status_display().lower()}: "
                    f"{job.frames_created} frame(s), {100 * job.progress:.0f}%"
                )
                shown = state

        follow_jobs(
            [job],
            report=report,
            poll_s=poll,
            stopped=f"Stopped following; sampling job {job.pk} goes on.",
        )
        if job.status != JobStatus.SUCCEEDED:
            reason = f": {job.error.splitlines()[0]}" if job.error else ""
            raise CommandError(
                f"Sampling job {job.pk} ended {job.get_status_display().lower()}{reason}"
            )
