"""The DPO's staff pages (R14): the list, a person, closing and opening accounts, roles, import."""

from django.urls import path

from . import staff_views

app_name = "staff"

urlpatterns = [
    path("", staff_views.staff_list, name="list"),
    path("roles/", staff_views.roles, name="roles"),
    path("import/", staff_views.import_staff, name="import"),
    path("<int:pk>/", staff_views.person, name="person"),
    path("<int:pk>/deactivate/", staff_views.deactivate, name="deactivate"),
    path("<int:pk>/reactivate/", staff_views.reactivate, name="reactivate"),
]
