from django.urls import include, path

from forensis.core import views as core_views

urlpatterns = [
    path("", include("forensis.core.urls")),
    path("", include("forensis.accounts.urls")),
    path("", include("forensis.audit.urls")),
    path("", include("forensis.intake.urls")),
    path("", include("forensis.cases.urls")),
    path("", include("forensis.evidence.urls")),
    path("", include("forensis.lab.urls")),
    path("", include("forensis.reports.urls")),
    path("deaths/", include("forensis.deaths.urls")),
    path("legacy/", include("forensis.legacy.urls")),
    path("statistics/", include("forensis.statistics.urls")),
    path("api/v1/", include("forensis.api.urls")),
    path("", include("forensis.api.web_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", core_views.healthz, name="healthz"),
]
