"""CVAT for images 1.1 XML.

::

    annotations.xml
    images/<file_name>

``annotations.xml`` has ``<meta>`` with the label list (task or project export) and one
``<image name width height [subset]>`` per image holding ``<box label xtl ytl xbr ybr>``:
corners in pixels, top-left and bottom-right, so ``w = xbr - xtl``. The split is the image's
``subset`` attribute (``Train``/``Validation``/``Test`` as CVAT writes them are understood);
images without one have no split.

Coordinates are written with 2 decimals, as CVAT does, so a box comes back on the 0.01 px grid
(exact for integer boxes). Reading also finds images in ``images/<subset>/`` (project exports),
keeps only ``<box>`` shapes (polygons, points, tags... are ignored), refuses rotated boxes and
CVAT-for-video ``<track>`` files, and parses with defusedxml with DTDs refused.
"""

from __future__ import annotations

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
    OutputFolder,
    check_image_file,
    check_root,
    find_inside,
    path_problem,
    read_limited,
)
from .voc import parse_xml

XML_NAME = "annotations.xml"
IMAGES_DIR = "images"


def _fmt(value: float) -> str:
    return f"{value:.2f}"


def write(
    dataset: Dataset,
    out_dir: Path,
    image_source: ImageSource,
    *,
    link: bool = False,
) -> None:
    """Write ``dataset`` as CVAT for images 1.1 into ``out_dir`` (absent or empty)."""
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
    with OutputFolder(out_dir) as out:
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


def read(path: Path, *, classes: list[str] | None = None) -> tuple[Dataset, ImageResolver]:
    """Read a CVAT for images 1.1 folder; FormatError lists every problem.

    ``classes`` imposes a class list: a box of any other class is a problem. Without it the
    classes are the ``<meta>`` labels, or the box labels found (sorted) when there are none.
    """
    root_dir = check_root(path)
    problems = Problems()
    raw = read_limited(root_dir / XML_NAME, XML_NAME, problems)
    root = parse_xml(raw, XML_NAME, problems) if raw is not None else None
    problems.raise_if_any()
    if root.tag != "annotations":
        raise FormatError([f"{XML_NAME}: root element is <{root.tag}>, not <annotations>"])
    if root.find("track") is not None:
        raise FormatError([f"{XML_NAME}: CVAT for video (<track>) is not supported"])

    declared = _meta_labels(root, problems)
    images: list[DatasetImage] = []
    paths: dict[str, Path] = {}
    found: set[str] = set()
    for n, node in enumerate(root.findall("image"), 1):
        name = node.get("name")
        reason = path_problem(name)
        if reason:
            problems.add(f"{XML_NAME}: image {n}: name {name!r} {reason}")
            continue
        where = f"{XML_NAME}: {name}"
        width, height = parse_int(node.get("width")), parse_int(node.get("height"))
        if not width or not height:
            problems.add(f"{where}: width and height must be positive integers")
            continue
        subset = node.get("subset") or ""
        file = _image_path(root_dir, subset, name, where, problems)
        if file is None or check_image_file(file, where, problems, (width, height)) is None:
            continue
        image = DatasetImage(name, width, height, split_from_subset(subset))
        images.append(image)
        paths[name] = file
        for i, box_node in enumerate(node.findall("box"), 1):
            at = f"{where}: box {i}"
            label = box_node.get("label") or ""
            reason = class_name_problem(label)
            if reason:
                problems.add(f"{at}: label {reason}")
                continue
            if declared is not None and label not in declared:
                problems.add(f"{at}: label {label!r} is not declared in <meta>")
                continue
            rotation = parse_number(box_node.get("rotation") or "0")
            if rotation is None or rotation % 360 != 0:
                problems.add(f"{at}: rotated boxes are not supported")
                continue
            corners = [parse_number(box_node.get(k)) for k in ("xtl", "ytl", "xbr", "ybr")]
            if any(v is None for v in corners):
                problems.add(f"{at}: xtl, ytl, xbr and ybr must be finite numbers")
                continue
            box = box_from_edges(label, *corners, width, height, at, problems)
            if box is not None:
                image.boxes.append(box)
                found.add(label)
    file_classes = declared if declared is not None else sorted(found)
    dataset = finish_read(file_classes, images, classes, problems)
    return dataset, make_resolver(paths)


def _image_path(root: Path, subset: str, name: str, where: str, problems: Problems) -> Path | None:
    candidates = [f"{IMAGES_DIR}/{name}"]
    if subset and not path_problem(subset) and "/" not in subset:
        candidates.append(f"{IMAGES_DIR}/{subset}/{name}")
    return find_inside(root, candidates, where, problems, f"image file missing from {IMAGES_DIR}/")
