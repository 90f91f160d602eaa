from django.urls import path

from . import views

urlpatterns = [
    path(
        "tracking-runs/<id:run_id>/hard-frames/",
        views.hard_frames_from_tracking_run,
        name="hard-frames-from-run",
    ),
    path(
        "evaluations/<id:run_id>/hard-frames/",
        views.hard_frames_from_evaluation,
        name="hard-frames-from-evaluation",
    ),
    path("hard-frame-jobs/<id:job_id>/", views.hard_frame_job, name="hard-frame-job"),
    path("training/models/<id:model_id>/improve/", views.model_improve_view, name="model-improve"),
]
