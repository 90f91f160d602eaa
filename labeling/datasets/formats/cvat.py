"""CVAT for images 1.1 XML, and reading CVAT for video 1.1.

::

    annotations.xml
    images/<file_name>                 task export
    images/<Subset>/<file_name>        project export (one folder per subset)
    images/frame_000000.png ...        CVAT for video (frames named by their number)

``annotations.xml`` has ``<meta>`` with the label list (task or project export) and one
``<image name width height [subset]>`` per image holding ``<box label xtl ytl xbr ybr>``:
corners in pixels, top-left and bottom-right, so ``w = xbr - xtl``. The split is the image's
``subset`` attribute (``Train``/``Validation``/``Test`` as CVAT writes them are understood);
images without one have no split.

Coordinates are written with 2 decimals, as CVAT does, so a box comes back on the 0.01 px grid
(exact for integer boxes). Reading also finds images in ``images/<subset>/`` (project exports;
the same file name may appear in several subsets: those images are then named
``<subset>/<file_name>``), keeps only ``<box>`` shapes (polygons, points... are left out with
a warning, and an image holding only such shapes is *unlabeled*, not a negative; tags are
ignored), refuses rotated boxes, and parses with defusedxml with DTDs refused.

CVAT for video 1.1 (``<track label>`` holding ``<box frame outside keyframe ...>``, the frame
size in ``<meta><task><original_size>``): frames are numbered as CVAT exports them, by their
absolute number in the video: the task's frames are ``start_frame + i * step`` up to
``stop_frame`` (``<meta><task><start_frame>``, ``<stop_frame>``, ``<frame_filter>step=N``;
0, the video's end and 1 by default), and a shape on any other frame is a problem. Every task
frame a track covers is imported, its box as CVAT defines it: listed shapes are kept; a task
frame between two listed shapes gets the box linearly interpolated between them (each corner
``p0 + (p1 - p0) * (f - f0) / (f1 - f0)``); a shape with ``outside="1"`` ends the track until
its next shape; after its last shape a track that is not outside continues unchanged to
``stop_frame``. Frame ``f`` is the image ``images/frame_{f:06d}.<ext>`` (any image extension;
CVAT names them by absolute number); frames no box track covers are not imported. Tracks of
points, polygons, skeletons... are left out with a warning, and labels declared only for
such shapes (a skeleton's point labels among them) are not made classes. The split is the
task's ``<subset>``. Without the frame images but with the video file beside
``annotations.xml``, the importer decodes the covered frames from the video, frame ``f``
being the video's frame ``f`` (:func:`video_frames_needed`, ``read(..., frames_dir=...)``);
project exports of several video tasks are not read.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element, SubElement, tostring

from .base import (
    Dataset,
    DatasetImage,
    FormatError,
    ImageResolver,
    ImageSource,
    Problems,
    split_from_subset,
)
from .checks import (
    box_from_edges,
    class_name_problem,
    finish_read,
    make_resolver,
    parse_int,
    parse_number,
    validated,
)
from .files import (
    check_image_file,
    check_root,
    find_inside,
    has_image_extension,
    path_problem,
    read_limited,
    resolve_inside,
)
from .outputs import ZipOutput, open_output
from .voc import parse_xml

XML_NAME = "annotations.xml"
IMAGES_DIR = "images"
LAYOUT_TASK = "CVAT for images 1.1 (annotations.xml, images/)"
LAYOUT_PROJECT = "CVAT for images 1.1, project export (images/<Subset>/)"
LAYOUT_VIDEO = "CVAT for video 1.1 (<track>s, images/frame_NNNNNN.*)"
#: Frame numbers stop below this (a stop_frame of 10**9 must not loop forever), and the
#: tracks may cover at most this many frames in all.
MAX_VIDEO_FRAMES = 300_000
#: Shapes CVAT writes that are not boxes: not imported (a warning says how many).
OTHER_SHAPES = frozenset({"polygon", "polyline", "points", "ellipse", "cuboid", "mask", "skeleton"})
#: Label types that cannot hold boxes: a label declared with one of them (or as a skeleton's
#: part, with a ``<parent>``) is not made a class unless a box uses it.
NON_BOX_LABEL_TYPES = OTHER_SHAPES | {"tag"}
_STEP = re.compile(r"(?:^|[\s;,])step\s*=\s*(\d{1,9})(?:$|[\s;,])")
#: A video file at the top of a CVAT for video folder without the frame images.
VIDEO_EXTENSIONS = frozenset({"mp4", "m4v", "mov", "avi", "mkv", "webm", "mpg", "mpeg", "wmv"})


def _fmt(value: float) -> str:
    return f"{value:.2f}"


def write(
    dataset: Dataset,
    out: Path | ZipOutput,
    image_source: ImageSource,
    *,
    link: bool = False,
) -> None:
    """Write ``dataset`` as CVAT for images 1.1 into ``out`` (an absent or empty
    folder, or a :class:`ZipOutput`)."""
    dataset = validated(dataset)
    root = Element("annotations")
    SubElement(root, "version").text = "1.1"
    task = SubElement(SubElement(root, "meta"), "task")
    SubElement(task, "name").text = "MouseTrack Studio export"
    SubElement(task, "size").text = str(len(dataset.images))
    SubElement(task, "mode").text = "annotation"
    labels = SubElement(task, "labels")
    for name in dataset.classes:
        label = SubElement(labels, "label")
        SubElement(label, "name").text = name
        SubElement(label, "type").text = "rectangle"
        SubElement(label, "attributes")
    for i, image in enumerate(dataset.images):
        attrs = {"id": str(i), "name": image.file_name}
        if image.split:
            attrs["subset"] = image.split
        attrs.update(width=str(image.width), height=str(image.height))
        node = SubElement(root, "image", attrs)
        for z, box in enumerate(image.boxes):
            SubElement(
                node,
                "box",
                {
                    "label": box.class_name,
                    "source": "manual",
                    "occluded": "0",
                    "xtl": _fmt(box.x),
                    "ytl": _fmt(box.y),
                    "xbr": _fmt(box.x + box.w),
                    "ybr": _fmt(box.y + box.h),
                    "z_order": str(z),
                },
            )
    with open_output(out) as out:
        out.mkdir(IMAGES_DIR)
        for image in dataset.images:
            out.place_image(f"{IMAGES_DIR}/{image.file_name}", image, image_source, link)
        out.write_bytes(XML_NAME, tostring(root, encoding="utf-8", xml_declaration=True))


def _meta_labels(root: Element, problems: Problems) -> list[str] | None:
    """Label names declared in ``<meta>`` (task or project), or None when there are none."""
    nodes = root.findall("meta/*/labels/label")
    if not nodes:
        return None
    names: list[str] = []
    for i, node in enumerate(nodes, 1):
        name = (node.findtext("name") or "").strip()
        reason = class_name_problem(name)
        if reason:
            problems.add(f"{XML_NAME}: meta label {i}: name {reason}")
        elif name not in names:
            names.append(name)
    return names


def detect(path: Path) -> str | None:
    """The layout name when ``path`` holds a CVAT export (the reader tells which one)."""
    return "CVAT 1.1 (annotations.xml)" if (path / XML_NAME).is_file() else None


def read(
    path: Path, *, classes: list[str] | None = None, frames_dir: Path | None = None
) -> tuple[Dataset, ImageResolver]:
    """Read a CVAT for images (task or project export) or CVAT for video 1.1 folder;
    FormatError lists every problem.

    ``classes`` imposes a class list: a box of any other class is a problem. Without it the
    classes are the ``<meta>`` labels, or the box labels found (sorted) when there are none.
    ``frames_dir`` (CVAT for video only, a folder the caller made, e.g. frames decoded from
    the video, see :func:`video_frames_needed`) holds ``frame_NNNNNN.<ext>`` files used for
    the frames ``images/`` lacks.
    """
    root_dir = check_root(path)
    problems = Problems()
    raw = read_limited(root_dir / XML_NAME, XML_NAME, problems)
    root = parse_xml(raw, XML_NAME, problems) if raw is not None else None
    problems.raise_if_any()
    if root.tag != "annotations":
        raise FormatError([f"{XML_NAME}: root element is <{root.tag}>, not <annotations>"])
    declared = _meta_labels(root, problems)
    if root.find("track") is not None:
        if root.find("image") is not None:
            raise FormatError([f"{XML_NAME}: holds both <image> and <track> elements"])
        return _read_video(root_dir, root, declared, classes, problems, frames_dir)

    images: list[DatasetImage] = []
    paths: dict[str, Path] = {}
    found: set[str] = set()
    ignored: Counter[str] = Counter()
    only_other = 0
    nodes = []
    for n, node in enumerate(root.findall("image"), 1):
        name = node.get("name")
        reason = path_problem(name)
        if reason:
            problems.add(f"{XML_NAME}: image {n}: name {name!r} {reason}")
            continue
        nodes.append((name, node.get("subset") or "", node))
    # A project export may hold the same file name in several subsets (its tasks): those
    # images are told apart by their subset folder.
    subsets_of: dict[str, set[str]] = {}
    for name, subset, _ in nodes:
        subsets_of.setdefault(name, set()).add(subset)
    in_subset_folder = False
    for name, subset, node in nodes:
        where = f"{XML_NAME}: {name}"
        shared = len(subsets_of[name]) > 1 and _folder_name(subset)
        file_name = f"{subset}/{name}" if shared else name
        width, height = parse_int(node.get("width")), parse_int(node.get("height"))
        if not width or not height:
            problems.add(f"{where}: width and height must be positive integers")
            continue
        file = _image_path(root_dir, subset, name, where, problems, shared=bool(shared))
        if file is None or check_image_file(file, where, problems, (width, height)) is None:
            continue
        if subset and file.parent.name == subset and file.parent.parent.name == IMAGES_DIR:
            in_subset_folder = True
        image = DatasetImage(file_name, width, height, split_from_subset(subset))
        images.append(image)
        paths[file_name] = file
        for i, box_node in enumerate(node.findall("box"), 1):
            box = _box(box_node, f"{where}: box {i}", declared, width, height, problems)
            if box is not None:
                image.boxes.append(box)
                found.add(box.class_name)
        others = [child.tag for child in node if child.tag in OTHER_SHAPES]
        ignored.update(others)
        if others and not node.findall("box"):
            # Annotated, but not with boxes: not "no animal here".
            image.unlabeled = True
            only_other += 1
    dataset = finish_read(_file_classes(root, declared, found), images, classes, problems)
    project = root.find("meta/project") is not None
    dataset.layout = LAYOUT_PROJECT if project or in_subset_folder else LAYOUT_TASK
    if ignored:
        dataset.warnings.append(_ignored_text(ignored, only_other))
    return dataset, make_resolver(paths)


def _file_classes(root: Element, declared: list[str] | None, used: set[str]) -> list[str]:
    """The dataset's classes: the declared labels but those only for other shapes than boxes
    (unless a box uses one), or the labels the boxes use when none are declared."""
    if declared is None:
        return sorted(used)
    not_boxes = {
        (node.findtext("name") or "").strip()
        for node in root.findall("meta/*/labels/label")
        if (node.findtext("type") or "").strip() in NON_BOX_LABEL_TYPES
        or (node.findtext("parent") or "").strip()
    }
    return [name for name in declared if name not in not_boxes or name in used]


def _ignored_text(ignored: Counter, only_other: int, what: str = "shape") -> str:
    counts = ", ".join(f"{n} {tag}" for tag, n in sorted(ignored.items()))
    text = f"{sum(ignored.values())} {what}s other than boxes ({counts}) were not imported"
    if only_other:
        text += (
            f"; {only_other} image{'s' if only_other != 1 else ''} holding only such shapes "
            "imported as unlabeled frames"
        )
    return text


def _folder_name(subset: str) -> bool:
    return bool(subset) and not path_problem(subset) and "/" not in subset


def _box(node: Element, at: str, declared, width: int, height: int, problems: Problems):
    """The checked box of a ``<box>`` element, or None with a problem."""
    label = node.get("label") or ""
    reason = class_name_problem(label)
    if reason:
        problems.add(f"{at}: label {reason}")
        return None
    if declared is not None and label not in declared:
        problems.add(f"{at}: label {label!r} is not declared in <meta>")
        return None
    rotation = parse_number(node.get("rotation") or "0")
    if rotation is None or rotation % 360 != 0:
        problems.add(f"{at}: rotated boxes are not supported")
        return None
    corners = [parse_number(node.get(k)) for k in ("xtl", "ytl", "xbr", "ybr")]
    if any(v is None for v in corners):
        problems.add(f"{at}: xtl, ytl, xbr and ybr must be finite numbers")
        return None
    return box_from_edges(label, *corners, width, height, at, problems)


def _image_path(
    root: Path, subset: str, name: str, where: str, problems: Problems, *, shared: bool
) -> Path | None:
    in_subset = [f"{IMAGES_DIR}/{subset}/{name}"] if _folder_name(subset) else []
    # A name shared by several subsets is only ever that subset's own file.
    candidates = in_subset if shared else [f"{IMAGES_DIR}/{name}", *in_subset]
    return find_inside(root, candidates, where, problems, f"image file missing from {IMAGES_DIR}/")


# ---------------------------------------------------------------------------------------------
# CVAT for video 1.1


@dataclass
class _Shape:
    frame: int
    outside: bool
    corners: tuple[float, float, float, float]  # xtl, ytl, xbr, ybr


def _int_text(root: Element, tag: str) -> int | None:
    node = root.find(f"meta/task/{tag}")
    if node is None or node.text is None:
        return None
    return parse_int(node.text)


@dataclass(frozen=True)
class TaskFrames:
    """The frames of a CVAT video task: ``start + i * step`` up to ``stop`` (None: open)."""

    start: int = 0
    stop: int | None = None
    step: int = 1

    def problem(self, frame: int) -> str | None:
        """Why ``frame`` is not one of the task's frames, or None when it is."""
        if frame < self.start or (frame - self.start) % self.step:
            return (
                f"frame {frame} is not a frame of the task (start_frame {self.start}, "
                f"frame step {self.step})"
            )
        return None


