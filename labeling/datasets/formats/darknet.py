"""darknet's dataset files, as the seed paper's tool and CVAT's "YOLO 1.1" export write them:
``obj.data`` (``key = value`` lines naming the class names file and the image lists) and the
``train.txt``/``valid.txt``/``test.txt`` lists of image paths. Read only; the label files
beside the images are YOLO's (:mod:`labeling.datasets.formats.yolo` reads them, and puts the
dataset together).

Paths in obj.data and the lists are relative to darknet's working folder, usually one above
the dataset (``data/...``), or absolute: each is looked up inside the dataset folder by its
trailing components (``data/obj/a.jpg``, then ``obj/a.jpg``, then ``a.jpg``). Without
obj.data, darknet's defaults stand in for it (``train.txt`` ... beside ``obj.names``).
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import Problems
from .files import path_problem, read_limited, resolve_inside

DARKNET_DATA = "obj.data"
LAYOUT = "YOLO as darknet writes it (obj.data, obj.names, train.txt/valid.txt)"
#: obj.data's keys of image lists, and the split each gives.
SPLITS = {"train": "train", "valid": "val", "test": "test"}
# darknet's data folders, left out of image names: obj/, obj_<subset>_data/.
_DATA_FOLDER = re.compile(r"obj(_.+_data)?")


def is_darknet(path: Path) -> bool:
    """obj.data, or (darknet's defaults) obj.names beside a train.txt or valid.txt."""
    if (path / DARKNET_DATA).is_file():
        return True
    lists = ("train.txt", "valid.txt")
    return (path / "obj.names").is_file() and any((path / n).is_file() for n in lists)


def darknet_path(root: Path, value: str, where: str, problems: Problems) -> str | None:
    """The dataset-relative path of a darknet path (see the module docstring), or None."""
    text = value.strip().replace("\\", "/")
    if len(text) >= 2 and text[1] == ":" and text[0].isalpha():
        text = text[2:]
    parts = [p for p in text.split("/") if p not in ("", ".")]
    reason = path_problem("/".join(parts)) if parts else "is empty"
    if reason:
        problems.add(f"{where}: path {value.strip()!r} {reason}")
        return None
    for start in range(len(parts)):
        rel = "/".join(parts[start:])
        path, reason = resolve_inside(root, rel)
        if path is None:
            problems.add(f"{where}: {rel} {reason}")
            return None
        if path.is_file():
            return rel
    problems.add(f"{where}: {value.strip()} not found in the dataset")
    return None


def read_obj_data(root: Path, problems: Problems) -> dict[str, str]:
    """obj.data's keys and values; without the file, darknet's defaults for the lists."""
    if not (root / DARKNET_DATA).is_file():
        return {k: f"{k}.txt" for k in SPLITS if (root / f"{k}.txt").is_file()}
    raw = read_limited(root / DARKNET_DATA, DARKNET_DATA, problems)
    if raw is None:
        return {}
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.add(f"{DARKNET_DATA}: not UTF-8 text")
        return {}
    data: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep:
            problems.add(f"{DARKNET_DATA}:{lineno}: expected 'key = value'")
            continue
        data[key.strip()] = value.strip()
    return data


def read_image_lists(
    root: Path, data: dict[str, str], problems: Problems
) -> list[tuple[str, str, str]]:
    """``(split, dataset-relative image path, "list:line")`` for every image the lists of
    ``data`` (:func:`read_obj_data`) name, in list order; an image listed twice (or in two
    lists) is a problem, and so are lists that name no image at all."""
    listed: list[tuple[str, str, str]] = []
    split_of: dict[str, str] = {}
    for key, split in SPLITS.items():
        if not data.get(key):
            continue
        list_rel = darknet_path(root, data[key], f"{DARKNET_DATA}: {key}", problems)
        if list_rel is None:
            continue
        raw = read_limited(root / list_rel, list_rel, problems)
        try:
            text = raw.decode("utf-8-sig") if raw is not None else ""
        except UnicodeDecodeError:
            problems.add(f"{list_rel}: not UTF-8 text")
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            rel = darknet_path(root, line, f"{list_rel}:{lineno}", problems)
            if rel is None:
                continue
            other = split_of.get(rel)
            if other is not None:
                again = "twice" if other == split else f"also for {other}"
                problems.add(f"{list_rel}:{lineno}: {rel} is listed {again}")
                continue
            split_of[rel] = split
            listed.append((split, rel, f"{list_rel}:{lineno}"))
    if not listed and not problems:
        problems.add(f"{DARKNET_DATA}: lists no images (train, valid or test)")
    return listed


def image_names(listed: list[tuple[str, str, str]]) -> dict[str, str]:
    """``{path: image name}``: the path with darknet's data folder (``obj/``,
    ``obj_<subset>_data/``) left out, unless that makes two names equal."""
    short: dict[str, str] = {}
    for _, rel, _ in listed:
        head, _, tail = rel.partition("/")
        short[rel] = tail if tail and _DATA_FOLDER.fullmatch(head) else rel
    taken: dict[str, int] = {}
    for name in short.values():
        taken[name] = taken.get(name, 0) + 1
    return {rel: name if taken[name] == 1 else rel for rel, name in short.items()}
