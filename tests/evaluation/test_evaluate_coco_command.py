"""``manage.py evaluate_coco``: COCO files in, metrics JSON out, CommandError on bad files."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from django.core.management import CommandError, call_command

GT = {
    "images": [{"id": 7, "file_name": "a.jpg"}, {"id": 3, "file_name": "b.jpg"}],
    "categories": [{"id": 5, "name": "tail"}, {"id": 2, "name": "mouse"}],
    "annotations": [
        {"id": 1, "image_id": 7, "category_id": 2, "bbox": [10, 10, 40, 30], "area": 1200},
        {"id": 2, "image_id": 7, "category_id": 2, "bbox": [100, 80, 40, 30], "area": 1200},
        {"id": 3, "image_id": 3, "category_id": 2, "bbox": [0, 0, 50, 50], "area": 2500},
        {"id": 4, "image_id": 3, "category_id": 5, "bbox": [60, 60, 10, 4], "area": 40},
    ],
}
DETS = [
    {"image_id": 7, "category_id": 2, "bbox": [11, 10, 40, 30], "score": 0.95},
    {"image_id": 7, "category_id": 2, "bbox": [104, 85, 40, 30], "score": 0.6},
    {"image_id": 7, "category_id": 2, "bbox": [300, 300, 20, 20], "score": 0.4},
    {"image_id": 3, "category_id": 2, "bbox": [2, 1, 47, 50], "score": 0.85},
    {"image_id": 3, "category_id": 5, "bbox": [61, 60, 10, 4], "score": 0.2},
]


def write(tmp_path: Path, name: str, data) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def run(gt_path: str, dt_path: str, *args: str) -> dict:
    out = io.StringIO()
    call_command("evaluate_coco", gt_path, dt_path, *args, stdout=out)
    return json.loads(out.getvalue())


def pycocotools_stats(gt: dict, dets: list):
    with contextlib.redirect_stdout(io.StringIO()):
        api = COCO()
        api.dataset = copy.deepcopy(gt)
        for ann in api.dataset["annotations"]:  # pycocotools needs it; our reader does not
            ann.setdefault("iscrowd", 0)
        api.createIndex()
        ev = COCOeval(api, api.loadRes(copy.deepcopy(dets)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def test_prints_metrics_json_matching_pycocotools(tmp_path):
    metrics = run(write(tmp_path, "gt.json", GT), write(tmp_path, "dt.json", DETS))
    stats = pycocotools_stats(GT, DETS)
    assert metrics["coco_ap50_95"] == pytest.approx(stats[0], abs=1e-4)
    assert metrics["coco_ap50"] == pytest.approx(stats[1], abs=1e-4)
    # Categories become classes in ascending id order and keep their id and name.
    assert [(c["class_index"], c["category_id"], c["name"]) for c in metrics["per_class"]] == [
        (0, 2, "mouse"),
        (1, 5, "tail"),
    ]
    # At conf 0.25: 3 mouse hits + 1 mouse FP; the tail (score 0.2) is not kept.
    assert (metrics["tp"], metrics["fp"], metrics["fn"]) == (3, 1, 1)
    assert metrics["num_images"] == 2 and metrics["num_detections"] == 5
    assert len(metrics["f1_curve"]["f1"]) <= 101


def test_iou_and_conf_options_change_the_operating_point(tmp_path):
    gt_path, dt_path = write(tmp_path, "gt.json", GT), write(tmp_path, "dt.json", DETS)
    loose = run(gt_path, dt_path, "--conf", "0.1")
    strict = run(gt_path, dt_path, "--iou", "0.9", "--conf", "0.1")
    assert loose["conf_threshold"] == 0.1 and strict["iou_threshold"] == 0.9
    assert (loose["tp"], loose["fp"]) == (4, 1)
    assert strict["tp"] < loose["tp"]
    assert strict["map50_voc11"] == loose["map50_voc11"]  # AP50 stays at IoU 0.5
    assert strict["map_voc11"] < loose["map_voc11"]


def test_an_empty_results_list_scores_zero(tmp_path):
    metrics = run(write(tmp_path, "gt.json", GT), write(tmp_path, "dt.json", []))
    assert metrics["coco_ap50"] == 0.0 and metrics["fn"] == 4


def test_string_image_ids_are_accepted(tmp_path):
    gt = copy.deepcopy(GT)
    gt["images"] = [{"id": "a"}, {"id": "b"}]
    for ann in gt["annotations"]:
        ann["image_id"] = "a" if ann["image_id"] == 7 else "b"
    dets = [{**d, "image_id": "a" if d["image_id"] == 7 else "b"} for d in DETS]
    metrics = run(write(tmp_path, "gt.json", gt), write(tmp_path, "dt.json", dets))
    assert metrics["tp"] == 3


@pytest.mark.parametrize(
    ("gt", "dets", "message"),
    [
        ("{not json", DETS, r"ground truth file .*gt\.json is not valid JSON \(line 1"),
        (GT, "[1, 2", r"detections file .*dt\.json is not valid JSON"),
        ([], DETS, "ground truth: expected a JSON object, got a list"),
        ({"images": [], "categories": []}, DETS, "missing 'annotations' list"),
        ({**GT, "images": {"id": 1}}, DETS, "'images' must be a list"),
        ({**GT, "images": [{"name": "x"}]}, DETS, r"images\[0\]: missing 'id'"),
        ({**GT, "images": [{"id": 1}, {"id": 1}]}, DETS, "duplicate image id 1"),
        ({**GT, "categories": [{"id": "x"}]}, DETS, r"categories\[0\]\.id: expected an integer"),
        (
            {**GT, "annotations": [{"image_id": 7, "category_id": 2, "bbox": [1, 2, 3]}]},
            DETS,
            r"annotations\[0\]\.bbox: expected \[x, y, w, h\]",
        ),
        (
            {**GT, "annotations": [{"image_id": 7, "category_id": 2, "bbox": [1, 2, -3, 4]}]},
            DETS,
            "negative width or height",
        ),
        (
            {**GT, "annotations": [{"image_id": 99, "category_id": 2, "bbox": [1, 2, 3, 4]}]},
            DETS,
            r"annotations\[0\]: image_id 99 is not in the ground truth",
        ),
        (
            {
                **GT,
                "annotations": [
                    {"image_id": 7, "category_id": 2, "bbox": [1, 2, 3, 4], "iscrowd": 1}
                ],
            },
            DETS,
            "crowd annotations",
        ),
        (GT, {"results": DETS}, "detections: expected a JSON list of results, got an object"),
        (GT, [["not", "a", "dict"]], r"detections\[0\]: expected an object, got a list"),
        (GT, [{**DETS[0], "image_id": 42}], r"detections\[0\]: image_id 42 is not in the ground"),
        (GT, [DETS[0], {**DETS[1], "category_id": 9}], r"detections\[1\]: category_id 9 is not"),
        (GT, [{k: v for k, v in DETS[0].items() if k != "score"}], r"missing 'score'"),
        (GT, [{**DETS[0], "score": "high"}], r"detections\[0\]\.score: expected a finite number"),
        (GT, [{**DETS[0], "bbox": [1, 2, "3", 4]}], r"detections\[0\]\.bbox: expected a finite"),
    ],
)
def test_bad_files_raise_a_command_error_saying_what_is_wrong(tmp_path, gt, dets, message):
    with pytest.raises(CommandError, match=message):
        run(write(tmp_path, "gt.json", gt), write(tmp_path, "dt.json", dets))


def test_missing_files_raise_a_command_error(tmp_path):
    dt_path = write(tmp_path, "dt.json", DETS)
    with pytest.raises(CommandError, match=r"ground truth file not found: .*nope\.json"):
        run(str(tmp_path / "nope.json"), dt_path)
    with pytest.raises(CommandError, match="detections file not found"):
        run(write(tmp_path, "gt.json", GT), str(tmp_path / "gone.json"))


@pytest.mark.parametrize(
    ("option", "value"), [("--iou", "1.5"), ("--iou", "-0.1"), ("--conf", "nan")]
)
def test_out_of_range_thresholds_raise_a_command_error(tmp_path, option, value):
    with pytest.raises(CommandError, match=option):
        run(write(tmp_path, "gt.json", GT), write(tmp_path, "dt.json", DETS), option, value)