def _task_frames(root: Element, problems: Problems) -> TaskFrames:
    """The task's frames from ``<meta><task>`` (as CVAT writes them: ``start_frame``,
    ``stop_frame``, ``size`` and ``frame_filter`` ``step=N``)."""
    start = _int_text(root, "start_frame") or 0
    step = 1
    frame_filter = (root.findtext("meta/task/frame_filter") or "").strip()
    if frame_filter:
        found = _STEP.search(frame_filter)
        if found is None or int(found[1]) < 1:
            problems.add(f"{XML_NAME}: frame_filter {frame_filter[:40]!r} is not step=N (N >= 1)")
        else:
            step = int(found[1])
    stop = _int_text(root, "stop_frame")
    size = _int_text(root, "size")
    if stop is None and size:
        stop = start + (size - 1) * step
    return TaskFrames(start, stop, step)


def _track_shapes(
    track: Element, n: int, declared, task: TaskFrames, problems: Problems
) -> tuple[str, list[_Shape]] | None:
    """The label and box shapes of a ``<track>`` (None, or no shapes, when it holds none)."""
    where = f"{XML_NAME}: track {track.get('id', n)}"
    nodes = track.findall("box")
    if not nodes:
        return None  # a track of points, polygons...: left out (the reader warns)
    label = track.get("label") or ""
    reason = class_name_problem(label)
    if reason:
        problems.add(f"{where}: label {reason}")
        return None
    if declared is not None and label not in declared:
        problems.add(f"{where}: label {label!r} is not declared in <meta>")
        return None
    shapes: dict[int, _Shape] = {}
    for i, node in enumerate(nodes, 1):
        at = f"{where}: box {i}"
        frame = parse_int(node.get("frame"))
        if frame is None or frame >= MAX_VIDEO_FRAMES:
            problems.add(f"{at}: frame must be an integer from 0 to {MAX_VIDEO_FRAMES - 1}")
            continue
        off_task = task.problem(frame)
        if off_task:
            problems.add(f"{at}: {off_task}")
            continue
        if frame in shapes:
            problems.add(f"{at}: frame {frame} is listed twice in this track")
            continue
        rotation = parse_number(node.get("rotation") or "0")
        if rotation is None or rotation % 360 != 0:
            problems.add(f"{at}: rotated boxes are not supported")
            continue
        corners = [parse_number(node.get(k)) for k in ("xtl", "ytl", "xbr", "ybr")]
        if any(v is None for v in corners):
            problems.add(f"{at}: xtl, ytl, xbr and ybr must be finite numbers")
            continue
        outside = (node.get("outside") or "0").strip() == "1"
        shapes[frame] = _Shape(frame, outside, tuple(corners))
    return label, [shapes[f] for f in sorted(shapes)]


