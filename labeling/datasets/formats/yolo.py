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
stays inside the folder given; ``../train/images`` as Roboflow writes it is ``train/images``
when that folder exists, as Ultralytics reads it), the label of ``.../images/.../a.jpg`` is
``.../labels/.../a.txt`` (last ``images`` component), and an image with no label file is a
negative. The same file name may appear in several split folders (``images/train/a.jpg`` and
``images/val/a.jpg``, as real datasets do): those are two images, named ``train/a.jpg`` and
``val/a.jpg``. Image sizes come from the image headers. The ``download`` key is never read or
written (Ultralytics would execute it). Image-list ``.txt`` files instead of folders are not
supported in a data.yaml.

Two more layouts are read (never written):

- darknet's (the seed paper's tool; CVAT's "YOLO 1.1" export; obj.data and the image lists
  are read by :mod:`labeling.datasets.formats.darknet`)::

      obj.data                  classes = N, train = data/train.txt, valid = data/valid.txt,
                                names = data/obj.names (key = value lines); without it,
                                obj.names with train.txt/valid.txt/test.txt beside it
      obj.names                 one class name per line, in class-index order
      train.txt, valid.txt      one image path per line (e.g. data/obj_train_data/a.jpg)
      obj_train_data/a.jpg, a.txt      the label file beside its image

  Paths in obj.data and the lists are relative to darknet's working folder, usually one above
  the dataset (``data/...``), or absolute: each is looked up inside the dataset folder by its
  trailing components (``data/obj/a.jpg``, then ``obj/a.jpg``, then ``a.jpg``). A label file is
  the image path with ``.txt`` (beside it), else Ultralytics' ``labels/`` rule; none is a
  negative. ``train`` gives the train split, ``valid`` val, ``test`` test. An image's name is
  its path with darknet's data folder (``obj/``, ``obj_<subset>_data/``) left out, unless that
  makes two names equal.
- Ultralytics' folders with the class names in ``obj.names`` or ``classes.txt`` (at the top or
  in ``labels/``, as labelImg writes it) instead of a data.yaml: ``images/<split>/`` (``train``,
  ``val``/``valid``, ``test``) and ``labels/<split>/``, or flat ``images/`` and ``labels/`` (no
  split).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import yaml

from . import darknet
from .base import (
    SPLITS,
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
    check_classes,
    finish_read,
    make_resolver,
    parse_int,
    parse_number,
    validated,
)
from .files import (
    check_image_file,
    has_image_extension,
    path_problem,
    read_limited,
    relative_posix,
    resolve_inside,
    walk_files,
)
from .outputs import ZipOutput, open_output
from .pose import yolo_points, yolo_row_values, yolo_skeleton, yolo_yaml_fields

