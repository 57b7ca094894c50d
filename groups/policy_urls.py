"""The policy's pages (R15): its versions for all staff, drafting and publishing for the DPO."""

from django.urls import path

from . import policy_views

app_name = "policy"

urlpatterns = [
    path("", policy_views.versions, name="versions"),
    path("new/", policy_views.new, name="new"),
    path("<int:pk>/", policy_views.detail, name="detail"),
    path("<int:pk>/policy.pdf", policy_views.pdf, name="pdf"),
    path("<int:pk>/edit/", policy_views.edit, name="edit"),
    path("<int:pk>/publish/", policy_views.publish, name="publish"),
    path("<int:pk>/delete/", policy_views.delete, name="delete"),
    path("<int:pk>/acknowledge/", policy_views.acknowledge, name="acknowledge"),
    path("pending/<int:pk>/withdraw/", policy_views.pending_withdraw, name="pending_withdraw"),
]
