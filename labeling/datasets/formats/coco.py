"""COCO detection ("instances") JSON, one file per split.

::

    annotations/instances_{train,val,test,default}.json
    images/{train,val,test,default}/<file_name>

This is the COCO 2017 / CVAT export layout: each split is its own JSON file with its own image
folder; images without a split form the ``default`` subset. Each JSON holds ``images``
(``id``, ``file_name`` relative to the subset's image folder, ``width``, ``height``),
``annotations`` (``id``, ``image_id``, ``category_id``, ``bbox`` = [x, y, w, h] in pixels,
top-left corner, ``area``, ``iscrowd``) and ``categories`` (``id``, ``name``).

Writing numbers categories 1..N in class order (0 is often read as background) and gives
images and annotations ids unique across all files. Boxes are written as exact floats.

Reading takes every ``annotations/instances_<subset>.json``: subset ``train``/``val``/``test``
(also ``Train``, ``validation``...) gives the split, anything else none. Category ids may be any
integers or strings; classes are ordered by id (integers) or as listed. A category id must mean
the same name in every file. An image file is looked up in ``images/<subset>/``, then in
``images/``, then in ``<subset>/`` at the top (MMDetection's layout:
``annotations/instances_train2017.json`` with images in ``train2017/``; trailing digits of a
subset name are a year, so ``train2017`` is the train split). ``iscrowd`` boxes are read as
ordinary boxes; segmentations are ignored.

Roboflow's export is read too::

    {train,valid,test}/_annotations.coco.json     images beside it in the same folder

Roboflow lists the dataset's name as category 0, the supercategory of the real classes and
used by no box: a category that no box uses and that is another category's supercategory is
dropped.
"""

from __future__ import annotations

import json
from pathlib import Path

from .base import (
    Dataset,
    DatasetBox,
    DatasetImage,
    FormatError,
    ImageResolver,
    ImageSource,
    Problems,
    split_folder,
    split_from_subset,
)
from .checks import (
    box_from_edges,
    class_name_problem,
    finish_read,
    is_number,
    is_positive_int,
    make_resolver,
    validated,
)
from .files import (
    check_image_file,
    check_root,
    find_inside,
    path_problem,
    read_limited,
    resolve_inside,
)
from .outputs import ZipOutput, open_output
from .pose import coco_annotation_fields, coco_category_fields, coco_points, coco_skeleton

ANNOTATIONS_DIR = "annotations"
IMAGES_DIR = "images"
ROBOFLOW_NAME = "_annotations.coco.json"
LAYOUT_COCO = "COCO (annotations/instances_<split>.json, images/<split>/)"
LAYOUT_MMDET = "COCO, MMDetection layout (annotations/instances_<split>.json, <split>/)"
LAYOUT_ROBOFLOW = "COCO as Roboflow exports it (<split>/_annotations.coco.json)"


def write(
    dataset: Dataset,
    out: Path | ZipOutput,
    image_source: ImageSource,
    *,
    link: bool = False,
) -> None:
    """Write ``dataset`` as COCO JSON files (one per split) into ``out`` (an
    absent or empty folder, or a :class:`ZipOutput`)."""
    dataset = validated(dataset)
    category_id = {name: i + 1 for i, name in enumerate(dataset.classes)}
    skeleton = dataset.skeleton
    pose = coco_category_fields(skeleton) if skeleton else {}
    categories = [
        {"id": category_id[name], "name": name, "supercategory": "", **pose}
        for name in dataset.classes
    ]
    subsets: dict[str, list[DatasetImage]] = {}
    for image in dataset.images:
        subsets.setdefault(split_folder(image.split), []).append(image)
    if not subsets:
        subsets["default"] = []
    image_id = annotation_id = 0
    with open_output(out) as out:
        for subset, images in subsets.items():
            doc: dict[str, object] = {
                "info": {"description": "MouseTrack Studio export", "version": "1.0"},
                "licenses": [],
                "categories": categories,
                "images": [],
                "annotations": [],
            }
            for image in images:
                image_id += 1
                doc["images"].append(
                    {
                        "id": image_id,
                        "file_name": image.file_name,
                        "width": image.width,
                        "height": image.height,
                    }
                )
                for box in image.boxes:
                    annotation_id += 1
                    doc["annotations"].append(
                        {
                            "id": annotation_id,
                            "image_id": image_id,
                            "category_id": category_id[box.class_name],
                            "bbox": [box.x, box.y, box.w, box.h],
                            "area": box.w * box.h,
                            "iscrowd": 0,
                            "segmentation": [],
                            **(
                                coco_annotation_fields(box.keypoints, len(skeleton.keypoints))
                                if skeleton
                                else {}
                            ),
                        }
                    )
                rel = f"{IMAGES_DIR}/{subset}/{image.file_name}"
                out.place_image(rel, image, image_source, link)
            out.write_text(
                f"{ANNOTATIONS_DIR}/instances_{subset}.json",
                json.dumps(doc, ensure_ascii=False, allow_nan=False, indent=1),
            )


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _load(path: Path, label: str, problems: Problems) -> dict | None:
    raw = read_limited(path, label, problems)
    if raw is None:
        return None
    try:
        # NaN/Infinity are Python extensions, not JSON: refuse them.
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        problems.add(f"{label}: not UTF-8 text")
        return None
    except json.JSONDecodeError as exc:
        problems.add(f"{label}: not valid JSON (line {exc.lineno}, column {exc.colno})")
        return None
    except (ValueError, RecursionError) as exc:
        problems.add(f"{label}: not valid JSON ({exc})")
        return None
    if not isinstance(doc, dict):
        problems.add(f"{label}: top level is not an object")
        return None
    for key in ("images", "annotations", "categories"):
        if not isinstance(doc.get(key), list):
            problems.add(f"{label}: '{key}' missing or not a list")
            return None
    return doc


