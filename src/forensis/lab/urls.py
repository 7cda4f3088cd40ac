"""The laboratory's pages. Each views module keeps its own ``urlpatterns`` list, joined here."""

from . import examination_views, review_views, triage_views

app_name = "lab"

urlpatterns = triage_views.urlpatterns + examination_views.urlpatterns + review_views.urlpatterns
