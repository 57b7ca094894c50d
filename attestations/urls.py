from django.urls import path

from . import views

app_name = "attestations"

urlpatterns = [
    path("how-to/", views.howto, name="howto"),
    path("link/<str:token>/", views.link, name="link"),
    path("cycles/<int:pk>/prompt/", views.prompt, name="prompt"),
    path("obligations/<int:pk>/excuse/", views.excuse, name="excuse"),
    path("groups/<int:pk>/hold/", views.hold_place, name="hold_place"),
    path("holds/<int:pk>/lift/", views.hold_lift, name="hold_lift"),
]
