from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.index, name="index"),
    path("trend.svg", views.trend_svg, name="trend_svg"),
    path("groups.csv", views.groups_csv, name="groups_csv"),
    path("groups/<int:pk>/", views.group, name="group"),
    path("people/", views.people, name="people"),
    path("people/<int:pk>/", views.person, name="person"),
    path("clear-downs/", views.obligations, name="obligations"),
    path("flags/", views.flags, name="flags"),
    path("emails/", views.emails, name="emails"),
]
