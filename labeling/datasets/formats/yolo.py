"""Ultralytics YOLO detection layout.

::

    data.yaml                 path (absolute, optional), train/val/test folders, nc, names
    images/{train,val,test}/<file_name>
    labels/{train,val,test}/<file_name stem>.txt   "class cx cy w h" per line, normalised 0..1

A negative image has an empty label file. YOLO has no "unassigned" subset: images without a
split are written to ``train``. Label values are written with 8 decimals, so a box is back to
the 0.01 px grid after a round trip (exact for integer boxes up to ~500k px images).

Reading follows Ultralytics: folders named by ``train``/``val``/``test`` are taken relative to
the YAML file's folder (``path`` is ignored: it is often a stale absolute path, and reading
stays inside the folder given), the label of ``.../images/.../a.jpg`` is
``.../labels/.../a.txt`` (last ``images`` component), and an image with no label file is a
negative. Image sizes come from the image headers. The ``download`` key is never read or
written (Ultralytics would execute it). Image-list ``.txt`` files instead of folders are not
supported.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import yaml

from .base import SPLITS, Dataset, DatasetImage, FormatError, ImageResolver, ImageSource, Problems
from .checks import (
    box_from_edges,
    check_classes,
    finish_read,
    make_resolver,
    parse_int,
    parse_number,
    validated,
)
from .files import (
    OutputFolder,
    check_image_file,
    has_image_extension,
    path_problem,
    read_limited,
    relative_posix,
    resolve_inside,
    walk_files,
)

YAML_NAME = "data.yaml"
DECIMALS = 8


def _fmt(value: float) -> str:
    text = f"{value:.{DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def label_path_for(image_path: str) -> str:
    """Ultralytics' rule: replace the last ``/images/`` by ``/labels/`` and the suffix by .txt."""
    # Ultralytics applies the rule to absolute paths: a leading "images/" counts too.
    head, sep, tail = f"/{image_path}".rpartition("/images/")
    path = f"{head}/labels/{tail}" if sep else f"/{image_path}"
    return path[1:].rsplit(".", 1)[0] + ".txt"


