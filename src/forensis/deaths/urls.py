"""The death investigation pages. Each views module keeps its own ``urlpatterns`` list, joined here (the fixed
paths ``pending/`` and ``new/`` come before ``<number>/``)."""

from . import autopsy_views, morgue_views, views

app_name = "deaths"

urlpatterns = views.urlpatterns + morgue_views.urlpatterns + autopsy_views.urlpatterns
