from django.urls import path

from . import views, views_requests

app_name = "audit"

urlpatterns = [
    path("", views.history, name="history"),
    path("exports/", views.export_index, name="exports"),
    path("exports/<slug:kind>.<str:fmt>", views.export, name="export"),
    path("exports/log/", views.export_log, name="export_log"),
    path("exports/log/<int:pk>/", views.export_detail, name="export_detail"),
    path("exports/log/<int:pk>/sha256", views.export_sha256, name="export_sha256"),
    path("foi/", views.foi_pack, name="foi_pack"),
    path("ledger/", views.ledger_check, name="ledger"),
    path("foi/what-may-exist/", views_requests.foi_exist_record, name="foi_exist_record"),
    path("foi/what-may-exist.csv", views_requests.foi_exist_csv, name="foi_exist_csv"),
    path("foi/hold/", views_requests.foi_hold, name="foi_hold"),
    path("subject-access/", views_requests.subject_access_search, name="subject_access"),
    path("subject-access/<int:pk>.zip", views_requests.subject_access_file, name="subject_access_file"),
    path("retention/", views.retention_schedule, name="retention"),
]
