"""Queue tracking runs from the command line, and optionally follow them to the end.

    python manage.py track --project "Open field" --model 3 --animals 2 --wait 12 13 day1.mp4

Each VIDEO is a video id of the project or a path to a video file, which is added to the
project first (copied, as ``add_video`` does). With ``--wait`` it prints progress on stderr
and, as its last lines, one JSON summary per run; the exit status is 0 only if every run
succeeded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from labeling.models import Project, Video
from labeling.videos import services as video_services
from labeling.videos.duplicates import video_with_same_content
from tracking import services
from tracking.models import TrackingRun
from training.models import TrainedModel
from webapp.commands import follow_jobs, project_named, service_errors
from webapp.models import JobStatus


class Command(BaseCommand):
    help = "Track whole videos with a registered model (one run per video)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("videos", nargs="+", metavar="VIDEO_ID|PATH")
        parser.add_argument("--project", required=True, help="Project name")
        parser.add_argument("--model", required=True, type=int, help="Id of a registered model")
        parser.add_argument("--animals", type=int, default=1, help="Animals per video (1-20)")
        parser.add_argument("--conf", type=float, help="Detector confidence (default 0.25)")
        parser.add_argument("--no-crop", action="store_true", help="Always the full frame")
        parser.add_argument("--device", help="auto, cpu or a GPU index")
        parser.add_argument("--wait", action="store_true", help="Follow the runs until they end")

    def handle(self, *args, **options) -> None:
        project = project_named(options["project"])
        model = TrainedModel.objects.filter(project=project, pk=options["model"]).first()
        if model is None:
            raise CommandError(f"Project “{project}” has no model {options['model']}.")
        videos = [self._video(project, item) for item in options["videos"]]
        params: dict = {"crop": not options["no_crop"]}
        if options["conf"] is not None:
            params["conf"] = options["conf"]
        if options["device"]:
            params["device"] = options["device"]
        with service_errors():
            batch = services.tracking_runs_create(
                project=project,
                created_by=None,
                model=model,
                videos=videos,
                n_animals=options["animals"],
                params=params,
            )
        runs = list(batch.runs.order_by("pk"))
        for run in runs:
            self.stderr.write(f"Queued tracking run {run.pk}: “{run.video.original_name}”")
        if options["wait"]:
            self._follow(runs)

    def _video(self, project: Project, item: str) -> Video:
        if item.isdigit() and not Path(item).exists():
            video = Video.objects.filter(project=project, pk=int(item)).first()
            if video is None:
                raise CommandError(f"Project “{project}” has no video {item}.")
            return video
        path = Path(item)
        if not path.is_file():
            raise CommandError(f"{item}: no such file and no such video id.")
        # A recording the project already holds (same bytes) is tracked, not added twice.
        same = video_with_same_content(project=project, path=path)
        if same is not None:
            self.stderr.write(f"{item}: already in {project} as “{same.original_name}” #{same.pk}")
            return same
        incoming = video_services.IncomingFile(path=path, name=path.name, size=path.stat().st_size)
        try:
            video = video_services.video_upload(project=project, user=None, incoming=incoming)
        except ValidationError as exc:
            raise CommandError(f"{item}: {' '.join(exc.messages)}") from None
        self.stderr.write(f"Added “{video.original_name}” to {project}: {video.frame_count} frames")
        return video

    def _follow(self, runs: list[TrackingRun]) -> None:
        def report(runs) -> None:
            self.stderr.write(
                " · ".join(f"#{r.pk} {r.status} {r.frames_done}/{r.frames_total}" for r in runs)
            )

        follow_jobs(runs, report=report, poll_s=2.0, stopped="Stopped following; the runs go on.")
        for run in runs:
            summary = {
                "run": run.pk,
                "video": run.video_id,
                "status": run.status,
                "frames": run.frames_done,
                "fps": run.fps,
                "device": run.device,
                "trust": run.trust,
                "suspected_swaps": len(run.suspected_swaps),
                "identity_by_look": (run.timing or {}).get("identity"),
                "failed_at_frame": run.failed_at_frame,
            }
            if run.error:
                summary["error"] = run.error.splitlines()[0]
            self.stdout.write(json.dumps(summary))
        sys.stdout.flush()
        failed = [r.pk for r in runs if r.status != JobStatus.SUCCEEDED]
        if failed:
            raise CommandError(f"Run(s) {', '.join(map(str, failed))} did not succeed.")
