from django.urls import path

from . import reception_views, views

app_name = "intake"

urlpatterns = [
    path("submissions/", views.submission_list, name="list"),
    path("submissions/new/", views.submission_new, name="new"),
    path("submissions/<str:reference>/", views.submission_detail, name="detail"),
    path("submissions/<str:reference>/edit/", views.submission_edit, name="edit"),
    path("submissions/<str:reference>/submit/", views.submission_submit, name="submit"),
    path("submissions/<str:reference>/form.pdf", views.submission_form_pdf, name="form_pdf"),
    path("submissions/<str:reference>/receipt.pdf", views.receipt_pdf, name="receipt_pdf"),
    path("manage/kits/", views.kit_list, name="kits"),
    path("manage/kits/new/", views.kit_edit, name="kit_new"),
    path("manage/kits/<int:pk>/", views.kit_edit, name="kit_edit"),
    path("reception/", reception_views.queue, name="reception"),
    path("reception/walk-in/", reception_views.walk_in, name="walk_in"),
    path("reception/<str:reference>/", reception_views.receive, name="receive"),
]
