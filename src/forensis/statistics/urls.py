from django.urls import path, re_path
from django.views.generic import RedirectView

from . import views

app_name = "statistics"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="statistics:policy", permanent=False), name="index"),
    path("policy/", views.dashboard, {"key": "policy"}, name="policy"),
    path("management/", views.dashboard, {"key": "management"}, name="management"),
    path("bulletin/", views.bulletin_pdf, name="bulletin"),
    path("reconciliation/", views.reconciliation, name="reconciliation"),
    path("population/", views.population, name="population"),
    path("open-data/", views.open_data, name="open_data"),
    re_path(r"^open-data/(?P<name>[a-z0-9_]+)\.(?P<fmt>csv|json)$", views.open_data_file, name="open_data_file"),
    re_path(r"^(?P<key>policy|management)/(?P<figure>[a-z0-9_]+)\.(?P<fmt>csv|xlsx)$", views.export, name="export"),
]
