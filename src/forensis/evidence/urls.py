"""The evidence app's pages. Each views module keeps its own ``urlpatterns`` list, joined here."""

from . import custody_views, disposition_views, item_views, location_views, outsourcing_views

app_name = "evidence"

urlpatterns = (
    custody_views.urlpatterns
    + location_views.urlpatterns
    + item_views.urlpatterns
    + disposition_views.urlpatterns
    + outsourcing_views.urlpatterns
)
