"""The administrator's pages for partner API tokens (the API itself is under ``api/v1/``, see ``api.urls``)."""

from django.urls import path

from . import token_views

app_name = "api_tokens"

urlpatterns = [
    path("manage/api-tokens/", token_views.token_list, name="token_list"),
    path("manage/api-tokens/new/", token_views.token_issue, name="token_issue"),
    path("manage/api-tokens/<str:name>/", token_views.token_detail, name="token_detail"),
    path("manage/api-tokens/<str:name>/revoke/", token_views.token_revoke, name="token_revoke"),
]
