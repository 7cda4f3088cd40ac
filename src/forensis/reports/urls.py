from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("reports/", views.report_list, name="list"),
    path("reports/<str:number>/", views.report_detail, name="detail"),
    path("reports/<str:number>/v<int:version>.pdf", views.report_pdf, name="pdf"),
    path("reports/<str:number>/amend/", views.report_amend, name="amend"),
    path("verify/", views.verify, name="verify"),
    path("verify/<str:number>/<str:fingerprint>/", views.verify_link, name="verify_link"),
    path("cases/<str:lab_number>/contacts/", views.case_contacts, name="case_contacts"),
    path("cases/<str:lab_number>/discovery.zip", views.discovery_packet, name="discovery"),
]
