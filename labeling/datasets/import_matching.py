"""Which project frame each incoming image re-imports: by ``v{video}_f{index}`` name, by
stored content name, or by an image set's own file name with the same bytes. Split from
``importing``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from webapp.storage import local_copy, sha256_of_file

from ..models import Frame, Project
from .exchange import frame_key_from_name
from .import_images import _Incoming

_ID_CHUNK = 500


def _content_name(project: Project, item: _Incoming) -> str:
    return f"frames/{project.pk}/imported/{item.digest}.{item.ext}"


def _chunks(values: list, size: int = _ID_CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _match_frames(*, project: Project, incoming: list[_Incoming], problems: list[str]) -> None:
    """Point each image at the project frame it re-imports, if any."""
    keys = {id(item): frame_key_from_name(item.image.file_name) for item in incoming}
    video_ids = sorted({k[0] for k in keys.values() if k})
    by_key: dict[tuple[int, int], Frame] = {}
    for chunk in _chunks(video_ids):
        for frame in Frame.objects.filter(project=project, video_id__in=chunk):
            by_key[(frame.video_id, frame.frame_index)] = frame
    names = sorted({_content_name(project, item) for item in incoming})
    by_name: dict[str, Frame] = {}
    for chunk in _chunks(names):
        for frame in Frame.objects.filter(project=project, image__in=chunk):
            by_name[frame.image.name] = frame
    by_source = _frames_by_source_name(
        project=project,
        incoming=[
            item
            for item in incoming
            if not (keys[id(item)] and keys[id(item)] in by_key)
            and _content_name(project, item) not in by_name
        ],
    )
    claimed: dict[int, str] = {}
    for item in incoming:
        key = keys[id(item)]
        frame = by_key.get(key) if key else None
        frame = frame or by_name.get(_content_name(project, item))
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


def _frames_by_source_name(*, project: Project, incoming: list[_Incoming]) -> dict[int, Frame]:
    """``{id(item): frame}`` for images that are a frame's own file exported under its
    ``source_name``: same name, same bytes as the stored image (an export copies them)."""
    wanted: dict[str, list[_Incoming]] = defaultdict(list)
    for item in incoming:
        wanted[item.image.file_name].append(item)
    found: dict[int, Frame] = {}
    digests: dict[str, str] = {}
    for chunk in _chunks(sorted(wanted)):
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
