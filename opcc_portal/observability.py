"""Logs that a machine can read: a request id on every line, one line per request, and the
same id carried into the Celery tasks a request queues.

- `request_log` (middleware, outermost): gives each request an id (the proxy's
  `X-Request-ID` when it sends a well-formed one, otherwise a new one), returns it in the
  response's `X-Request-ID`, and logs one line per request on `opcc_portal.requests` with
  the method, path, status, duration and the signed-in user's id.
- `ContextFilter` (on the console handler) puts the request id, and in a worker the task's
  name and id, on every log record, whoever logs it.
- Celery signals: a task queued during a request carries the request's id in its message
  headers, and the worker logs the task's lines under that id.

With `LOG_FORMAT=json` each record is one JSON object per line (python-json-logger), one
field per fact, ready for a log shipper; the default is plain text with the request id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar

from celery.signals import before_task_publish, task_postrun, task_prerun
from django.utils.functional import empty

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")
TASK: ContextVar[tuple[str, str]] = ContextVar("task", default=("", ""))
HEADER = "request_id"

request_logger = logging.getLogger("opcc_portal.requests")

# What a proxy's request id may look like: no spaces or control characters, bounded length.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{8,64}")


class ContextFilter(logging.Filter):
    """Adds `request_id`, `task` and `task_id` to every record (empty when there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(record, "request_id", "") or REQUEST_ID.get()
        record.task, record.task_id = TASK.get()
        return True


def _user_id(request) -> int | None:
    # Only a user the view already loaded: reading `request.user` here would cost a page that
    # never needed it two queries (the session and the user).
    user = getattr(request, "user", None)
    wrapped = getattr(user, "_wrapped", empty)
    return None if wrapped is empty or wrapped is None else getattr(wrapped, "pk", None)


def request_log(get_response):
    def middleware(request):
        offered = request.headers.get("X-Request-ID", "")
        request_id = offered if _WELL_FORMED.fullmatch(offered) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        try:
            response = get_response(request)
            response["X-Request-ID"] = request_id
            request_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "user_id": _user_id(request),
                },
            )
            return response
        finally:
            REQUEST_ID.reset(token)

    return middleware


@before_task_publish.connect
def _carry_request_id(headers=None, **kwargs) -> None:
    request_id = REQUEST_ID.get()
    if request_id and headers is not None:
        headers.setdefault(HEADER, request_id)


@task_prerun.connect
def _enter_task(task_id=None, task=None, **kwargs) -> None:
    REQUEST_ID.set(getattr(task.request, HEADER, None) or "")
    TASK.set((task.name, task_id or ""))


@task_postrun.connect
def _leave_task(**kwargs) -> None:
    REQUEST_ID.set("")
    TASK.set(("", ""))


# --- Error reports (Sentry, when SENTRY_DSN is set) ------------------------------------------

# Parts of a URL that are secrets in themselves: a signed link acts for its person.
# (the emailed clear-down link, a hold notice's link, a calendar feed's secret address).
_SIGNED_PATH = re.compile(r"/(link|notice|calendar)/(?!reset/)[^/?#]+")
# The request headers a report keeps: none of them names a person or carries a credential.
_SAFE_HEADERS = {"accept", "accept-language", "content-type", "content-length", "host", "user-agent", "x-request-id"}


def sentry_scrub(event: dict, hint: dict | None = None) -> dict:
    """Strip an error report of personal data before it leaves the portal.

    The SDK already sends no cookies, user details or request bodies (`send_default_pii` is
    off); this also drops the query string, every header but a few harmless ones, the token
    of a signed link in the URL, and any user field but the account's number. The request
    id goes with it, to find the same request in the logs.
    """
    request = event.get("request") or {}
    for key in ("cookies", "data", "query_string", "env"):
        request.pop(key, None)
    if "url" in request:
        request["url"] = _SIGNED_PATH.sub(r"/\1/[signed]", request["url"])
    headers = request.get("headers") or {}
    request["headers"] = {k: v for k, v in headers.items() if k.lower() in _SAFE_HEADERS}
    user = event.get("user")
    if user:
        event["user"] = {"id": user["id"]} if "id" in user else {}
    request_id = REQUEST_ID.get()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    return event
