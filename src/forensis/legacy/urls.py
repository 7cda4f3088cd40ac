from django.urls import path

from . import correction_views, views

app_name = "legacy"

urlpatterns = [
    path("", views.batch_list, name="list"),
    path("new/", views.batch_new, name="new"),
    path("correct/<str:kind>/<int:pk>/", correction_views.correct, name="correct"),
    path("<str:number>/", views.batch_detail, name="detail"),
    path("<str:number>/progress/", views.batch_progress, name="progress"),
    path("<str:number>/repeat/", views.batch_repeat, name="repeat"),
    path("<str:number>/reports/<str:name>", views.report_file, name="report"),
]
