"""Pascal VOC XML (the seed paper's label format).

::

    Annotations/<id>.xml            one per image: <filename>, <size>, <object>s
    JPEGImages/<file_name>          <id> is the file name without its extension
    ImageSets/Main/{train,val,test}.txt   one <id> per line

VOC boxes are integer pixel indices, 1-based and inclusive: a box covering pixel columns
``x .. x+w-1`` (0-based) is ``xmin = x + 1``, ``xmax = x + w``. So reading gives
``x = xmin - 1``, ``w = xmax - xmin + 1``, and integer boxes round-trip exactly. Float boxes are
rounded on write, each edge to the nearest pixel (half up), so each edge moves at most
0.5 px; a box narrower than one pixel is widened to one pixel.

Reading takes every ``Annotations/**/*.xml``; ``ImageSets/Main/{train,val,test}.txt`` give the
splits (other ImageSets files such as ``trainval.txt`` are ignored; an image in none of them
has no split). An id listed there without an annotation file is an image nobody annotated
(VOC's own test sets are listed so): its ``JPEGImages/<id>.<ext>`` is read as an *unlabeled*
image (neither labeled nor negative) and a warning says how many. Writing does the same
for an image marked ``unlabeled`` (an unlabeled frame exported on request): no annotation
file, its id in its split's list, or in ``test.txt`` when it has none (where VOC lists
its own unannotated images; only train, val and test are read back). Coordinates may be written
as floats. Because some tools write 0-based VOC,
a box may overhang the image by up to one pixel before it is a problem; it is clipped.
``<difficult>``/``<truncated>`` are not kept. XML is parsed with defusedxml with DTDs refused
(no entity expansion, no external references).
"""

from __future__ import annotations

import math
from pathlib import Path, PurePosixPath
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .base import SPLITS, Dataset, DatasetImage, FormatError, ImageResolver, ImageSource, Problems
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
    has_image_extension,
    path_problem,
    read_limited,
    relative_posix,
    resolve_inside,
    walk_files,
)
from .outputs import ZipOutput, open_output

ANNOTATIONS_DIR = "Annotations"
IMAGES_DIR = "JPEGImages"
SETS_DIR = "ImageSets/Main"
LAYOUT = "Pascal VOC (Annotations/, JPEGImages/, ImageSets/Main/)"
#: Some VOC writers are 0-based; allow their boxes to touch "pixel 0".
VOC_TOLERANCE_PX = 1.0


def parse_xml(raw: bytes, label: str, problems: Problems) -> Element | None:
    """Parse untrusted XML: DTDs, entities and external references are refused."""
    try:
        return fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        problems.add(f"{label}: refused XML ({type(exc).__name__})")
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        problems.add(f"{label}: not well-formed XML (line {line}, column {column + 1})")
    except (ValueError, RecursionError) as exc:
        problems.add(f"{label}: not well-formed XML ({type(exc).__name__})")
    return None


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def pixel_edges(start: float, size: float, limit: int) -> tuple[int, int]:
    """0-based ``[a, b)`` integer pixel edges for a float interval, at least 1 px wide."""
    a, b = _round_half_up(start), _round_half_up(start + size)
    a, b = max(0, min(a, limit)), max(0, min(b, limit))
    if b <= a:
        b = a + 1
        if b > limit:
            a, b = limit - 1, limit
    return a, b


def voc_id(file_name: str) -> str:
    return str(PurePosixPath(file_name).with_suffix(""))


def _text(parent: Element, tag: str, text: object) -> Element:
    child = SubElement(parent, tag)
    child.text = str(text)
    return child


