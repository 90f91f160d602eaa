"""API routes of the behaviour analysis (included by webapp.urls under /api/; paths and
names as they were under the tracking app)."""

from django.urls import path

from . import apis
from .experiment import run_apis
from .freezing import apis as freezing_apis

urlpatterns = [
    # Behaviour analysis: arenas, templates, subjects, settings, measures, experiment.
    path(
        "videos/<id:video_id>/arena/",
        apis.ArenaSetupApi.as_view(),
        name="api-video-arena",
    ),
    path(
        "videos/<id:video_id>/arena/preset/",
        apis.ArenaPresetApi.as_view(),
        name="api-video-arena-preset",
    ),
    path(
        "projects/<id:project_id>/arena-templates/",
        apis.ArenaTemplateListApi.as_view(),
        name="api-arena-templates",
    ),
    path(
        "arena-templates/<id:template_id>/",
        apis.ArenaTemplateDetailApi.as_view(),
        name="api-arena-template",
    ),
    path(
        "arena-templates/<id:template_id>/apply/",
        apis.ArenaTemplateApplyApi.as_view(),
        name="api-arena-template-apply",
    ),
    path(
        "videos/<id:video_id>/subject/",
        apis.SubjectInfoApi.as_view(),
        name="api-video-subject",
    ),
    path(
        "projects/<id:project_id>/subjects/",
        apis.ProjectSubjectListApi.as_view(),
        name="api-project-subjects",
    ),
    path(
        "projects/<id:project_id>/subjects/import/",
        apis.SubjectImportApi.as_view(),
        name="api-project-subjects-import",
    ),
    path(
        "projects/<id:project_id>/analysis-settings/",
        apis.AnalysisSettingsApi.as_view(),
        name="api-analysis-settings",
    ),
    path(
        "tracking-runs/<id:run_id>/analysis/",
        apis.RunAnalysisApi.as_view(),
        name="api-run-analysis",
    ),
    path(
        "tracking-runs/<id:run_id>/heatmap.png",
        apis.RunHeatmapApi.as_view(),
        name="api-run-heatmap",
    ),
    path(
        "tracking-runs/<id:run_id>/trajectory.png",
        apis.RunTrajectoryImageApi.as_view(),
        name="api-run-trajectory-png",
    ),
    path(
        "projects/<id:project_id>/experiment/",
        apis.ExperimentApi.as_view(),
        name="api-experiment",
    ),
    path(
        "projects/<id:project_id>/experiment.csv",
        apis.ExperimentCsvApi.as_view(),
        name="api-experiment-csv",
    ),
    path(
        "projects/<id:project_id>/experiment.xlsx",
        apis.ExperimentXlsxApi.as_view(),
        name="api-experiment-xlsx",
    ),
    path(
        "projects/<id:project_id>/experiment/plot.png",
        apis.ExperimentPlotApi.as_view(),
        name="api-experiment-plot",
    ),
    # The experiment's bookkeeping per video, and freezing as a background job.
    path(
        "videos/<id:video_id>/experiment-run/",
        run_apis.ExperimentRunApi.as_view(),
        name="api-video-experiment-run",
    ),
    path(
        "videos/<id:video_id>/subject/animals/<id:animal>/",
        run_apis.AnimalSubjectApi.as_view(),
        name="api-video-animal-subject",
    ),
    path(
        "tracking-runs/<id:run_id>/freezing/",
        freezing_apis.RunFreezingApi.as_view(),
        name="api-run-freezing",
    ),
    path(
        "freezing-jobs/<id:job_id>/",
        freezing_apis.FreezingJobApi.as_view(),
        name="api-freezing-job",
    ),
    path(
        "freezing-jobs/<id:job_id>/cancel/",
        freezing_apis.FreezingJobCancelApi.as_view(),
        name="api-freezing-job-cancel",
    ),
    path(
        "projects/<id:project_id>/freezing/",
        freezing_apis.ProjectFreezingApi.as_view(),
        name="api-project-freezing",
    ),
]
