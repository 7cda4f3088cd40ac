from django.urls import path

from . import views

app_name = "cases"

urlpatterns = [
    path("cases/<str:lab_number>/", views.case_detail, name="detail"),
    path("cases/<str:lab_number>/labels.pdf", views.labels_pdf, name="labels"),
    path("cases/<str:lab_number>/custody.pdf", views.custody_report, name="custody_report"),
]
