"""DeepLabCut single-animal project export (pose; write only). Pure module: no Django.

::

    config.yaml                                     scorer, bodyparts, skeleton, ...
    labeled-data/<folder>/CollectedData_<scorer>.csv
    labeled-data/<folder>/<image name>

``<folder>`` is the image's folder in the dataset (``v3``-style names have none: ``frames``).
The CSV is DeepLabCut 2.2's: three header rows (``scorer``, ``bodyparts``, ``coords``), then
one row per image indexed by three columns (``labeled-data``, folder, image name) with
``x``, ``y`` per bodypart in original-image pixels; an empty cell is a point not labeled.

DeepLabCut has no visibility flag: an occluded point (v = 1) is written like a visible one,
so reading the export back gives v = 2 for it. Single animal: an image with more than one
box is refused (DeepLabCut's multi-animal layout is not written). Images without boxes are
written with empty cells. The reader is ``sleap_io.load_dlc`` (used by the tests).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path, PurePosixPath

import yaml

from .base import Dataset, ImageSource, Problems
from .checks import validated
from .outputs import ZipOutput, open_output

SCORER = "MouseTrackStudio"
LAYOUT = "DeepLabCut project (config.yaml, labeled-data/<video>/CollectedData_<scorer>.csv)"


def _folder_and_name(file_name: str) -> tuple[str, str]:
    path = PurePosixPath(file_name)
    folder = "_".join(path.parts[:-1]) or "frames"
    return folder, path.name


def write(
    dataset: Dataset,
    out: Path | ZipOutput,
    image_source: ImageSource,
    *,
    link: bool = False,
    scorer: str = SCORER,
) -> None:
    """Write ``dataset`` (with a skeleton) as a DeepLabCut project into ``out``."""
    dataset = validated(dataset)
    problems = Problems()
    skeleton = dataset.skeleton
    if skeleton is None:
        problems.add("DeepLabCut needs a skeleton: this project has none (boxes only)")
        problems.raise_if_any()
    rows_by_folder: dict[str, list[tuple[str, object]]] = {}
    seen: dict[tuple[str, str], str] = {}
    for image in dataset.images:
        if len(image.boxes) > 1:
            problems.add(
                f"{image.file_name}: {len(image.boxes)} animals; the DeepLabCut export is "
                "single-animal"
            )
            continue
        folder, name = _folder_and_name(image.file_name)
        other = seen.setdefault((folder, name), image.file_name)
        if other != image.file_name:
            problems.add(f"{image.file_name}: same DeepLabCut path as {other}")
        rows_by_folder.setdefault(folder, []).append((name, image))
    problems.raise_if_any()
    names = list(skeleton.keypoints)
    with open_output(out) as out:
        for folder, rows in rows_by_folder.items():
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(["scorer", "", "", *[scorer] * (2 * len(names))])
            writer.writerow(["bodyparts", "", "", *[n for n in names for _ in (0, 1)]])
            writer.writerow(["coords", "", "", *["x", "y"] * len(names)])
            for name, image in sorted(rows, key=lambda r: r[0]):
                points = image.boxes[0].keypoints if image.boxes else []
                cells: list[object] = []
                for i in range(len(names)):
                    x, y, v = points[i] if points else (0, 0, 0)
                    cells += [x, y] if v else ["", ""]
                writer.writerow(["labeled-data", folder, name, *cells])
                out.place_image(f"labeled-data/{folder}/{name}", image, image_source, link)
            out.write_text(f"labeled-data/{folder}/CollectedData_{scorer}.csv", text.getvalue())
        config = {
            "Task": "mousetrack",
            "scorer": scorer,
            "date": "export",
            "multianimalproject": False,
            "identity": None,
            "project_path": "",
            "video_sets": {},
            "bodyparts": names,
            "skeleton": [[names[a], names[b]] for a, b in skeleton.edges],
            "numframes2pick": 20,
            "TrainingFraction": [0.95],
        }
        out.write_text("config.yaml", yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