YAML_NAME = "data.yaml"
DECIMALS = 8
DARKNET_DATA = darknet.DARKNET_DATA
NAMES_FILES = ("obj.names", "classes.txt", "labels/classes.txt", "labels/obj.names")
LAYOUT_YAML = "YOLO, Ultralytics (data.yaml, images/<split>/, labels/<split>/)"
LAYOUT_DARKNET = darknet.LAYOUT
LAYOUT_FOLDERS = "YOLO folders with obj.names or classes.txt (images/<split>/, labels/<split>/)"


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
    out: Path | ZipOutput,
    image_source: ImageSource,
    *,
    link: bool = False,
    absolute_path: bool = True,
) -> None:
    """Write ``dataset`` in the YOLO layout into ``out``: a folder (absent or empty)
    or a :class:`ZipOutput`.

    ``absolute_path`` writes ``path: <folder resolved>`` to data.yaml so Ultralytics trains
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
    skeleton = dataset.skeleton
    kpt_count = len(skeleton.keypoints) if skeleton else 0
    with open_output(out) as out:
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
                row = f"{index[box.class_name]} {_fmt(cx)} {_fmt(cy)} {_fmt(w)} {_fmt(h)}"
                if kpt_count:
                    values = yolo_row_values(
                        box.keypoints, kpt_count, image.width, image.height, _fmt
                    )
                    row = " ".join([row, *values])
                lines.append(row + "\n")
            out.write_text(label_path_for(rel), "".join(lines))
            out.place_image(rel, image, image_source, link)
        data: dict[str, object] = {}
        if absolute_path and out.root is not None:
            data["path"] = str(out.root.resolve())
        data["train"] = "images/train"
        data["val"] = "images/val"
        if "test" in used:
            data["test"] = "images/test"
        data["nc"] = len(dataset.classes)
        data["names"] = dict(enumerate(dataset.classes))
        if skeleton:
            data.update(yolo_yaml_fields(skeleton, len(dataset.classes)))
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
            if rel.startswith("../") and not path_problem(rel[3:]) and (root / rel[3:]).is_dir():
                # Ultralytics' own fix for Roboflow's "train: ../train/images": when the
                # folder above does not hold it, the YAML's folder does.
                rel = rel[3:]
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
    kpt: tuple[int, int] = (0, 0),
) -> None:
    """``kpt``: (keypoints, dims) of a pose dataset's rows (``kpt_shape``), (0, 0) else."""
    expected = 5 + kpt[0] * kpt[1]
    what = "'class cx cy w h'" + (f" + {kpt[0]}x{kpt[1]} keypoint values" if kpt[0] else "")
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        at = f"{where}:{lineno}"
        if len(fields) != expected:
            problems.add(f"{at}: expected {expected} values {what}, got {len(fields)}")
            continue
        tail = [parse_number(v) for v in fields[5:]]
        fields = fields[:5]
        if any(v is None for v in tail):
            problems.add(f"{at}: keypoint values are not finite numbers")
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
            if kpt[0]:
                box.keypoints = yolo_points(tail, kpt[1], image.width, image.height)
            image.boxes.append(box)


def _yaml_path(root: Path) -> Path | None:
    if (root / YAML_NAME).is_file():
        return root / YAML_NAME
    found = [p for p in root.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()]
    return found[0] if len(found) == 1 else None


def _names_file(root: Path) -> str | None:
    for name in NAMES_FILES:
        path, _ = resolve_inside(root, name)
        if path is not None and path.is_file():
            return name
    return None


def detect(path: Path) -> str | None:
    """The layout name when ``path`` holds a YOLO dataset in one of the layouts read."""
    if (path / YAML_NAME).is_file() or any(path.glob("*.yaml")) or any(path.glob("*.yml")):
        return LAYOUT_YAML
    if darknet.is_darknet(path):
        return LAYOUT_DARKNET
    if (path / "images").is_dir() and (path / "labels").is_dir() and _names_file(path):
        return LAYOUT_FOLDERS
    return None


def read(path: Path, *, classes: list[str] | None = None) -> tuple[Dataset, ImageResolver]:
    """Read a YOLO dataset folder (or its YAML file): Ultralytics' data.yaml, darknet's
    obj.data, or Ultralytics' folders with obj.names/classes.txt; FormatError lists every
    problem.

    ``classes`` imposes a class list: a box of any other class is a problem.
    """
    path = Path(path)
    if path.is_file() and path.suffix in (".yaml", ".yml"):
        return _read_yaml(path.parent, path, classes)
    if not path.is_dir():
        raise FormatError([f"{path.name or path}: is not a folder"])
    yaml_path = _yaml_path(path)
    if yaml_path is not None:
        return _read_yaml(path, yaml_path, classes)
    if darknet.is_darknet(path):
        return _read_darknet(path, classes)
    if (path / "images").is_dir() and _names_file(path):
        return _read_folders(path, classes)
    if any(p.suffix in (".yaml", ".yml") for p in path.iterdir()):
        _find_yaml(path)  # several YAML files and no data.yaml: says so
    raise FormatError(
        [
            f"{YAML_NAME}: missing (expected {YAML_NAME}, darknet's {DARKNET_DATA} or "
            "obj.names with train.txt, or images/ and labels/ with obj.names or classes.txt)"
        ]
    )