def write(
    dataset: Dataset,
    out: Path | ZipOutput,
    image_source: ImageSource,
    *,
    link: bool = False,
) -> None:
    """Write ``dataset`` as Pascal VOC into ``out`` (an absent or empty folder, or a
    :class:`ZipOutput`)."""
    dataset = validated(dataset)
    problems = Problems()
    ids: dict[str, str] = {}
    for image in dataset.images:
        other = ids.setdefault(voc_id(image.file_name), image.file_name)
        if other != image.file_name:
            problems.add(f"{image.file_name}: same VOC id as {other}")
    problems.raise_if_any()
    sets: dict[str, list[str]] = {split: [] for split in SPLITS}
    with open_output(out) as out:
        out.mkdir(ANNOTATIONS_DIR)
        out.mkdir(IMAGES_DIR)
        for image in dataset.images:
            ident = voc_id(image.file_name)
            out.place_image(f"{IMAGES_DIR}/{image.file_name}", image, image_source, link)
            if image.unlabeled:  # listed, without an annotation file: nobody annotated it
                sets[image.split or "test"].append(ident)
                continue
            root = Element("annotation")
            _text(root, "folder", IMAGES_DIR)
            _text(root, "filename", image.file_name)
            source = SubElement(root, "source")
            _text(source, "database", "MouseTrack Studio")
            size = SubElement(root, "size")
            _text(size, "width", image.width)
            _text(size, "height", image.height)
            _text(size, "depth", 3)
            _text(root, "segmented", 0)
            for box in image.boxes:
                x0, x1 = pixel_edges(box.x, box.w, image.width)
                y0, y1 = pixel_edges(box.y, box.h, image.height)
                obj = SubElement(root, "object")
                _text(obj, "name", box.class_name)
                _text(obj, "pose", "Unspecified")
                _text(obj, "truncated", 0)
                _text(obj, "difficult", 0)
                bndbox = SubElement(obj, "bndbox")
                _text(bndbox, "xmin", x0 + 1)
                _text(bndbox, "ymin", y0 + 1)
                _text(bndbox, "xmax", x1)
                _text(bndbox, "ymax", y1)
            out.write_bytes(
                f"{ANNOTATIONS_DIR}/{ident}.xml",
                tostring(root, encoding="utf-8", xml_declaration=True),
            )
            if image.split:
                sets[image.split].append(ident)
        for split, members in sets.items():
            out.write_text(f"{SETS_DIR}/{split}.txt", "".join(f"{m}\n" for m in members))


def _read_sets(root: Path, problems: Problems) -> dict[str, str]:
    """``{voc id: split}`` from ImageSets/Main/{train,val,test}.txt."""
    split_of: dict[str, str] = {}
    for split in SPLITS:
        label = f"{SETS_DIR}/{split}.txt"
        path, reason = resolve_inside(root, label)
        if path is None:
            problems.add(f"{label}: {reason}")
            continue
        if not path.exists():
            continue
        raw = read_limited(path, label, problems)
        if raw is None:
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.add(f"{label}: not UTF-8 text")
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            # Main/{train,val,test}.txt hold one id per line (ids may contain spaces).
            ident = line.strip()
            if not ident:
                continue
            reason = path_problem(ident)
            if reason:
                problems.add(f"{label}:{lineno}: id {ident!r} {reason}")
                continue
            other = split_of.setdefault(ident, split)
            if other != split:
                problems.add(f"{label}:{lineno}: {ident} is also in {other}.txt")
    return split_of


def _child_text(node: Element, tag: str) -> str | None:
    child = node.find(tag)
    return child.text.strip() if child is not None and child.text is not None else None


def read(path: Path, *, classes: list[str] | None = None) -> tuple[Dataset, ImageResolver]:
    """Read a Pascal VOC folder; FormatError lists every problem.

    ``classes`` imposes a class list: a box of any other class is a problem. Without it the
    classes are the object names found, sorted.
    """
    root = check_root(path)
    ann_root, reason = resolve_inside(root, ANNOTATIONS_DIR)
    if ann_root is None:
        raise FormatError([f"{ANNOTATIONS_DIR}/: {reason}"])
    if not ann_root.is_dir():
        raise FormatError([f"{ANNOTATIONS_DIR}/: missing"])
    problems = Problems()
    split_of = _read_sets(root, problems)
    images: list[DatasetImage] = []
    paths: dict[str, Path] = {}
    names_seen: set[str] = set()
    ids_read: set[str] = set()
    for file in walk_files(ann_root, problems, ANNOTATIONS_DIR):
        if file.suffix.lower() != ".xml":
            continue
        ident = str(PurePosixPath(relative_posix(file, ann_root)).with_suffix(""))
        label = f"{ANNOTATIONS_DIR}/{relative_posix(file, ann_root)}"
        ids_read.add(ident)
        raw = read_limited(file, label, problems)
        node = parse_xml(raw, label, problems) if raw is not None else None
        if node is None:
            continue
        image = _read_one(root, node, ident, label, split_of.get(ident, ""), problems, paths)
        if image is not None:
            images.append(image)
            names_seen.update(box.class_name for box in image.boxes)
    unlabeled = sorted(set(split_of) - ids_read)
    listings: dict[Path, dict[str, list[Path]]] = {}
    for ident in unlabeled:
        image = _unlabeled_image(root, ident, split_of[ident], problems, paths, listings)
        if image is not None:
            images.append(image)
    dataset = finish_read(sorted(names_seen), images, classes, problems)
    dataset.layout = LAYOUT
    if unlabeled:
        shown = ", ".join(unlabeled[:5]) + (", ..." if len(unlabeled) > 5 else "")
        dataset.warnings.append(
            f"{len(unlabeled)} image{'s' if len(unlabeled) != 1 else ''} listed in {SETS_DIR} "
            f"without an annotation file ({shown}) imported as unlabeled frames"
        )
    return dataset, make_resolver(paths)


