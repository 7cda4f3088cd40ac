from django.urls import path

from . import views

app_name = "cases"

urlpatterns = [
    path("cases/<str:lab_number>/", views.case_detail, name="detail"),
    path("cases/<str:lab_number>/labels.pdf", views.labels_pdf, name="labels"),
]