def _read_yaml(
    root: Path, yaml_path: Path, classes: list[str] | None
) -> tuple[Dataset, ImageResolver]:
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
    pose_found: list[str] = []
    skeleton = yolo_skeleton(data, pose_found)
    problems.extend(pose_found)
    kpt = (len(skeleton.keypoints), data["kpt_shape"][1]) if skeleton else (0, 0)
    found: list[tuple[DatasetImage, Path]] = []
    for split, rel_dir, folder in _split_dirs(data, root, problems):
        _read_folder(root, split, rel_dir, folder, file_classes, found, problems, kpt=kpt)
    images, paths = _named_apart(found)
    dataset = finish_read(file_classes or [], images, classes, problems, skeleton)
    dataset.layout = LAYOUT_YAML
    return dataset, make_resolver(paths)


def _read_folder(
    root: Path,
    split: str,
    rel_dir: str,
    folder: Path,
    file_classes: list[str] | None,
    found: list[tuple[DatasetImage, Path]],
    problems: Problems,
    skip: frozenset[str] = frozenset(),
    kpt: tuple[int, int] = (0, 0),
) -> None:
    """Images of one split folder (names relative to it) with their Ultralytics label files,
    added to ``found`` with their files (see :func:`_named_apart`).

    ``skip`` names sub-folders (of ``folder``) that are other splits' folders."""
    labels_used: set[str] = set()
    for file in walk_files(folder, problems, rel_dir):
        name = relative_posix(file, folder)
        if not has_image_extension(name) or name.split("/", 1)[0] in skip:
            continue
        reason = path_problem(name)
        if reason:
            problems.add(f"{rel_dir}/{name}: file name {reason}")
            continue
        size = check_image_file(file, f"{rel_dir}/{name}", problems)
        if size is None:
            continue
        image = DatasetImage(name, size[0], size[1], split)
        found.append((image, file))
        label_rel = label_path_for(f"{rel_dir}/{name}")
        labels_used.add(label_rel)
        _read_label(root, label_rel, image, file_classes, problems, kpt)
    _check_orphan_labels(root, rel_dir, labels_used, problems, skip)


def _named_apart(
    found: list[tuple[DatasetImage, Path]],
) -> tuple[list[DatasetImage], dict[str, Path]]:
    """The images and ``{name: file}``. Real datasets hold the same file name in several
    split folders (``images/train/a.jpg`` and ``images/val/a.jpg``): those are different
    images, so each is named ``<split>/<name>`` (``train/a.jpg``; one without a split keeps
    ``a.jpg``), as the CVAT reader names a project export's subsets. The same file listed
    for two splits (one folder named twice in the YAML) keeps its name, and
    :func:`finish_read` reports it listed more than once."""
    by_name: dict[str, list[tuple[DatasetImage, Path]]] = {}
    for image, file in found:
        by_name.setdefault(image.file_name, []).append((image, file))
    for name, group in by_name.items():
        splits = [image.split for image, _ in group]
        files = {file.resolve() for _, file in group}
        if len(group) < 2 or len(set(splits)) < len(group) or len(files) < len(group):
            continue
        for image, _ in group:
            if image.split:
                image.file_name = f"{image.split}/{name}"
    paths: dict[str, Path] = {}
    for image, file in found:
        paths.setdefault(image.file_name, file)
    return [image for image, _ in found], paths


def _read_label(
    root: Path,
    label_rel: str,
    image: DatasetImage,
    file_classes: list[str] | None,
    problems: Problems,
    kpt: tuple[int, int] = (0, 0),
) -> None:
    label_path, reason = resolve_inside(root, label_rel)
    if label_path is None:
        problems.add(f"{label_rel}: {reason}")
        return
    if not label_path.exists():
        return  # Ultralytics: no label file means a background (negative) image
    raw_label = read_limited(label_path, label_rel, problems)
    if raw_label is None:
        return
    try:
        text = raw_label.decode("utf-8")
    except UnicodeDecodeError:
        problems.add(f"{label_rel}: not UTF-8 text")
        return
    if file_classes is not None:
        _parse_label(text, image, file_classes, label_rel, problems, kpt)


def _read_names(root: Path, rel: str, problems: Problems) -> list[str] | None:
    """Class names from a names file (one per line, blank lines skipped)."""
    raw = read_limited(root / rel, rel, problems)
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.add(f"{rel}: not UTF-8 text")
        return None
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        problems.add(f"{rel}: lists no class names")
        return None
    before = problems.total
    found = check_classes(names, problems, rel)
    return found if problems.total == before else None