def write(
    dataset: Dataset,
    out_dir: Path,
    image_source: ImageSource,
    *,
    link: bool = False,
    absolute_path: bool = True,
) -> None:
    """Write ``dataset`` in the YOLO layout into ``out_dir`` (absent or empty).

    ``absolute_path`` writes ``path: <out_dir resolved>`` to data.yaml so Ultralytics trains
    from any working directory; turn it off for a portable download (Ultralytics then uses
    the YAML's own folder).
    """
    dataset = validated(dataset)
    problems = Problems()
    label_files: dict[str, str] = {}
    for image in dataset.images:
        if not has_image_extension(image.file_name):
            problems.add(f"{image.file_name}: YOLO needs an image file extension")
        if "images" in PurePosixPath(image.file_name).parts[:-1]:
            # Ultralytics maps the *last* "images" folder to "labels": a nested one would move
            # the label file somewhere else.
            problems.add(f"{image.file_name}: a folder named 'images' inside a YOLO file name")
        split = image.split or "train"
        label = label_path_for(f"images/{split}/{image.file_name}")
        other = label_files.setdefault(label, image.file_name)
        if other != image.file_name:
            problems.add(f"{image.file_name}: shares the label file {label} with {other}")
    problems.raise_if_any()

    index = {name: i for i, name in enumerate(dataset.classes)}
    used = {image.split or "train" for image in dataset.images}
    with OutputFolder(out_dir) as out:
        for split in SPLITS:
            if split in ("train", "val") or split in used:
                out.mkdir(f"images/{split}")
                out.mkdir(f"labels/{split}")
        for image in dataset.images:
            split = image.split or "train"
            rel = f"images/{split}/{image.file_name}"
            lines = []
            for box in image.boxes:
                cx = (box.x + box.w / 2) / image.width
                cy = (box.y + box.h / 2) / image.height
                w, h = box.w / image.width, box.h / image.height
                lines.append(f"{index[box.class_name]} {_fmt(cx)} {_fmt(cy)} {_fmt(w)} {_fmt(h)}\n")
            out.write_text(label_path_for(rel), "".join(lines))
            out.place_image(rel, image, image_source, link)
        data: dict[str, object] = {}
        if absolute_path:
            data["path"] = str(out.root.resolve())
        data["train"] = "images/train"
        data["val"] = "images/val"
        if "test" in used:
            data["test"] = "images/test"
        data["nc"] = len(dataset.classes)
        data["names"] = dict(enumerate(dataset.classes))
        out.write_text(YAML_NAME, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _find_yaml(root: Path) -> Path:
    if (root / YAML_NAME).is_file():
        return root / YAML_NAME
    found = sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if len(found) != 1:
        raise FormatError([f"{YAML_NAME}: missing (expected one dataset YAML file at the top)"])
    return found[0]


def _names(data: dict, problems: Problems) -> list[str] | None:
    """Class names by index, or None (with problems) when they are unusable."""
    names = data.get("names")
    if isinstance(names, dict):
        keys = list(names)
        if not all(isinstance(k, int) and not isinstance(k, bool) for k in keys) or sorted(
            keys
        ) != list(range(len(keys))):
            problems.add("names: keys must be the class indices 0..n-1")
            return None
        names = [names[i] for i in range(len(keys))]
    if not isinstance(names, list):
        problems.add("names: missing or not a list")
        return None
    before = problems.total
    classes = check_classes(names, problems, "names")
    nc = data.get("nc")
    if nc is not None and nc != len(names):
        problems.add(f"nc: {nc!r} does not match the {len(names)} names")
    return classes if problems.total == before else None


def _split_dirs(data: dict, root: Path, problems: Problems) -> list[tuple[str, str, Path]]:
    """``(split, folder as written, folder path)`` for each split folder in the YAML."""
    found = []
    for split in SPLITS:
        value = data.get(split)
        if value in (None, "", []):
            continue
        entries = value if isinstance(value, list) else [value]
        for entry in entries:
            if not isinstance(entry, str):
                problems.add(f"{split}: not a folder name")
                continue
            rel = entry.strip()
            while rel.startswith("./"):
                rel = rel[2:]
            rel = rel.rstrip("/")
            path, reason = resolve_inside(root, rel)
            if path is None:
                problems.add(f"{split}: folder {entry!r} {reason}")
            elif path.is_file():
                problems.add(f"{split}: {entry!r}: image list files are not supported")
            elif not path.is_dir():
                problems.add(f"{split}: folder {entry!r} missing")
            else:
                found.append((split, rel, path))
    if not found and not problems:
        problems.add(f"{YAML_NAME}: names no train, val or test folder")
    return found


def _parse_label(
    text: str,
    image: DatasetImage,
    classes: list[str],
    where: str,
    problems: Problems,
) -> None:
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        at = f"{where}:{lineno}"
        if len(fields) != 5:
            problems.add(f"{at}: expected 5 values 'class cx cy w h', got {len(fields)}")
            continue
        cls = parse_int(fields[0])
        values = [parse_number(v) for v in fields[1:]]
        if cls is None or not 0 <= cls < len(classes):
            problems.add(f"{at}: class {fields[0]!r} is not an index into names")
            continue
        if any(v is None for v in values):
            problems.add(f"{at}: coordinates are not finite numbers")
            continue
        cx, cy, w, h = values
        if w <= 0 or h <= 0:
            problems.add(f"{at}: zero or negative size")
            continue
        box = box_from_edges(
            classes[cls],
            (cx - w / 2) * image.width,
            (cy - h / 2) * image.height,
            (cx + w / 2) * image.width,
            (cy + h / 2) * image.height,
            image.width,
            image.height,
            at,
            problems,
        )
        if box is not None:
            image.boxes.append(box)


def read(path: Path, *, classes: list[str] | None = None) -> tuple[Dataset, ImageResolver]:
    """Read a YOLO dataset folder (or its YAML file); FormatError lists every problem.

    ``classes`` imposes a class list: a box of any other class is a problem.
    """
    path = Path(path)
    if path.is_file() and path.suffix in (".yaml", ".yml"):
        root, yaml_path = path.parent, path
    else:
        if not path.is_dir():
            raise FormatError([f"{path.name or path}: is not a folder"])
        root, yaml_path = path, _find_yaml(path)
    problems = Problems()
    raw = read_limited(yaml_path, yaml_path.name, problems)
    problems.raise_if_any()
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise FormatError([f"{yaml_path.name}: not valid YAML{at}"]) from None
    if not isinstance(data, dict):
        raise FormatError([f"{yaml_path.name}: not a mapping"])

    file_classes = _names(data, problems)
    images: list[DatasetImage] = []
    paths: dict[str, Path] = {}
    for split, rel_dir, folder in _split_dirs(data, root, problems):
        labels_used: set[str] = set()
        for file in walk_files(folder, problems, rel_dir):
            name = relative_posix(file, folder)
            if not has_image_extension(name):
                continue
            reason = path_problem(name)
            if reason:
                problems.add(f"{rel_dir}/{name}: file name {reason}")
                continue
            size = check_image_file(file, f"{rel_dir}/{name}", problems)
            if size is None:
                continue
            image = DatasetImage(name, size[0], size[1], split)
            images.append(image)
            paths[name] = file
            label_rel = label_path_for(f"{rel_dir}/{name}")
            labels_used.add(label_rel)
            label_path, reason = resolve_inside(root, label_rel)
            if label_path is None:
                problems.add(f"{label_rel}: {reason}")
                continue
            if not label_path.exists():
                continue  # Ultralytics: no label file means a background (negative) image
            raw_label = read_limited(label_path, label_rel, problems)
            if raw_label is None:
                continue
            try:
                text = raw_label.decode("utf-8")
            except UnicodeDecodeError:
                problems.add(f"{label_rel}: not UTF-8 text")
                continue
            if file_classes is not None:
                _parse_label(text, image, file_classes, label_rel, problems)
        _check_orphan_labels(root, rel_dir, labels_used, problems)

    dataset = finish_read(file_classes or [], images, classes, problems)
    return dataset, make_resolver(paths)


def _check_orphan_labels(root: Path, rel_dir: str, used: set[str], problems: Problems) -> None:
    """A label file whose image is missing is a problem (Ultralytics would skip it silently)."""
    labels_rel = label_path_for(f"{rel_dir}/x.jpg").rsplit("/", 1)[0]
    if labels_rel == rel_dir:
        labels_dir = root / rel_dir
    else:
        labels_dir, reason = resolve_inside(root, labels_rel)
        if labels_dir is None or not labels_dir.is_dir():
            return
    for file in walk_files(labels_dir, Problems(), labels_rel):
        rel = f"{labels_rel}/{relative_posix(file, labels_dir)}"
        if file.suffix != ".txt" or rel == f"{labels_rel}/classes.txt":
            continue
        if rel not in used:
            problems.add(f"{rel}: label file without an image")