def _is_id(value: object) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)


def _unused_supercategories(files: list[tuple[str, dict]]) -> set[object]:
    """Ids of categories no box uses that are another category's supercategory (Roboflow)."""
    used: set[object] = set()
    names: dict[object, str] = {}
    supers: set[str] = set()
    for _, doc in files:
        for ann in doc["annotations"]:
            if isinstance(ann, dict) and _is_id(ann.get("category_id")):
                used.add(ann["category_id"])
        for cat in doc["categories"]:
            if isinstance(cat, dict) and _is_id(cat.get("id")):
                names[cat["id"]] = cat.get("name")
                sup = cat.get("supercategory")
                if isinstance(sup, str) and sup != cat.get("name"):
                    supers.add(sup)
    return {cid for cid, name in names.items() if cid not in used and name in supers}


def _categories(
    files: list[tuple[str, dict]], problems: Problems, skip: set[object] = frozenset()
) -> tuple[dict[object, str], list[str]]:
    names_by_id: dict[object, str] = {}
    for label, doc in files:
        names_in_file: set[str] = set()
        for i, cat in enumerate(doc["categories"]):
            where = f"{label}: categories[{i}]"
            if not isinstance(cat, dict) or not _is_id(cat.get("id")):
                problems.add(f"{where}: needs an integer or string 'id'")
                continue
            name, cid = cat.get("name"), cat["id"]
            if cid in skip:
                continue
            reason = class_name_problem(name)
            if reason:
                problems.add(f"{where}: name {reason}")
                continue
            if name in names_in_file:
                problems.add(f"{where}: duplicate category name {name!r}")
                continue
            names_in_file.add(name)
            known = names_by_id.setdefault(cid, name)
            if known != name:
                problems.add(f"{where}: id {cid!r} is {name!r} here but {known!r} elsewhere")
    ids = list(names_by_id)
    if all(isinstance(i, int) for i in ids):
        ids.sort()
    classes = [names_by_id[i] for i in ids]
    if len(set(classes)) != len(classes):
        problems.add("categories: one name has several ids")
    return names_by_id, classes


def _roboflow_files(root: Path) -> list[tuple[str, str, Path]]:
    """``(label, subset, path)`` of ``<folder>/_annotations.coco.json`` (no symlinked ones)."""
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        path, reason = resolve_inside(root, f"{folder.name}/{ROBOFLOW_NAME}")
        if path is not None and path.is_file() and not path.is_symlink():
            found.append((f"{folder.name}/{ROBOFLOW_NAME}", folder.name, path))
    return found


def detect(path: Path) -> str | None:
    """The layout name when ``path`` holds a COCO dataset in one of the layouts read."""
    ann_dir = path / ANNOTATIONS_DIR
    if ann_dir.is_dir() and not ann_dir.is_symlink() and any(ann_dir.glob("instances_*.json")):
        subsets = [p.stem[len("instances_") :] for p in ann_dir.glob("instances_*.json")]
        if not (path / IMAGES_DIR).is_dir() and any((path / s).is_dir() for s in subsets):
            return LAYOUT_MMDET
        return LAYOUT_COCO
    if _roboflow_files(path):
        return LAYOUT_ROBOFLOW
    return None