def track_boxes(
    shapes: list[_Shape], stop_frame: int | None, step: int = 1
) -> dict[int, tuple[float, float, float, float]]:
    """``{frame: (xtl, ytl, xbr, ybr)}`` for every task frame the track covers (see the module
    docstring: linear interpolation between listed shapes, ``outside`` ends the track, the
    last shape continues to ``stop_frame``). ``shapes`` are on the task's frames, every
    ``step``-th one; so are the frames covered."""
    covered: dict[int, tuple[float, float, float, float]] = {}
    # (No zip with shapes[1:] + [None]: for a track with no valid shape that raised ValueError.)
    for i, shape in enumerate(shapes):
        after = shapes[i + 1] if i + 1 < len(shapes) else None
        if shape.outside:
            continue
        covered[shape.frame] = shape.corners
        if after is None:
            end = stop_frame if stop_frame is not None and stop_frame > shape.frame else None
            if end is not None:
                for f in range(shape.frame + step, min(end, MAX_VIDEO_FRAMES - 1) + 1, step):
                    covered[f] = shape.corners
            continue
        # CVAT interpolates towards the next shape even when that one is outside.
        span = after.frame - shape.frame
        for f in range(shape.frame + step, after.frame, step):
            t = (f - shape.frame) / span
            covered[f] = tuple(
                a + (b - a) * t for a, b in zip(shape.corners, after.corners, strict=True)
            )
    return covered


