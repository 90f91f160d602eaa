"""API routes of the behaviour analysis (included by webapp.urls under /api/; paths and
names as they were under the tracking app)."""

from django.urls import path

from webapp.jobs.apis import job_urls

from .analysis import apis as analysis_apis
from .arenas import apis as arena_apis
from .experiment import apis as experiment_apis
from .experiment import run_apis
from .freezing import apis as freezing_apis

urlpatterns = [
    # Behaviour analysis: arenas, templates, subjects, settings, measures, experiment.
    path(
        "videos/<id:video_id>/arena/",
        arena_apis.ArenaSetupApi.as_view(),
        name="api-video-arena",
    ),
    path(
        "videos/<id:video_id>/arena/preset/",
        arena_apis.ArenaPresetApi.as_view(),
        name="api-video-arena-preset",
    ),
    path(
        "projects/<id:project_id>/arena-templates/",
        arena_apis.ArenaTemplateListApi.as_view(),
        name="api-arena-templates",
    ),
    path(
        "arena-templates/<id:template_id>/",
        arena_apis.ArenaTemplateDetailApi.as_view(),
        name="api-arena-template",
    ),
    path(
        "arena-templates/<id:template_id>/apply/",
        arena_apis.ArenaTemplateApplyApi.as_view(),
        name="api-arena-template-apply",
    ),
    path(
        "videos/<id:video_id>/subject/",
        experiment_apis.SubjectInfoApi.as_view(),
        name="api-video-subject",
    ),
    path(
        "projects/<id:project_id>/subjects/",
        experiment_apis.ProjectSubjectListApi.as_view(),
        name="api-project-subjects",
    ),
    path(
        "projects/<id:project_id>/subjects/import/",
        experiment_apis.SubjectImportApi.as_view(),
        name="api-project-subjects-import",
    ),
    path(
        "projects/<id:project_id>/analysis-settings/",
        experiment_apis.AnalysisSettingsApi.as_view(),
        name="api-analysis-settings",
    ),
    path(
        "tracking-runs/<id:run_id>/analysis/",
        analysis_apis.RunAnalysisApi.as_view(),
        name="api-run-analysis",
    ),
    path(
        "tracking-runs/<id:run_id>/heatmap.png",
        analysis_apis.RunHeatmapApi.as_view(),
        name="api-run-heatmap",
    ),
    path(
        "tracking-runs/<id:run_id>/trajectory.png",
        analysis_apis.RunTrajectoryImageApi.as_view(),
        name="api-run-trajectory-png",
    ),
    path(
        "projects/<id:project_id>/experiment/",
        experiment_apis.ExperimentApi.as_view(),
        name="api-experiment",
    ),
    path(
        "projects/<id:project_id>/experiment.csv",
        experiment_apis.ExperimentCsvApi.as_view(),
        name="api-experiment-csv",
    ),
    path(
        "projects/<id:project_id>/experiment.xlsx",
        experiment_apis.ExperimentXlsxApi.as_view(),
        name="api-experiment-xlsx",
    ),
    path(
        "projects/<id:project_id>/experiment/plot.png",
        experiment_apis.ExperimentPlotApi.as_view(),
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
    job_urls(
        "freezing-jobs/<id:job_id>/",
        "api-freezing-job",
        freezing_apis.FreezingJobDetailApi,
        freezing_apis.FreezingJobCancelApi,
    ),
    path(
        "projects/<id:project_id>/freezing/",
        freezing_apis.ProjectFreezingApi.as_view(),
        name="api-project-freezing",
    ),
]