def read(path: Path, *, classes: list[str] | None = None) -> tuple[Dataset, ImageResolver]:
    """Read a COCO folder: ``annotations/instances_*.json`` with ``images/`` (or MMDetection's
    ``<split>/`` folders), or Roboflow's ``<split>/_annotations.coco.json``.

    FormatError lists every problem. ``classes`` imposes a class list: a box of any other
    class is a problem.
    """
    root = check_root(path)
    ann_dir, reason = resolve_inside(root, ANNOTATIONS_DIR)
    if ann_dir is None:
        raise FormatError([f"{ANNOTATIONS_DIR}/: {reason}"])
    sources = [
        (f"{ANNOTATIONS_DIR}/{file.name}", file.stem[len("instances_") :], file)
        for file in (sorted(ann_dir.glob("instances_*.json")) if ann_dir.is_dir() else [])
    ]
    roboflow = not sources
    if roboflow:
        sources = _roboflow_files(root)
    if not sources:
        raise FormatError(
            [f"{ANNOTATIONS_DIR}/instances_<split>.json or <split>/{ROBOFLOW_NAME}: none found"]
        )
    problems = Problems()
    files: list[tuple[str, str, dict]] = []
    for label, subset, file in sources:
        doc = _load(file, label, problems)
        if doc is not None:
            files.append((label, subset, doc))
    if problems:
        problems.raise_if_any()
    pairs = [(lb, doc) for lb, _, doc in files]
    skip = _unused_supercategories(pairs) if roboflow else set()
    names_by_id, file_classes = _categories(pairs, problems, skip)
    pose_problems: list[str] = []
    skeleton = coco_skeleton([c for _, doc in pairs for c in doc["categories"]], pose_problems)
    problems.extend(pose_problems)
    kpt_count = len(skeleton.keypoints) if skeleton else 0

    # The same file name in several subsets (two splits' folders): those images are told
    # apart by their subset folder.
    subsets_of: dict[str, set[str]] = {}
    for _, subset, doc in files:
        for entry in doc["images"]:
            if isinstance(entry, dict) and isinstance(entry.get("file_name"), str):
                subsets_of.setdefault(entry["file_name"], set()).add(subset)
    images: list[DatasetImage] = []
    paths: dict[str, Path] = {}
    top_level = False
    for label, subset, doc in files:
        split = split_from_subset(subset)
        by_id: dict[object, DatasetImage] = {}
        for i, entry in enumerate(doc["images"]):
            where = f"{label}: images[{i}]"
            if not isinstance(entry, dict) or not _is_id(entry.get("id")):
                problems.add(f"{where}: needs an integer or string 'id'")
                continue
            name = entry.get("file_name")
            reason = path_problem(name)
            if reason:
                problems.add(f"{where}: file_name {name!r} {reason}")
                continue
            where = f"{label}: {name}"
            if entry["id"] in by_id:
                problems.add(f"{where}: duplicate image id {entry['id']!r}")
                continue
            width, height = entry.get("width"), entry.get("height")
            if not (is_positive_int(width) and is_positive_int(height)):
                problems.add(f"{where}: width and height must be positive integers")
                continue
            if roboflow:
                file = find_inside(
                    root,
                    [f"{subset}/{name}"],
                    where,
                    problems,
                    f"image file missing from {subset}/",
                )
            else:
                file = _image_path(root, subset, name, where, problems)
                top_level = top_level or (
                    file is not None and file == root / subset / name and subset != IMAGES_DIR
                )
            if file is None or check_image_file(file, where, problems, (width, height)) is None:
                continue
            key = f"{subset}/{name}" if len(subsets_of[name]) > 1 else name
            image = DatasetImage(key, width, height, split)
            by_id[entry["id"]] = image
            images.append(image)
            paths[key] = file
        _annotations(label, doc, by_id, names_by_id, problems, kpt_count)

    dataset = finish_read(file_classes, images, classes, problems, skeleton)
    dataset.layout = LAYOUT_ROBOFLOW if roboflow else (LAYOUT_MMDET if top_level else LAYOUT_COCO)
    return dataset, make_resolver(paths)


def _image_path(root: Path, subset: str, name: str, where: str, problems: Problems) -> Path | None:
    return find_inside(
        root,
        [f"{IMAGES_DIR}/{subset}/{name}", f"{IMAGES_DIR}/{name}", f"{subset}/{name}"],
        where,
        problems,
        f"image file missing (in {IMAGES_DIR}/{subset}/, {IMAGES_DIR}/ and {subset}/)",
    )


def _annotations(
    label: str,
    doc: dict,
    by_id: dict[object, DatasetImage],
    names_by_id: dict[object, str],
    problems: Problems,
    kpt_count: int = 0,
) -> None:
    listed = {
        entry.get("id")
        for entry in doc["images"]
        if isinstance(entry, dict) and _is_id(entry.get("id"))
    }
    for i, ann in enumerate(doc["annotations"]):
        where = f"{label}: annotations[{i}]"
        if not isinstance(ann, dict):
            problems.add(f"{where}: not an object")
            continue
        image_id, category = ann.get("image_id"), ann.get("category_id")
        if not _is_id(image_id) or image_id not in listed:
            problems.add(f"{where}: image_id {image_id!r} is not an image of this file")
            continue
        if not _is_id(category) or category not in names_by_id:
            problems.add(f"{where}: category_id {category!r} is not a category")
            continue
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(is_number(v) for v in bbox):
            problems.add(f"{where}: bbox must be 4 finite numbers [x, y, w, h]")
            continue
        image = by_id.get(image_id)
        if image is None:
            continue  # the image itself was a problem, already reported
        x, y, w, h = (float(v) for v in bbox)
        box: DatasetBox | None = box_from_edges(
            names_by_id[category],
            x,
            y,
            x + w,
            y + h,
            image.width,
            image.height,
            f"{where} ({image.file_name})",
            problems,
        )
        if box is not None and kpt_count:
            found: list[str] = []
            box.keypoints = coco_points(ann, kpt_count, f"{where} ({image.file_name})", found)
            problems.extend(found)
        if box is not None:
            image.boxes.append(box)
