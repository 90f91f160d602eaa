"""Import a SLEAP labels file (``.slp``) onto the frames of one of the project's videos.

- Predicted instances (SLEAP's ``PredictedInstance``: a model's output, not proofread)
  become **proposals** with keypoints (source ``import``), accepted, adjusted or rejected in
  the editor as box proposals are; accepting one stores its keypoints with its box. A
  re-import replaces the pending imported proposals of those frames.
- User-made instances become **labels** on frames that are still unlabeled (a frame a
  person already labeled is left alone and counted).

SLEAP instances have no box: each gets the box around its points (see
:func:`labeling.datasets.formats.sleap.box_around`). Only frames the project already holds
(sampled from that video, same ``frame_index``) are used; the others are counted. The
project takes the file's skeleton when it has none; otherwise keypoints are mapped by name
and a name the project's skeleton lacks is refused. All or nothing: ValidationError names
the problem and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.annotations.keypoints import SkeletonSpec
from labeling.annotations.services import BoxInput, annotation_save
from labeling.annotations.skeletons import skeleton_spec
from labeling.datasets.formats import FormatError
from labeling.datasets.formats.sleap import SleapFile, SleapVideo, box_around, read_slp
from labeling.models import Frame, Project, Skeleton, Video

from .models import Proposal, ProposalSource


@dataclass(frozen=True)
class SleapImportResult:
    frames_in_file: int
    frames_matched: int
    frames_missing: int  # frames of the file the project has not sampled
    proposals_created: int
    labels_created: int
    frames_already_labeled: int  # user instances not applied: a person labeled the frame
    skeleton_created: bool


def _pick_video(slp: SleapFile, video: Video) -> SleapVideo:
    if len(slp.videos) == 1:
        return slp.videos[0]
    wanted = video.original_name.casefold()
    for candidate in slp.videos:
        # SLEAP stores the path of the machine that wrote it (Windows paths included).
        name = PureWindowsPath(candidate.filename).name or PurePosixPath(candidate.filename).name
        if name.casefold() == wanted:
            return candidate
    names = ", ".join(PureWindowsPath(v.filename).name for v in slp.videos)
    raise ValidationError(
        {"video": f"The file holds {len(slp.videos)} videos ({names}); none is named “{wanted}”."}
    )


def _mapping(project: Project, spec: SkeletonSpec) -> tuple[list[int], int, SkeletonSpec | None]:
    """(target position of each file keypoint, project keypoint count, skeleton to create)."""
    ours = skeleton_spec(project=project)
    if ours is None:
        return list(range(len(spec.keypoints))), len(spec.keypoints), spec
    position = {name.casefold(): i for i, name in enumerate(ours.keypoints)}
    unknown = [n for n in spec.keypoints if n.casefold() not in position]
    if unknown:
        raise ValidationError(
            {
                "file": f"Keypoints {', '.join(unknown)} are not in the project's skeleton "
                f"({', '.join(ours.keypoints)}); nothing was imported."
            }
        )
    return [position[n.casefold()] for n in spec.keypoints], len(ours.keypoints), None


def sleap_import(
    *, project: Project, video: Video, path: Path, user=None, class_id: int | None = None
) -> SleapImportResult:
    """Import the ``.slp`` at ``path`` onto ``video``'s frames (see the module docstring).
    ``class_id``: the class given to the animals (default: the project's first class)."""
    if video.project_id != project.pk:
        raise ValidationError({"video": "No such video in this project."})
    try:
        slp = read_slp(path)
    except FormatError as exc:
        raise ValidationError({"file": str(exc)}) from None
    source = _pick_video(slp, video)
    if (
        source.width
        and source.height
        and (source.width, source.height)
        != (
            video.width,
            video.height,
        )
    ):
        raise ValidationError(
            {
                "video": f"The file's video is {source.width}x{source.height}, "
                f"“{video.original_name}” is {video.width}x{video.height}."
            }
        )
    classes = project.classes.order_by("index")
    label_class = classes.filter(pk=class_id).first() if class_id else classes.first()
    if label_class is None:
        raise ValidationError({"class_id": "The project has no such class."})
    target, count, new_skeleton = _mapping(project, slp.skeleton)

    def mapped(points: list[list]) -> list[list]:
        out = [[0.0, 0.0, 0] for _ in range(count)]
        for j, point in zip(target, points, strict=True):
            out[j] = [round(point[0], 2), round(point[1], 2), point[2]]
        return out

    frames = {
        f.frame_index: f
        for f in Frame.objects.filter(video=video, frame_index__in=list(source.frames))
    }
    proposals: list[Proposal] = []
    labels = already = 0
    with transaction.atomic():
        if new_skeleton is not None:
            Skeleton.objects.create(project=project, **new_skeleton.to_dict())
        Proposal.objects.filter(
            frame__in=list(frames.values()),
            source=ProposalSource.IMPORT,
            status=Proposal.Status.PENDING,
        ).delete()
        for index, frame in frames.items():
            instances = source.frames[index]
            user_made = [i for i in instances if not i.predicted]
            for instance in instances:
                if not instance.predicted:
                    continue
                points = _clipped(mapped(instance.points), frame)
                if not any(p[2] for p in points):
                    continue
                x, y, w, h = box_around(points, frame.width, frame.height)
                if w <= 0 or h <= 0:
                    continue
                proposals.append(
                    Proposal(
                        frame=frame,
                        label_class=label_class,
                        x=x,
                        y=y,
                        w=w,
                        h=h,
                        score=min(1.0, max(0.0, instance.score or 0.0)),
                        source=ProposalSource.IMPORT,
                        model_ref=f"SLEAP file “{Path(path).name}”"[:200],
                        keypoints=points,
                    )
                )
            if not user_made:
                continue
            # A person's instances are labels, but never over a person's own labels.
            if frame.status != Frame.Status.UNLABELED:
                already += 1
                continue
            boxes = []
            for instance in user_made:
                points = _clipped(mapped(instance.points), frame)
                if not any(p[2] for p in points):
                    continue
                box = box_around(points, frame.width, frame.height)
                boxes.append(BoxInput(label_class.pk, *box, keypoints=points))
            annotation_save(
                frame=frame,
                user=user,
                version=frame.annotation_version,
                boxes=boxes,
                is_negative=False,
            )
            labels += len(boxes)
        Proposal.objects.bulk_create(proposals, batch_size=500)
    return SleapImportResult(
        frames_in_file=len(source.frames),
        frames_matched=len(frames),
        frames_missing=len(source.frames) - len(frames),
        proposals_created=len(proposals),
        labels_created=labels,
        frames_already_labeled=already,
        skeleton_created=new_skeleton is not None,
    )


def _clipped(points: list[list], frame: Frame) -> list[list]:
    """Predicted points a little off the image (SLEAP extrapolates at the edges) are
    clipped in; points far off it are dropped (not labeled)."""
    out = []
    for x, y, v in points:
        if v and -2 <= x <= frame.width + 2 and -2 <= y <= frame.height + 2:
            out.append(
                [min(max(x, 0.0), float(frame.width)), min(max(y, 0.0), float(frame.height)), v]
            )
        else:
            out.append([0.0, 0.0, 0])
    return out
