"""The project's Dataset page: counts, export and import (both as jobs whose progress the
page shows) and (re)assigning the train/val/test split."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from webapp.jobs import BrokerUnavailable

from ..access import can_write, project_page
from ..models import Role, Split
from ..uploads import LimitedUploadHandler, UploadTooLarge
from .exchange import AUTO, EXPORT_SPLITS, FORMAT_LABELS, FORMAT_NAMES
from .exporting import dataset_export_download
from .formats import ACCEPTED_LAYOUTS
from .job_services import dataset_export_job_start, dataset_import_job_start
from .selectors import dataset_stats
from .split_services import frames_assign_splits

SPLIT_LABELS = {s.value: s.label for s in Split if s.value}


def _error_list(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [m for errors in exc.message_dict.values() for m in errors]
    return list(exc.messages)


def _render(request, project, *, status: int = 200, **extra):
    stats = dataset_stats(project=project)
    context = {
        "project": project,
        "nav": "projects",
        "role": request.project_role,
        "can_write": can_write(request),
        "is_owner": request.project_role == Role.OWNER,
        "stats": stats,
        "formats": [(name, FORMAT_LABELS[name]) for name in FORMAT_NAMES],
        "accepted_layouts": ACCEPTED_LAYOUTS,
        "splits": [(s, SPLIT_LABELS[s]) for s in EXPORT_SPLITS],
        "import_errors": [],
        "import_format": AUTO,
        "export_format": request.GET.get("format", "yolo"),
        "max_upload_gb": settings.MAX_UPLOAD_BYTES / 1024**3,
        "jobs_url": reverse("api-dataset-jobs", args=[project.pk]),
        # Imports that finish after this moment reload the page (its counts change).
        "rendered_at": timezone.now().isoformat(),
    }
    context.update(extra)
    return render(request, "labeling/dataset.html", context, status=status)


@require_GET
@project_page(Role.VIEWER)
def dataset_page(request, project):
    return _render(request, project)


@require_GET
@project_page(Role.VIEWER)
def dataset_export(request, project):
    fmt = request.GET.get("format", "")
    split = request.GET.get("split", "")
    try:
        handle, filename = dataset_export_download(
            project=project,
            fmt=fmt,
            split=None if split in ("", "all") else split,
            include_unlabeled=request.GET.get("include_unlabeled") == "on",
        )
    except ValidationError as exc:
        for message in _error_list(exc)[:5]:
            messages.error(request, message)
        return redirect("dataset", project.pk)
    return FileResponse(
        handle, as_attachment=True, filename=filename, content_type="application/zip"
    )


@csrf_exempt  # checked by csrf_protect below, once the upload handler is in place
@require_POST
@project_page(Role.ANNOTATOR)
def dataset_import_upload(request, project):
    # The size limit applies while the body streams in; the role was checked above, before
    # a byte of it was read.
    handler = LimitedUploadHandler(request, max_bytes=settings.MAX_UPLOAD_BYTES)
    request.upload_handlers = [handler]
    try:
        return _dataset_import(request, project)
    except UploadTooLarge as exc:
        errors = [str(m) for m in exc.detail.get("file", [])]
        return _render(request, project, status=413, import_errors=errors)
    except MultiPartParserError:
        return _render(
            request, project, status=400, import_errors=["The upload was malformed; try again."]
        )
    finally:
        handler.upload_interrupted()  # a temp file cut off midway is removed now


@csrf_protect
def _dataset_import(request, project):
    upload = request.FILES.get("file")
    fmt = request.POST.get("format", AUTO)
    create_classes = request.POST.get("create_missing_classes") == "on"
    if upload is None:
        return _render(
            request,
            project,
            status=400,
            import_format=fmt,
            import_errors=["Choose a zip file to import."],
        )
    if create_classes and request.project_role != Role.OWNER:
        return _render(
            request,
            project,
            status=403,
            import_format=fmt,
            import_errors=["Adding classes needs the owner role in the project."],
        )
    try:
        job = dataset_import_job_start(
            project=project,
            user=request.user,
            fmt=fmt,
            upload=upload,
            create_missing_classes=create_classes,
            source_name=upload.name or "",
        )
    except ValidationError as exc:
        return _render(
            request, project, status=400, import_format=fmt, import_errors=_error_list(exc)
        )
    except BrokerUnavailable as exc:
        return _render(request, project, status=503, import_format=fmt, import_errors=[str(exc)])
    finally:
        upload.close()  # removes the temp file now rather than at the end of the response
    messages.info(
        request, f"Import #{job.pk} of “{job.source_name}” queued; its progress is shown below."
    )
    return redirect("dataset", project.pk)


@require_POST
@project_page(Role.ANNOTATOR)
def dataset_export_start(request, project):
    """Queue an export job; the page shows its progress and then its download."""
    split = request.POST.get("split", "")
    try:
        job = dataset_export_job_start(
            project=project,
            user=request.user,
            fmt=request.POST.get("format", ""),
            split=split,
            include_unlabeled=request.POST.get("include_unlabeled") == "on",
        )
    except ValidationError as exc:
        for message in _error_list(exc)[:5]:
            messages.error(request, message)
        return redirect("dataset", project.pk)
    except BrokerUnavailable as exc:
        messages.error(request, str(exc))
        return redirect("dataset", project.pk)
    messages.info(request, f"Export #{job.pk} ({job.fmt.upper()}) queued.")
    return redirect("dataset", project.pk)


@require_POST
@project_page(Role.OWNER)
def dataset_assign_splits(request, project):
    reassign = request.POST.get("mode") == "all"
    try:
        changed = frames_assign_splits(project=project, reassign=reassign)
    except ValidationError as exc:
        for message in _error_list(exc):
            messages.error(request, message)
    else:
        what = "Reassigned every annotated frame" if reassign else "Assigned unassigned frames"
        messages.success(request, f"{what}: {changed} frame(s) changed split.")
    return redirect("dataset", project.pk)