def _read_folders(root: Path, classes: list[str] | None) -> tuple[Dataset, ImageResolver]:
    problems = Problems()
    names_rel = _names_file(root)
    file_classes = _read_names(root, names_rel, problems)
    images_dir, reason = resolve_inside(root, "images")
    if images_dir is None:
        raise FormatError([f"images/: {reason}"])
    split_dirs = [
        (split_from_subset(p.name), p.name)
        for p in sorted(images_dir.iterdir())
        if p.is_dir() and not p.is_symlink() and split_from_subset(p.name)
    ]
    found: list[tuple[DatasetImage, Path]] = []
    for split, folder in split_dirs:
        rel = f"images/{folder}"
        _read_folder(root, split, rel, root / rel, file_classes, found, problems)
    skip = frozenset(folder for _, folder in split_dirs)
    # Images directly in images/ (or in folders that are no split): no split.
    _read_folder(root, "", "images", images_dir, file_classes, found, problems, skip)
    images, paths = _named_apart(found)
    dataset = finish_read(file_classes or [], images, classes, problems)
    dataset.layout = LAYOUT_FOLDERS
    return dataset, make_resolver(paths)


# ---------------------------------------------------------------------------------------------
# darknet (its obj.data and image lists: darknet.py; the labels are YOLO's)


def _read_darknet(root: Path, classes: list[str] | None) -> tuple[Dataset, ImageResolver]:
    problems = Problems()
    data = darknet.read_obj_data(root, problems)
    names_rel = darknet.darknet_path(root, data.get("names", "obj.names"), DARKNET_DATA, problems)
    file_classes = _read_names(root, names_rel, problems) if names_rel else None
    declared = data.get("classes")
    if (
        file_classes is not None
        and declared is not None
        and parse_int(declared) != len(file_classes)
    ):
        problems.add(
            f"{DARKNET_DATA}: classes = {declared} does not match the {len(file_classes)} names"
        )
    listed = darknet.read_image_lists(root, data, problems)
    problems.raise_if_any()

    names = darknet.image_names(listed)
    images: list[DatasetImage] = []
    paths: dict[str, Path] = {}
    for split, rel, where in listed:
        name = names[rel]
        if not has_image_extension(rel):
            problems.add(f"{where}: {rel} is not an image file")
            continue
        file = root / rel
        size = check_image_file(file, where, problems)
        if size is None:
            continue
        image = DatasetImage(name, size[0], size[1], split)
        images.append(image)
        paths[name] = file
        beside = rel.rsplit(".", 1)[0] + ".txt"
        beside_path, _ = resolve_inside(root, beside)
        label_rel = beside if beside_path is not None and beside_path.exists() else None
        label_rel = label_rel or label_path_for(rel)
        _read_label(root, label_rel, image, file_classes, problems)
    dataset = finish_read(file_classes or [], images, classes, problems)
    dataset.layout = LAYOUT_DARKNET
    return dataset, make_resolver(paths)


def _check_orphan_labels(
    root: Path, rel_dir: str, used: set[str], problems: Problems, skip: frozenset[str] = frozenset()
) -> None:
    """A label file whose image is missing is a problem (Ultralytics would skip it silently).
    ``skip`` names sub-folders that are other splits' (checked on their own)."""
    labels_rel = label_path_for(f"{rel_dir}/x.jpg").rsplit("/", 1)[0]
    if labels_rel == rel_dir:
        labels_dir = root / rel_dir
    else:
        labels_dir, reason = resolve_inside(root, labels_rel)
        if labels_dir is None or not labels_dir.is_dir():
            return
    for file in walk_files(labels_dir, Problems(), labels_rel):
        inner = relative_posix(file, labels_dir)
        rel = f"{labels_rel}/{inner}"
        if file.suffix != ".txt" or inner in ("classes.txt", "obj.names"):
            continue
        if inner.split("/", 1)[0] in skip:
            continue
        if rel not in used:
            problems.add(f"{rel}: label file without an image")
