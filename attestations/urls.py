from django.urls import path

from . import views, views_calendar, views_holds, views_reviews, views_timer

app_name = "attestations"

urlpatterns = [
    path("how-to/", views.howto, name="howto"),
    path("link/<str:token>/", views.link, name="link"),
    path("cycles/<int:pk>/prompt/", views.prompt, name="prompt"),
    path("obligations/<int:pk>/excuse/", views.excuse, name="excuse"),
    path("groups/<int:pk>/hold/", views.hold_place, name="hold_place"),
    path("holds/<int:pk>/lift/", views.hold_lift, name="hold_lift"),
    path("holds/<int:pk>/", views_holds.hold_detail, name="hold_detail"),
    path("holds/<int:pk>/acknowledge/", views_holds.hold_ack, name="hold_ack"),
    path("holds/<int:pk>/posted/", views_holds.hold_chat_posted, name="hold_chat_posted"),
    path("holds/notice/<str:token>/", views_holds.hold_ack_link, name="hold_ack_link"),
    path("reviews/", views_reviews.review_board, name="reviews"),
    path("reviews/<int:pk>/", views_reviews.review_decide, name="review_decide"),
    path("groups/<int:pk>/review/", views_reviews.review_answer, name="review_answer"),
    path("groups/<int:pk>/review-interval/", views_reviews.review_interval, name="review_interval"),
    path("groups/<int:pk>/clear-mode/", views_timer.clear_mode, name="clear_mode"),
    path("groups/<int:pk>/timer/", views_timer.timer_confirm, name="timer_confirm"),
    path("holds/<int:pk>/timer-off/", views_timer.hold_timer_off, name="hold_timer_off"),
    path("calendar/", views_calendar.calendar_page, name="calendar"),
    path("calendar/reset/", views_calendar.calendar_reset, name="calendar_reset"),
    path("calendar/<slug:token>.ics", views_calendar.calendar_feed, name="calendar_feed"),
]
