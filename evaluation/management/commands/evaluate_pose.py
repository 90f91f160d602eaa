"""Keypoint metrics of a pose model on a split of its dataset version.

    python manage.py evaluate_pose --model 7 --split test [--sigma 0.025] [--json]

Mean error in pixels (overall and per keypoint) on animals matched by box, PCK at a pixel
threshold and relative to the box, and COCO's OKS AP (see :mod:`evaluation.keypoints`).
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from evaluation.keypoints import DEFAULT_PCK_PX, DEFAULT_PCK_REL, DEFAULT_SIGMA
from evaluation.pose_evaluation import pose_model_evaluate
from training.models import TrainedModel
from webapp.commands import validation_text


class Command(BaseCommand):
    help = "Keypoint error, PCK and OKS AP of a pose model on a split of its dataset version."

    def add_arguments(self, parser):
        parser.add_argument("--model", type=int, required=True, help="TrainedModel id")
        parser.add_argument("--split", choices=("train", "val", "test"), default="test")
        parser.add_argument("--device", default="cpu", help="cpu | auto | a GPU index")
        parser.add_argument(
            "--sigma",
            type=float,
            action="append",
            help=f"OKS sigma: once for all keypoints or once per keypoint (default "
            f"{DEFAULT_SIGMA})",
        )
        parser.add_argument("--pck-px", type=float, default=DEFAULT_PCK_PX)
        parser.add_argument("--pck-rel", type=float, default=DEFAULT_PCK_REL)
        parser.add_argument("--json", action="store_true", help="print the metrics as JSON")

    def handle(self, *args, **options):
        model = TrainedModel.objects.filter(pk=options["model"]).first()
        if model is None:
            raise CommandError(f"No model {options['model']}.")
        sigmas = options["sigma"]
        try:
            if sigmas and len(sigmas) == 1 and model.dataset_version is not None:
                sigmas = _repeat(model, sigmas[0])  # one value for every keypoint
            result = pose_model_evaluate(
                model=model,
                split=options["split"],
                device=options["device"],
                sigmas=sigmas,
                pck_px=options["pck_px"],
                pck_rel=options["pck_rel"],
            )
        except (ValidationError, ValueError) as exc:
            text = validation_text(exc) if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(text) from None
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        k = result["keypoints"]
        self.stdout.write(
            f"{result['images']} {result['split']} images: mean error {_px(k['mean_error_px'])}, "
            f"PCK@{options['pck_px']:g}px {_pct(k['pck'])}, OKS AP {_num(k['oks_ap'])}"
        )
        for name, error in k["per_keypoint"].items():
            self.stdout.write(f"  {name}: {_px(error)}")


def _repeat(model: TrainedModel, sigma: float) -> list[float]:
    from labeling.datasets.versions import dataset_version_manifest

    manifest = dataset_version_manifest(version=model.dataset_version)
    return [sigma] * len((manifest.get("skeleton") or {}).get("keypoints", []))


def _px(value) -> str:
    return "–" if value is None else f"{value:.2f} px"


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _num(value) -> str:
    return "–" if value is None else f"{value:.3f}"
