"""The evaluation API: permissions, input checks, predictions, downloads, comparison."""

from __future__ import annotations

import csv
import io
import json

import pytest

from evaluation import evaluation_work, services
from evaluation.models import EvaluationRun
from tests.evaluation.helpers import SPLITS, register_model, store_dataset, tiny_model
from webapp.models import JobStatus

pytestmark = pytest.mark.slow


@pytest.fixture
def run(trained_model):
    """A finished evaluation whose weak boxes are kept (low threshold): frames differ."""
    created = services.evaluation_run_create(model=trained_model, conf_threshold=0.001)
    evaluation_work.evaluation_run_execute(run_id=created.pk)
    created.refresh_from_db()
    assert created.status == JobStatus.SUCCEEDED, created.error
    return created


@pytest.fixture
def no_dispatch(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(services, "evaluation_run_dispatch", lambda *, run: sent.append(run.pk))
    return sent


def _urls(run) -> list[tuple[str, str]]:
    return [
        ("get", f"/api/models/{run.model_id}/evaluations/"),
        ("get", f"/api/evaluations/{run.pk}/"),
        ("get", f"/api/evaluations/{run.pk}/predictions/?order=worst"),
        ("get", f"/api/evaluations/{run.pk}/metrics.csv"),
        ("get", f"/api/evaluations/{run.pk}/metrics.json"),
        ("get", f"/api/projects/{run.project_id}/compare/?models={run.model_id}"),
        ("get", f"/api/projects/{run.project_id}/compare.csv?models={run.model_id}"),
    ]


# --- permissions -------------------------------------------------------------------------
@pytest.mark.django_db
def test_members_read_everything_and_outsiders_get_404(api_client_for, run, owner, people):
    for user in (owner, people["annotator"], people["viewer"]):
        client = api_client_for(user)
        for method, url in _urls(run):
            assert getattr(client, method)(url).status_code == 200, (user, url)
    outsider = api_client_for(people["outsider"])
    for method, url in _urls(run):
        assert getattr(outsider, method)(url).status_code == 404, url
    assert outsider.post(f"/api/models/{run.model_id}/evaluations/", {}).status_code == 404
    assert outsider.delete(f"/api/evaluations/{run.pk}/").status_code == 404
    anonymous = api_client_for(None)
    for method, url in _urls(run):
        assert getattr(anonymous, method)(url).status_code in (401, 403), url
    assert EvaluationRun.objects.filter(pk=run.pk).exists()


@pytest.mark.django_db
def test_viewers_cannot_start_or_delete_evaluations(api_client_for, run, people, no_dispatch):
    viewer = api_client_for(people["viewer"])
    assert viewer.post(f"/api/models/{run.model_id}/evaluations/", {}).status_code == 403
    assert viewer.delete(f"/api/evaluations/{run.pk}/").status_code == 403
    assert EvaluationRun.objects.count() == 1 and no_dispatch == []


@pytest.mark.django_db
def test_annotator_starts_an_evaluation(api_client_for, trained_model, people, no_dispatch):
    client = api_client_for(people["annotator"])
    response = client.post(
        f"/api/models/{trained_model.pk}/evaluations/",
        {"split": "val", "conf_threshold": 0.3, "iou_threshold": 0.6},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    run = EvaluationRun.objects.get(pk=body["id"])
    assert no_dispatch == [run.pk]
    assert (run.split, run.conf_threshold, run.iou_threshold) == ("val", 0.3, 0.6)
    assert run.status == JobStatus.QUEUED and run.created_by == people["annotator"]
    assert body["links"]["self"] == f"/api/evaluations/{run.pk}/"
    listed = client.get(f"/api/models/{trained_model.pk}/evaluations/").json()
    assert [r["id"] for r in listed] == [run.pk]


@pytest.mark.django_db
def test_annotator_deletes_an_evaluation(api_client_for, run, people):
    client = api_client_for(people["annotator"])
    assert client.delete(f"/api/evaluations/{run.pk}/").status_code == 204
    assert not EvaluationRun.objects.exists()
    assert client.get(f"/api/evaluations/{run.pk}/").status_code == 404


@pytest.mark.django_db
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(
    api_client_for, trained_model, owner, make_user, no_dispatch
):
    from labeling.services import project_create

    stranger = make_user("sam")
    foreign = project_create(name="Not yours", owner=stranger)
    foreign_version, _ = store_dataset(project=foreign, user=stranger, name="secret")
    client = api_client_for(owner)
    url = f"/api/models/{trained_model.pk}/evaluations/"
    for body, field in [
        ({"split": "everything"}, "split"),
        ({"conf_threshold": 2}, "conf_threshold"),
        ({"conf_threshold": "many"}, "conf_threshold"),
        ({"iou_threshold": 0}, "iou_threshold"),
        ({"imgsz": 100}, "imgsz"),
        ({"device": "cuda:0 && reboot"}, "device"),
        ({"dataset_version": foreign_version.pk}, "dataset_version"),
        ({"dataset_version": 999999}, "dataset_version"),
    ]:
        response = client.post(url, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json(), (body, response.json())
    assert not EvaluationRun.objects.exists() and no_dispatch == []


@pytest.mark.django_db(transaction=True)  # job_dispatch refuses to run inside a transaction
def test_broker_down_is_a_503_and_leaves_no_row(api_client_for, trained_model, owner, broker_down):
    response = api_client_for(owner).post(
        f"/api/models/{trained_model.pk}/evaluations/", {}, format="json"
    )
    assert response.status_code == 503
    assert not EvaluationRun.objects.exists()


@pytest.mark.django_db
def test_a_run_on_another_projects_frames_needs_both_memberships(
    api_client_for, trained_model, make_user, member_of, people
):
    from labeling.services import member_set, project_create

    other_owner = make_user("pat")
    other = project_create(name="Home cage", owner=other_owner)
    version, _ = store_dataset(project=other, user=other_owner, name="cage-v1")
    annotator = people["annotator"]
    url = f"/api/models/{trained_model.pk}/evaluations/"
    # Not a member of the other project: its dataset version does not exist for them.
    client = api_client_for(annotator)
    response = client.post(url, {"dataset_version": version.pk}, format="json")
    assert response.status_code == 400 and "dataset_version" in response.json()

    member_set(project=other, username=annotator.username, role="viewer")
    run = services.evaluation_run_create(model=trained_model, dataset_version=version)
    evaluation_work.evaluation_run_execute(run_id=run.pk)
    assert client.get(f"/api/evaluations/{run.pk}/").status_code == 200
    # A member of the model's project only sees neither the run nor its frames.
    viewer = api_client_for(people["viewer"])
    assert viewer.get(f"/api/evaluations/{run.pk}/").status_code == 404
    assert viewer.get(f"/api/evaluations/{run.pk}/predictions/").status_code == 404
    assert [r["id"] for r in viewer.get(url).json()] == []
    assert [r["id"] for r in client.get(url).json()] == [run.pk]


# --- reading -----------------------------------------------------------------------------
@pytest.mark.django_db
def test_detail_has_metrics_timing_model_and_training_history(api_client_for, run, owner):
    body = api_client_for(owner).get(f"/api/evaluations/{run.pk}/").json()
    assert body["status"] == "succeeded" and body["split"] == "test"
    for key in (
        "map50_voc11",
        "coco_ap50",
        "coco_ap50_95",
        "precision",
        "recall",
        "f1",
        "average_iou",
        "pr_curve",
        "f1_curve",
        "per_class",
    ):
        assert key in body["metrics"], key
    for key in ("per_image_ms_mean", "per_image_ms_std", "total_s", "per_image_ms", "device"):
        assert key in body["timing"], key
    assert body["parameters"] > 0 and body["gflops"] > 0 and body["model_size_bytes"] > 0
    assert body["imgsz"] == 64 and body["device"] == "cpu"
    assert [e["epoch"] for e in body["training"]["epochs"]] == [1, 2]
    assert body["training"]["training_time_s"] > 0
    assert body["summary"]["fp"] == body["metrics"]["fp"]


@pytest.mark.django_db
def test_predictions_come_worst_first_with_boxes_and_editor_links(api_client_for, run, owner):
    client = api_client_for(owner)
    body = client.get(f"/api/evaluations/{run.pk}/predictions/?order=worst").json()
    assert body["count"] == SPLITS["test"] and body["next_offset"] is None
    results = body["results"]
    keys = [
        (-p["error_count"], p["min_iou"] if p["min_iou"] is not None else 2, p["frame"])
        for p in results
    ]
    assert keys == sorted(keys)
    first = results[0]
    assert first["image_url"] == f"/api/frames/{first['frame']}/image/"
    assert first["editor_url"] == f"/projects/{run.project_id}/label/?frame={first['frame']}"
    assert first["width"] == 128 and first["height"] == 96
    assert len(first["ground_truth"]) == 1 and {"x", "y", "w", "h"} <= set(first["boxes"][0])

    page = client.get(f"/api/evaluations/{run.pk}/predictions/?order=frame&limit=3").json()
    assert [p["frame"] for p in page["results"]] == sorted(p["frame"] for p in results)[:3]
    assert page["next_offset"] == 3
    rest = client.get(f"/api/evaluations/{run.pk}/predictions/?order=frame&offset=3").json()
    assert len(rest["results"]) == 1
    errors_only = client.get(f"/api/evaluations/{run.pk}/predictions/?errors=true").json()
    assert errors_only["count"] == sum(
        1 for p in results if p["error_count"] or (p["min_iou"] is not None and p["min_iou"] < 0.7)
    )
    for query in ("order=owner__password", "order=-id", "limit=0", "limit=10000", "offset=-1"):
        response = client.get(f"/api/evaluations/{run.pk}/predictions/?{query}")
        assert response.status_code == 400, query


@pytest.mark.django_db
def test_metrics_download_as_csv_and_json(api_client_for, run, owner):
    client = api_client_for(owner)
    response = client.get(f"/api/evaluations/{run.pk}/metrics.csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        f'attachment; filename="evaluation-{run.pk}-metrics.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["scope"] for r in rows] == ["all", "mouse"]
    overall = rows[0]
    assert int(overall["fp"]) == run.metrics["fp"] and overall["split"] == "test"
    assert float(overall["per_image_ms_mean"]) == pytest.approx(
        run.timing["per_image_ms_mean"], rel=1e-5
    )
    for column in (
        "map50_voc11",
        "coco_ap50",
        "coco_ap50_95",
        "precision",
        "recall",
        "f1",
        "average_iou",
        "per_image_ms_std",
        "total_s",
        "parameters",
        "gflops",
    ):
        assert column in overall

    response = client.get(f"/api/evaluations/{run.pk}/metrics.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    body = json.loads(response.content)
    assert body["metrics"] == run.metrics and body["timing"] == run.timing
    assert body["evaluation"] == run.pk and body["model"] == run.model_id


@pytest.mark.django_db
def test_compare_lays_out_two_models_like_the_papers_tables(
    api_client_for, run, project, dataset, owner
):
    version, _ = dataset
    tiny = register_model(
        project=project,
        dataset_version=version,
        tiny=tiny_model("yolov3-tinyu.yaml"),
        name="YOLOv3 tiny",
        preset="yolov3-tiny",
    )
    unevaluated = register_model(
        project=project, dataset_version=version, tiny=tiny_model(), name="later"
    )
    second = services.evaluation_run_create(model=tiny)
    evaluation_work.evaluation_run_execute(run_id=second.pk)

    client = api_client_for(owner)
    ids = f"{tiny.pk},{run.model_id},{unevaluated.pk}"
    body = client.get(f"/api/projects/{project.pk}/compare/?models={ids}").json()
    rows = body["models"]
    assert [r["model"]["id"] for r in rows] == [tiny.pk, run.model_id, unevaluated.pk]
    for row in rows[:2]:
        for key in (
            "precision",
            "recall",
            "f1",
            "map50_voc11",
            "coco_ap50_95",
            "average_iou",
            "train_time_s",
            "test_time_s",
            "per_image_ms_mean",
            "per_image_ms_std",
        ):
            assert key in row, key
        assert row["evaluation"]["split"] == "test"
        assert row["per_image_ms_mean"] > 0 and len(row["epochs"]) == 2
    assert rows[0]["evaluation"]["parameters"] > rows[1]["evaluation"]["parameters"]
    assert rows[2]["evaluation"] is None
    assert any("Not evaluated yet: later" in w for w in body["warnings"])

    response = client.get(f"/api/projects/{project.pk}/compare.csv?models={ids}")
    lines = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["model_name"] for r in lines] == ["YOLOv3 tiny", "YOLO11n tiny", "later"]


@pytest.mark.django_db
def test_compare_refuses_foreign_or_malformed_model_lists(api_client_for, run, owner, make_user):
    from labeling.services import project_create

    stranger = make_user("sam")
    foreign = project_create(name="Not yours", owner=stranger)
    version, _ = store_dataset(project=foreign, user=stranger)
    foreign_model = register_model(project=foreign, dataset_version=version, tiny=tiny_model())
    client = api_client_for(owner)
    base = f"/api/projects/{run.project_id}/compare/"
    for query in (
        f"?models={run.model_id},{foreign_model.pk}",
        "?models=1;2",
        "?models=",
        "",
        "?models=" + ",".join(str(i) for i in range(1, 20)),
    ):
        response = client.get(base + query)
        assert response.status_code == 400, query
        assert "models" in response.json()
    assert (
        client.get(f"/api/projects/{foreign.pk}/compare/?models={foreign_model.pk}").status_code
        == 404
    )


@pytest.mark.django_db
def test_the_schema_documents_every_evaluation_endpoint(api_client_for, owner):
    schema = api_client_for(owner).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in (
        "/api/models/{model_id}/evaluations/",
        "/api/evaluations/{run_id}/",
        "/api/evaluations/{run_id}/predictions/",
        "/api/evaluations/{run_id}/metrics.csv",
        "/api/projects/{project_id}/compare/",
    ):
        assert path in text, path