def _frame_files(root: Path, problems: Problems, folder: str = IMAGES_DIR) -> dict[int, str]:
    """``{frame number: file name}`` of the ``frame_NNNNNN.<ext>`` files in ``root/folder``."""
    folder_name = folder
    folder, reason = (root, None) if folder == "." else resolve_inside(root, folder)
    if folder is None:
        problems.add(f"{folder_name}/: {reason}")
        return {}
    files: dict[int, str] = {}
    if not folder.is_dir():
        return files
    for entry in sorted(folder.iterdir()):
        stem, _, _ = entry.name.partition(".")
        if not stem.startswith("frame_") or not has_image_extension(entry.name):
            continue
        number = stem[len("frame_") :]
        if number.isdecimal() and len(number) <= 9:
            other = files.setdefault(int(number), entry.name)
            if other != entry.name:
                problems.add(f"{folder_name}/{entry.name}: frame {int(number)} is also {other}")
    return files


def _covered(root: Element, declared, problems: Problems) -> dict[int, list]:
    """``{frame: [(label, corners, track id)]}`` for every task frame the box tracks cover."""
    task = _task_frames(root, problems)
    by_frame: dict[int, list] = {}
    for n, track in enumerate(root.findall("track"), 1):
        result = _track_shapes(track, n, declared, task, problems)
        if result is None:
            continue
        label, shapes = result
        for frame, corners in track_boxes(shapes, task.stop, task.step).items():
            by_frame.setdefault(frame, []).append((label, corners, track.get("id", str(n))))
        if len(by_frame) > MAX_VIDEO_FRAMES:
            problems.add(f"{XML_NAME}: tracks cover more than {MAX_VIDEO_FRAMES} frames")
            break
    return by_frame


