"""The evidence app's pages. Each views module keeps its own ``urlpatterns`` list, joined here."""

from . import custody_views, disposition_views, outsourcing_views

app_name = "evidence"

urlpatterns = custody_views.urlpatterns + disposition_views.urlpatterns + outsourcing_views.urlpatterns
