"""API routes of the behaviour analysis (included by webapp.urls under /api/; paths and
names as they were under the tracking app)."""

from django.urls import include, path

from webapp.jobs.apis import job_urls

from .analysis import apis as analysis_apis
from .arenas import apis as arena_apis
from .experiment import apis as experiment_apis
from .experiment import run_apis
from .freezing import apis as freezing_apis

# Behaviour analysis: arenas, templates, subjects, settings, measures, experiment.
video_routes = [
    path("arena/", arena_apis.ArenaSetupApi.as_view(), name="api-video-arena"),
    path("arena/preset/", arena_apis.ArenaPresetApi.as_view(), name="api-video-arena-preset"),
    path("subject/", experiment_apis.SubjectInfoApi.as_view(), name="api-video-subject"),
    # The experiment's bookkeeping per video.
    path(
        "experiment-run/",
        run_apis.ExperimentRunApi.as_view(),
        name="api-video-experiment-run",
    ),
    path(
        "subject/animals/<id:animal>/",
        run_apis.AnimalSubjectApi.as_view(),
        name="api-video-animal-subject",
    ),
]

project_routes = [
    path(
        "arena-templates/",
        arena_apis.ArenaTemplateListApi.as_view(),
        name="api-arena-templates",
    ),
    path(
        "subjects/",
        experiment_apis.ProjectSubjectListApi.as_view(),
        name="api-project-subjects",
    ),
    path(
        "subjects/import/",
        experiment_apis.SubjectImportApi.as_view(),
        name="api-project-subjects-import",
    ),
    path(
        "analysis-settings/",
        experiment_apis.AnalysisSettingsApi.as_view(),
        name="api-analysis-settings",
    ),
    path("experiment/", experiment_apis.ExperimentApi.as_view(), name="api-experiment"),
    path("experiment.csv", experiment_apis.ExperimentCsvApi.as_view(), name="api-experiment-csv"),
    path(
        "experiment.xlsx", experiment_apis.ExperimentXlsxApi.as_view(), name="api-experiment-xlsx"
    ),
    path(
        "experiment/plot.png",
        experiment_apis.ExperimentPlotApi.as_view(),
        name="api-experiment-plot",
    ),
    path("freezing/", freezing_apis.ProjectFreezingApi.as_view(), name="api-project-freezing"),
]

template_routes = [
    path("", arena_apis.ArenaTemplateDetailApi.as_view(), name="api-arena-template"),
    path("apply/", arena_apis.ArenaTemplateApplyApi.as_view(), name="api-arena-template-apply"),
]

run_routes = [
    path("analysis/", analysis_apis.RunAnalysisApi.as_view(), name="api-run-analysis"),
    path("heatmap.png", analysis_apis.RunHeatmapApi.as_view(), name="api-run-heatmap"),
    path(
        "trajectory.png",
        analysis_apis.RunTrajectoryImageApi.as_view(),
        name="api-run-trajectory-png",
    ),
    # Freezing as a background job.
    path("freezing/", freezing_apis.RunFreezingApi.as_view(), name="api-run-freezing"),
]

urlpatterns = [
    path("videos/<id:video_id>/", include(video_routes)),
    path("projects/<id:project_id>/", include(project_routes)),
    path("arena-templates/<id:template_id>/", include(template_routes)),
    path("tracking-runs/<id:run_id>/", include(run_routes)),
    job_urls(
        "freezing-jobs/<id:job_id>/",
        "api-freezing-job",
        freezing_apis.FreezingJobDetailApi,
        freezing_apis.FreezingJobCancelApi,
    ),
]