def detect(path: Path) -> str | None:
    """The layout name when ``path`` holds a Pascal VOC dataset."""
    folder = path / ANNOTATIONS_DIR
    return LAYOUT if folder.is_dir() and not folder.is_symlink() else None


def _unlabeled_image(
    root: Path,
    ident: str,
    split: str,
    problems: Problems,
    paths: dict[str, Path],
    listings: dict[Path, dict[str, list[Path]]],
) -> DatasetImage | None:
    """The image of an ImageSets id without annotation file: ``JPEGImages/<id>.<ext>``."""
    where = f"{SETS_DIR}: {ident} (no {ANNOTATIONS_DIR}/{ident}.xml)"
    folder, reason = resolve_inside(root, f"{IMAGES_DIR}/{ident}")
    if folder is None:
        problems.add(f"{where}: {reason}")
        return None
    parent = folder.parent
    if parent not in listings:
        by_stem: dict[str, list[Path]] = {}
        if parent.is_dir() and not parent.is_symlink():
            for p in sorted(parent.iterdir()):
                if has_image_extension(p.name):
                    by_stem.setdefault(p.stem, []).append(p)
        listings[parent] = by_stem
    found = listings[parent].get(folder.name, [])
    if not found:
        problems.add(f"{where}: no image {IMAGES_DIR}/{ident}.<jpg|png|...> either")
        return None
    if len(found) > 1:
        problems.add(f"{where}: several images {', '.join(p.name for p in found)}")
        return None
    file_name = str(PurePosixPath(ident).with_name(found[0].name))
    size = check_image_file(found[0], f"{where} ({IMAGES_DIR}/{file_name})", problems)
    if size is None:
        return None
    paths[file_name] = found[0]
    return DatasetImage(file_name, size[0], size[1], split, unlabeled=True)


def _read_one(
    root: Path,
    node: Element,
    ident: str,
    label: str,
    split: str,
    problems: Problems,
    paths: dict[str, Path],
) -> DatasetImage | None:
    if node.tag != "annotation":
        problems.add(f"{label}: root element is <{node.tag}>, not <annotation>")
        return None
    file_name = _child_text(node, "filename")
    if file_name is None:
        problems.add(f"{label}: <filename> missing")
        return None
    reason = path_problem(file_name)
    if reason:
        problems.add(f"{label}: <filename> {file_name!r} {reason}")
        return None
    image_path, reason = resolve_inside(root, f"{IMAGES_DIR}/{file_name}")
    if image_path is None:
        problems.add(f"{label}: {reason}")
        return None
    declared: tuple[int | None, int | None] = (None, None)
    size = node.find("size")
    if size is not None:
        width = parse_int(_child_text(size, "width"))
        height = parse_int(_child_text(size, "height"))
        if not width or not height:
            problems.add(f"{label}: <size> width and height must be positive integers")
            return None
        declared = (width, height)
    real = check_image_file(image_path, f"{label} ({IMAGES_DIR}/{file_name})", problems, declared)
    if real is None:
        return None
    width, height = real
    image = DatasetImage(file_name, width, height, split)
    paths[file_name] = image_path
    for i, obj in enumerate(node.findall("object"), 1):
        where = f"{label}: object {i}"
        name = _child_text(obj, "name")
        reason = class_name_problem(name or "")
        if reason:
            problems.add(f"{where}: <name> {reason}")
            continue
        bndbox = obj.find("bndbox")
        if bndbox is None:
            problems.add(f"{where}: <bndbox> missing")
            continue
        values = [parse_number(_child_text(bndbox, t)) for t in ("xmin", "ymin", "xmax", "ymax")]
        if any(v is None for v in values):
            problems.add(f"{where}: xmin, ymin, xmax and ymax must be finite numbers")
            continue
        xmin, ymin, xmax, ymax = values
        box = box_from_edges(
            name,
            xmin - 1,
            ymin - 1,
            xmax,
            ymax,
            width,
            height,
            where,
            problems,
            VOC_TOLERANCE_PX,
        )
        if box is not None:
            image.boxes.append(box)
    return image
