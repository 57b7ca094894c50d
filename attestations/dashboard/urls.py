from django.urls import path

from . import policy, views

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
    # The policy (R15): who has acknowledged a version, by group and by person.
    path("policy/", policy.acks, name="policy"),
    path("policy.csv", policy.acks_csv, name="policy_csv"),
    path("policy/groups/<int:pk>/", policy.group, name="policy_group"),
]
