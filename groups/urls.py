from django.urls import path

from . import views

app_name = "groups"

urlpatterns = [
    path("", views.register, name="register"),
    path("propose/", views.propose, name="propose"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/status/<slug:action>/", views.transition, name="transition"),
    path("<int:pk>/members/add/", views.member_add, name="member_add"),
    path("<int:pk>/members/<int:membership_pk>/remove/", views.member_remove, name="member_remove"),
    path("<int:pk>/roles/", views.roles, name="roles"),
    path("<int:pk>/history/", views.history, name="history"),
    path("<int:pk>/logo.png", views.logo, name="logo"),
]
