from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import auth_apis, views

api_patterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI sets style attributes from its script; only this page allows them.
    path(
        "docs/",
        csp_update({"style-src": [UNSAFE_INLINE]})(
            SpectacularSwaggerSplitView.as_view(url_name="schema")
        ),
        name="swagger-ui",
    ),
    path("auth/token/", auth_apis.TokenApi.as_view(), name="api-token"),
    path("", include("labeling.api_urls")),
    path("", include("training.api_urls")),
    path("", include("evaluation.api_urls")),
    path("", include("tracking.api_urls")),
    path("", include("behavior.api_urls")),
    path("", include("assisted.api_urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/login/", views.ThrottledLoginView.as_view(), name="login"),
    path("accounts/", views.account, name="account"),
    path("accounts/token/rotate/", views.account_token_rotate, name="account-token-rotate"),
    path("accounts/token/revoke/", views.account_token_revoke, name="account-token-revoke"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # A labmate given a temporary password by a project owner changes it here.
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(
            template_name="webapp/password_change.html", success_url=reverse_lazy("account")
        ),
        name="account-password",
    ),
    path("api/", include(api_patterns)),
    path("", include("labeling.urls")),
    path("", include("training.urls")),
    path("", include("evaluation.urls")),
    path("", include("tracking.urls")),
    path("", include("behavior.urls")),
    path("", include("assisted.urls")),
]
