"""SCIM 2.0 (`<SITE_URL>/scim/v2/`): the directory keeps the staff list in step (R14)."""

from django.urls import path

from . import scim

app_name = "scim"

urlpatterns = [
    path("ServiceProviderConfig", scim.service_provider_config, name="service_provider_config"),
    path("Users", scim.users, name="users"),
    path("Users/<str:pk>", scim.user, name="user"),
]
