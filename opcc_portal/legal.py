"""The pages a UK public body publishes: privacy notice, accessibility statement, cookies.

They are readable signed out (staff must be able to read how their data is used before
they sign in). Everything office-specific comes from settings, read from the environment;
a value the office has not set is shown as "not yet configured", never as invented text.
The retention periods and the cookies are read from the same settings the portal runs on,
so the pages cannot drift from what the portal does.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import render
from django.utils.module_loading import import_string
from django.views.decorators.http import require_safe

# Each office-specific setting, with how a page names it when it is missing.
OFFICE_DETAILS = {
    "ORGANISATION_NAME": "the organisation's name",
    "ORGANISATION_ADDRESS": "the organisation's postal address",
    "ICO_REGISTRATION_NUMBER": "the ICO registration number",
    "DPO_NAME": "the Data Protection Officer's name",
    "DPO_EMAIL": "the Data Protection Officer's email address",
    "DPO_PHONE": "the Data Protection Officer's phone number",
    "ACCESSIBILITY_CONTACT_EMAIL": "the email address for accessibility problems",
    "ACCESSIBILITY_CONTACT_PHONE": "the phone number for accessibility problems",
    "LEGAL_PREPARED_ON": "the date this page was prepared",
    "LEGAL_REVIEWED_ON": "the date this page was last reviewed",
}

# The settings each page shows, so its "not yet configured" summary lists only its own.
PAGE_DETAILS = {
    "privacy": (
        "ORGANISATION_NAME",
        "ORGANISATION_ADDRESS",
        "ICO_REGISTRATION_NUMBER",
        "DPO_NAME",
        "DPO_EMAIL",
        "DPO_PHONE",
        "LEGAL_PREPARED_ON",
        "LEGAL_REVIEWED_ON",
    ),
    "accessibility": (
        "ORGANISATION_NAME",
        "ORGANISATION_ADDRESS",
        "ACCESSIBILITY_CONTACT_EMAIL",
        "ACCESSIBILITY_CONTACT_PHONE",
        "LEGAL_PREPARED_ON",
        "LEGAL_REVIEWED_ON",
    ),
    "cookies": ("ORGANISATION_NAME", "DPO_EMAIL", "LEGAL_PREPARED_ON", "LEGAL_REVIEWED_ON"),
}

# The kinds of record in settings.RETENTION, in the order the privacy notice lists them,
# with what each one holds. A kind in RETENTION without a row here stops the notice (and
# a test), so a new kind of record is never silently left off it.
RETENTION_KINDS = {
    "clear_downs": (
        "Clear-downs and attestations",
        "each week you owed a clear-down: whether and when you confirmed it, the date you cleared the chat, "
        "your two confirmations, whether it was late, an excuse and who gave it",
    ),
    "emails": ("Emails sent", "the address, subject, time and result of each email the portal sent; not its text"),
    "flags": ("Flags", "overdue clear-downs and missed prompts, and when they were reported and escalated"),
    "holds": ("Holds", "FOI and legal holds on a group: the reference, the reason, who placed and lifted them"),
    "register_history": (
        "Register and its history",
        "the groups, who was a member, admin or deputy and when, and every change with who made it and why",
    ),
    "export_logs": ("Export logs", "who exported which records and when"),
    "sign_ins": (
        "Sign-in and lock-out records",
        "each sign-in and sign-out, failed sign-ins and lock-outs: username, network address, browser and time",
    ),
    "calendar_feeds": (
        "Calendar feeds",
        "the secret address of your calendar of clear-down deadlines, and when it was made or reset",
    ),
}

YEAR_DAYS, WEEK_DAYS = 365, 7
DAY_SECONDS, HOUR_SECONDS, MINUTE_SECONDS = 86400, 3600, 60


@dataclass(frozen=True)
class Detail:
    setting: str
    label: str
    value: object


@dataclass(frozen=True)
class RetentionRow:
    kind: str
    label: str
    holds: str
    period: str


@dataclass(frozen=True)
class Cookie:
    name: str
    purpose: str
    lifetime: str
    http_only: bool
    secure: bool
    same_site: str


def in_words(amount: int, units: list[tuple[str, int]]) -> str:
    """`amount` in the largest unit that divides it exactly: 7200 seconds is "2 hours"."""
    for name, size in units:
        if amount % size == 0:
            count = amount // size
            return f"{count} {name}{'' if count == 1 else 's'}"
    raise ValueError("the last unit must be 1")


def duration_in_words(seconds: int) -> str:
    units = [("week", WEEK_DAYS * DAY_SECONDS), ("day", DAY_SECONDS), ("hour", HOUR_SECONDS)]
    return in_words(seconds, [*units, ("minute", MINUTE_SECONDS), ("second", 1)])


def retention_schedule() -> list[RetentionRow]:
    """The retention period of each kind of record, from settings.RETENTION."""
    unknown = set(settings.RETENTION) - set(RETENTION_KINDS)
    if unknown:
        raise ImproperlyConfigured(f"RETENTION has kinds the privacy notice does not describe: {sorted(unknown)}")
    rows = []
    for kind, (label, holds) in RETENTION_KINDS.items():
        days = settings.RETENTION.get(kind)
        period = (
            "Kept while the portal is in use" if days is None else in_words(days, [("year", YEAR_DAYS), ("day", 1)])
        )
        rows.append(RetentionRow(kind=kind, label=label, holds=holds, period=period))
    return rows


def cookies_set() -> list[Cookie]:
    """The cookies the portal sets, read from the settings that name and shape them."""
    session_flags = {
        "http_only": settings.SESSION_COOKIE_HTTPONLY,
        "secure": settings.SESSION_COOKIE_SECURE,
        "same_site": settings.SESSION_COOKIE_SAMESITE or "not set",
    }
    if settings.SESSION_EXPIRE_AT_BROWSER_CLOSE:
        session_life = "Until you close the browser"
    else:
        # Renewed by a signed-in request (`security.session_lifetimes`), never past the absolute limit.
        session_life = (
            f"{duration_in_words(settings.SESSION_COOKIE_AGE)} after your last visit to a page, and at most"
            f" {duration_in_words(settings.SESSION_ABSOLUTE_SECONDS)} after you signed in, or until you sign out"
        )
    cookies = [
        Cookie(
            name=settings.SESSION_COOKIE_NAME,
            purpose="Keeps you signed in from page to page. Set when you sign in; removed when you sign out.",
            lifetime=session_life,
            **session_flags,
        )
    ]
    if not settings.CSRF_USE_SESSIONS:
        age = settings.CSRF_COOKIE_AGE
        cookies.append(
            Cookie(
                name=settings.CSRF_COOKIE_NAME,
                purpose=(
                    "Proves that a form you send (signing in, confirming a clear-down) came from this portal, "
                    "not from another website acting in your name. Set when you open a page with a form."
                ),
                lifetime="Until you close the browser" if age is None else duration_in_words(age),
                http_only=settings.CSRF_COOKIE_HTTPONLY,
                secure=settings.CSRF_COOKIE_SECURE,
                same_site=settings.CSRF_COOKIE_SAMESITE or "not set",
            )
        )
    # Django's default message storage (FallbackStorage) tries a cookie first, the session when it is full.
    storage = import_string(settings.MESSAGE_STORAGE)
    if issubclass(storage, CookieStorage) or CookieStorage in getattr(storage, "storage_classes", ()):
        cookies.append(
            Cookie(
                name=CookieStorage.cookie_name,
                purpose=(
                    'Carries a short confirmation, such as "Your clear-down is recorded", to the next page you see.'
                ),
                lifetime="Until the next page has shown the message (at most until you close the browser)",
                **session_flags,
            )
        )
    return cookies


def _page(request, name: str, **context):
    details = {
        setting: Detail(setting, OFFICE_DETAILS[setting], getattr(settings, setting)) for setting in OFFICE_DETAILS
    }
    missing = [details[setting] for setting in PAGE_DETAILS[name] if not details[setting].value]
    office = {setting.lower(): detail for setting, detail in details.items()}
    return render(
        request,
        f"legal/{name}.html",
        {"office": office, "missing": missing, "site_url": settings.SITE_URL, **context},
    )


@require_safe
def privacy(request):
    return _page(request, "privacy", retention=retention_schedule())


@require_safe
def accessibility(request):
    return _page(request, "accessibility", session_timeout=duration_in_words(settings.SESSION_COOKIE_AGE))


@require_safe
def cookies(request):
    return _page(request, "cookies", cookies=cookies_set())
