from django.contrib.auth import views as auth_views
from django.urls import path

from . import manage_views, views

app_name = "accounts"

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/mfa/verify/", views.mfa_verify, name="mfa_verify"),
    path("accounts/mfa/enrol/", views.mfa_enrol, name="mfa_enrol"),
    path("accounts/password/", views.change_password, name="change_password"),
    path("manage/agencies/", manage_views.agency_list, name="agency_list"),
    path("manage/agencies/new/", manage_views.agency_edit, name="agency_new"),
    path("manage/agencies/<int:pk>/", manage_views.agency_edit, name="agency_edit"),
    path("manage/agencies/<int:pk>/active/", manage_views.agency_set_active, name="agency_set_active"),
    path("manage/users/", manage_views.user_list, name="user_list"),
    path("manage/users/new/", manage_views.user_edit, name="user_new"),
    path("manage/users/<int:pk>/", manage_views.user_edit, name="user_edit"),
    path("manage/users/<int:pk>/password/", manage_views.user_set_password, name="user_set_password"),
    path("manage/users/<int:pk>/<slug:action>/", manage_views.user_action, name="user_action"),
]
