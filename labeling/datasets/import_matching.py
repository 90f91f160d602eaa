"""Which project frame each incoming image re-imports: by ``v{video}_f{index}`` name, by
stored content name, or by an image set's own file name with the same bytes. Split from
``importing``.

Imported images are stored as ``frames/{project}/imported/[job-{id}/]{sha256}.{ext}``
(:func:`content_name`; an import job's own folder lets a later attempt sweep what a killed
one left, see ``job_services``): a re-import matches by the sha256 and type in the name,
whatever the folder (or a ``_xxxxxxx`` suffix storage added to a taken name)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from webapp.storage import local_copy, sha256_of_file

from ..models import Frame, Project
from .exchange import frame_key_from_name
from .import_images import IncomingImage

_ID_CHUNK = 500
# The file name of a stored imported image: its sha256, maybe a suffix storage added
# to make it free, and its type.
_CONTENT_FILE = re.compile(r"([0-9a-f]{64})(?:_[A-Za-z0-9]+)?\.([a-z0-9]+)")


def imported_folder(project: Project) -> str:
    """Where imported images of ``project`` are stored (each job in a folder of its own)."""
    return f"frames/{project.pk}/imported"


def _content_file(item: IncomingImage) -> str:
    return f"{item.digest}.{item.ext}"


def content_name(folder: str, item: IncomingImage) -> str:
    return f"{folder}/{_content_file(item)}"


def _content_key(name: str) -> str | None:
    """``"{sha256}.{ext}"`` of a stored imported image's name, None for other names."""
    found = _CONTENT_FILE.fullmatch(name.rsplit("/", 1)[-1])
    return f"{found[1]}.{found[2]}" if found else None


def _frames_by_content(project: Project) -> dict[str, int]:
    """``{"{sha256}.{ext}": frame id}`` of the project's imported frames (the first one
    when several hold the same content)."""
    found: dict[str, int] = {}
    rows = Frame.objects.filter(
        project=project, image__startswith=imported_folder(project) + "/"
    ).order_by("pk")
    for pk, name in rows.values_list("pk", "image").iterator(chunk_size=2000):
        key = _content_key(name)
        if key is not None:
            found.setdefault(key, pk)
    return found


def id_chunks(values: list, size: int = _ID_CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def match_frames(*, project: Project, incoming: list[IncomingImage], problems: list[str]) -> None:
    """Point each image at the project frame it re-imports, if any."""
    keys = {id(item): frame_key_from_name(item.image.file_name) for item in incoming}
    video_ids = sorted({k[0] for k in keys.values() if k})
    by_key: dict[tuple[int, int], Frame] = {}
    for chunk in id_chunks(video_ids):
        for frame in Frame.objects.filter(project=project, video_id__in=chunk):
            by_key[(frame.video_id, frame.frame_index)] = frame
    stored = _frames_by_content(project)
    wanted = sorted({stored[c] for c in map(_content_file, incoming) if c in stored})
    by_content: dict[str, Frame] = {}
    for chunk in id_chunks(wanted):
        for frame in Frame.objects.filter(pk__in=chunk):
            by_content[_content_key(frame.image.name) or ""] = frame
    by_source = _frames_by_source_name(
        project=project,
        incoming=[
            item
            for item in incoming
            if not (keys[id(item)] and keys[id(item)] in by_key)
            and _content_file(item) not in by_content
        ],
    )
    claimed: dict[int, str] = {}
    for item in incoming:
        key = keys[id(item)]
        frame = by_key.get(key) if key else None
        frame = frame or by_content.get(_content_file(item))
        frame = frame or by_source.get(id(item))
        if frame is None:
            continue
        image = item.image
        if (frame.width, frame.height) != (image.width, image.height):
            problems.append(
                f"{image.file_name}: is {image.width}x{image.height} but frame "
                f"{frame.frame_index} of source #{frame.video_id} it re-imports is "
                f"{frame.width}x{frame.height}"
            )
            continue
        other = claimed.setdefault(frame.pk, image.file_name)
        if other != image.file_name:
            problems.append(f"{image.file_name}: re-imports the same frame as {other}")
            continue
        item.frame = frame


def _frames_by_source_name(*, project: Project, incoming: list[IncomingImage]) -> dict[int, Frame]:
    """``{id(item): frame}`` for images that are a frame's own file exported under its
    ``source_name``: same name, same bytes as the stored image (an export copies them)."""
    wanted: dict[str, list[IncomingImage]] = defaultdict(list)
    for item in incoming:
        wanted[item.image.file_name].append(item)
    found: dict[int, Frame] = {}
    digests: dict[str, str] = {}
    for chunk in id_chunks(sorted(wanted)):
        for frame in Frame.objects.filter(project=project, source_name__in=chunk).order_by("pk"):
            for item in wanted[frame.source_name]:
                if id(item) in found:
                    continue
                name = frame.image.name
                if name not in digests:
                    try:
                        with local_copy(name) as path:
                            digests[name] = sha256_of_file(path)
                    except OSError:
                        digests[name] = ""  # a stored image gone missing matches nothing
                if digests[name] == item.digest:
                    found[id(item)] = frame
    return found