def video_frames_needed(path: Path) -> tuple[Path | None, list[int]]:
    """For a CVAT for video folder whose ``images/`` lacks frames the tracks cover, and that
    holds one video file at the top: ``(that video, the missing frame numbers)``; otherwise
    ``(None, [])`` (also when the XML is unreadable: :func:`read` reports that)."""
    root_dir = Path(path)
    problems = Problems()
    raw = read_limited(root_dir / XML_NAME, XML_NAME, problems)
    root = parse_xml(raw, XML_NAME, problems) if raw is not None else None
    if root is None or root.tag != "annotations" or root.find("track") is None:
        return None, []
    videos = [
        p
        for p in sorted(root_dir.iterdir())
        if p.suffix.lower().lstrip(".") in VIDEO_EXTENSIONS and p.is_file() and not p.is_symlink()
    ]
    if len(videos) != 1:
        return None, []
    covered = _covered(root, _meta_labels(root, problems), problems)
    files = _frame_files(root_dir, problems)
    if problems:
        return None, []
    return videos[0], sorted(set(covered) - set(files))


def _read_video(
    root_dir: Path,
    root: Element,
    declared,
    classes,
    problems: Problems,
    frames_dir: Path | None = None,
) -> tuple[Dataset, ImageResolver]:
    width, height = _int_text(root, "original_size/width"), _int_text(root, "original_size/height")
    subset = (root.findtext("meta/task/subset") or "").strip()
    by_frame = _covered(root, declared, problems)
    found = {label for boxes in by_frame.values() for label, _, _ in boxes}
    found |= {
        t.get("label")
        for t in root.findall("track")
        if t.find("box") is not None and not class_name_problem(t.get("label"))
    }
    problems.raise_if_any()
    in_folder = _frame_files(root_dir, problems)
    files = {n: root_dir / IMAGES_DIR / name for n, name in in_folder.items()}
    if frames_dir is not None:
        for n, name in _frame_files(Path(frames_dir), problems, folder=".").items():
            files.setdefault(n, Path(frames_dir) / name)
    images: list[DatasetImage] = []
    paths: dict[str, Path] = {}
    for frame in sorted(by_frame):
        where = f"{XML_NAME}: frame {frame}"
        file = files.get(frame)
        if file is None:
            problems.add(f"{where}: image file missing ({IMAGES_DIR}/frame_{frame:06d}.*)")
            continue
        name = file.name
        size = check_image_file(file, where, problems, (width, height))
        if size is None:
            continue
        image = DatasetImage(name, size[0], size[1], split_from_subset(subset))
        for label, (x1, y1, x2, y2), track_id in by_frame[frame]:
            at = f"{where}: track {track_id}"
            box = box_from_edges(label, x1, y1, x2, y2, size[0], size[1], at, problems)
            if box is not None:
                image.boxes.append(box)
        images.append(image)
        paths[name] = file
    dataset = finish_read(_file_classes(root, declared, found), images, classes, problems)
    dataset.layout = LAYOUT_VIDEO
    ignored = Counter(
        child.tag for track in root.findall("track") for child in track if child.tag in OTHER_SHAPES
    )
    if ignored:
        dataset.warnings.append(_ignored_text(ignored, 0, what="track shape"))
    uncovered = len(set(in_folder) - set(by_frame))
    if uncovered:
        dataset.warnings.append(
            f"{uncovered} frame image{'s' if uncovered != 1 else ''} in {IMAGES_DIR}/ that no "
            "track covers were not imported"
        )
    return dataset, make_resolver(paths)
