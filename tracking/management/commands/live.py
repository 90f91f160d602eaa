"""Track live from a camera on this machine, with the rules' outputs, until stopped.

    python manage.py live --project "Open field" --model 3 --source /dev/video0 \\
        --animals 1 --zones zones.json --serial /dev/ttyACM0 --duration 600 --json

SOURCE is ``/dev/videoN``, a stream URL (``rtsp://``, ``http://``), ``video:<id>`` (a video
of the project) or a video file played at its own frame rate (``--paced``: a rehearsal,
what the tests and the bench use). ``--zones`` is a JSON file: a list of zones (then every
zone's entries and exits are events) or ``{"zones", "rules", "outputs", "px_per_cm"}``
(tracking/live/config.py); ``--serial``/``--webhook``/``--zmq`` add outputs. Ctrl-C stops
the session; what it recorded becomes a tracking run. ``--events`` writes the event log
(JSONL) there; ``--json`` prints the summary as the last line.

This process owns the camera (the session runs here, not on a worker); the session's row
holds the camera meanwhile, so a second session on it is refused, from here or the web.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

from labeling.models import Project, Video
from tracking import live_services
from tracking.live.sources import SourceError, open_source
from tracking.live_work import live_session_execute
from tracking.models import LiveSession
from training.models import TrainedModel
from webapp.commands import validation_text
from webapp.models import JobStatus


class Command(BaseCommand):
    help = "Track live from a camera (or a paced video file) with closed-loop outputs."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True, help="Project name")
        parser.add_argument("--model", required=True, type=int, help="Id of a registered model")
        parser.add_argument("--source", required=True, help="/dev/videoN, a URL, or a file")
        parser.add_argument("--paced", action="store_true", help="Play a file at its fps")
        parser.add_argument("--animals", type=int, default=1, help="Animals (1-20)")
        parser.add_argument("--zones", help="Zones (and rules, outputs) as a JSON file")
        parser.add_argument("--events", help="Write the event log (JSONL) to this file")
        parser.add_argument("--duration", type=float, help="Stop after this many seconds")
        parser.add_argument("--start-on-detection", action="store_true",
                            help="Start recording when every animal is in view")  # fmt: skip
        parser.add_argument("--imgsz", type=int, help="Network input size (default: trained)")
        parser.add_argument("--conf", type=float, help="Detector confidence (default 0.25)")
        parser.add_argument("--device", help="auto, cpu or a GPU index")
        parser.add_argument("--serial", action="append", default=[], help="Serial TTL port")
        parser.add_argument("--webhook", action="append", default=[], help="Webhook URL")
        parser.add_argument("--zmq", action="append", default=[], help="ZeroMQ PUB endpoint")
        parser.add_argument("--json", action="store_true", help="Print the summary as JSON")

    def handle(self, *args, **options) -> None:
        project = Project.objects.filter(name__iexact=options["project"].strip()).first()
        if project is None:
            raise CommandError(f"No project named {options['project']!r}.")
        model = TrainedModel.objects.filter(project=project, pk=options["model"]).first()
        if model is None:
            raise CommandError(f"Project “{project}” has no model {options['model']}.")
        source = options["source"]
        frame_size = self._frame_size(project, source, paced=options["paced"])
        setup = self._setup(options)
        params = {
            k: v
            for k, v in {
                "imgsz": options["imgsz"],
                "conf": options["conf"],
                "device": options["device"],
                "duration_s": options["duration"],
                "start_on_detection": options["start_on_detection"] or None,
            }.items()
            if v is not None
        }
        try:
            session = live_services.live_session_create(
                project=project,
                created_by=None,
                model=model,
                source=source,
                n_animals=options["animals"],
                setup=setup,
                params=params,
                allow_files=True,
                paced=options["paced"],
                frame_size=frame_size,
            )
        except ValidationError as exc:
            raise CommandError(validation_text(exc)) from None
        self.stderr.write(f"Live session {session.pk} on {source}; Ctrl-C stops it.")
        previous = signal.signal(signal.SIGINT, lambda *_: self._stop(session))
        try:
            live_session_execute(session_id=session.pk)
        finally:
            signal.signal(signal.SIGINT, previous)
        session.refresh_from_db()
        self._report(session, options)

    def _frame_size(self, project: Project, source: str, *, paced: bool) -> tuple[int, int]:
        """Open the source once, so that a camera that does not open stops us here."""
        if source.startswith("video:"):
            video = Video.objects.filter(project=project, pk=source[6:]).first()
            if video is None or not source[6:].isdigit():
                raise CommandError(f"{source}: no such video in {project}.")
            return (video.width, video.height)
        try:
            opened = open_source(source, paced=paced)
        except SourceError as exc:
            raise CommandError(str(exc)) from None
        opened.close()
        return opened.size

    def _setup(self, options) -> dict:
        setup: dict = {}
        if options["zones"]:
            path = Path(options["zones"])
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise CommandError(f"--zones {path}: {exc}") from None
            setup = data if isinstance(data, dict) else {"zones": data}
        extra = (
            [{"kind": "serial", "name": f"serial {i + 1}", "port": p}
             for i, p in enumerate(options["serial"])]
            + [{"kind": "webhook", "name": f"webhook {i + 1}", "url": u}
               for i, u in enumerate(options["webhook"])]
            + [{"kind": "zmq", "name": f"zmq {i + 1}", "endpoint": e}
               for i, e in enumerate(options["zmq"])]
        )  # fmt: skip
        if extra:
            setup = dict(setup, outputs=list(setup.get("outputs", [])) + extra)
        return setup

    def _stop(self, session: LiveSession) -> None:
        # The loop runs in this process's threads and never touches the database: a
        # flag on the row is what the reporter thread turns into a clean stop.
        self.stderr.write("Stopping (what was recorded is kept)…")
        LiveSession.objects.filter(pk=session.pk).update(cancel_requested=True)

    def _report(self, session: LiveSession, options) -> None:
        summary = session.summary or {}
        if options["events"] and session.events:
            with default_storage.open(session.events.name, "rb") as src:
                Path(options["events"]).write_bytes(src.read())
        line = {
            "frames_offered": summary.get("frames_offered", 0),
            "frames_processed": summary.get("frames_processed", 0),
            "latency_ms": {
                k: (summary.get("latency_ms") or {}).get(k) for k in ("p50", "p95", "p99")
            },
            "events": summary.get("events", 0),
            "run": session.run_id,
            "session": session.pk,
            "status": session.status,
            "ended": summary.get("ended"),
            "frames_dropped": summary.get("frames_dropped", 0),
            "error": session.error.splitlines()[0] if session.error else None,
        }
        if options["json"]:
            self.stdout.write(json.dumps(line))
        else:
            self.stderr.write(session.message or session.error)
        sys.stdout.flush()
        if session.status != JobStatus.SUCCEEDED and session.run_id is None:
            raise CommandError(session.error or f"The session ended {session.status}.")
