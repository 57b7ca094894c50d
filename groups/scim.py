"""SCIM 2.0 provisioning of staff accounts (RFC 7643, 7644), for Entra ID and Okta (R14).

The directory creates, reads, updates and closes accounts at `<SITE_URL>/scim/v2/Users`;
closing (`active: false`, or DELETE) goes through `staff.user_deactivate` like every other
way an account closes, so a leaver's memberships, clear-downs and flags follow at once.
Accounts are never deleted: DELETE closes the account and keeps its records.

Authentication is one bearer token from the settings (`SCIM_TOKEN`), compared in constant
time; without one the endpoint does not exist (404). A request without the right token
gets 401 and learns nothing else. Roles are not provisioned: the DPO gives them in the
portal (`/staff/roles/`). IT's superusers are outside SCIM's reach.

Written as a few small views rather than with django-scim2: that package expects its own
adapters around the user model and its own filter parser, while the portal needs only
Users, the `eq` filters the directories send, and every write through its own services.
"""

from __future__ import annotations

import json
import re
from functools import wraps

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from . import staff
from .models import StaffProfile

User = get_user_model()

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CONFIG_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
CONTENT_TYPE = "application/scim+json"
MAX_PAGE = 200
MAX_BODY = 64 * 1024

SOURCE = "the directory (SCIM)"


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str = ""):
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def _json(body: dict, status: int = 200, **headers) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type=CONTENT_TYPE)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _error(status: int, detail: str, scim_type: str = "") -> HttpResponse:
    body = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    headers = {"WWW_Authenticate": 'Bearer realm="scim"'} if status == 401 else {}
    return _json(body, status, **headers)


def scim_view(methods: tuple[str, ...]):
    """The token check, the allowed methods and the SCIM error format, for each view."""

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            token = settings.SCIM_TOKEN
            if not token:
                raise Http404("SCIM provisioning is not configured.")
            if not constant_time_compare(request.headers.get("Authorization", ""), f"Bearer {token}"):
                return _error(401, "Authentication required: send the SCIM bearer token.")
            if request.method not in methods:
                response = _error(405, f"{request.method} is not supported here.")
                response["Allow"] = ", ".join(methods)
                return response
            try:
                with transaction.atomic():
                    return view(request, *args, **kwargs)
            except ScimError as exc:
                return _error(exc.status, exc.detail, exc.scim_type)

        return wrapper

    return decorate


# --- Representation -------------------------------------------------------------------------


def _location(user) -> str:
    return f"{settings.SITE_URL}{reverse('scim:user', args=[user.pk])}"


def _profile(user) -> StaffProfile | None:
    try:
        return user.staff_profile
    except StaffProfile.DoesNotExist:
        return None


def user_resource(user) -> dict:
    profile = _profile(user)
    resource = {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "id": str(user.pk),
        "userName": user.get_username(),
        "name": {
            "givenName": user.first_name,
            "familyName": user.last_name,
            "formatted": user.get_full_name(),
        },
        "displayName": user.get_full_name() or user.get_username(),
        "emails": [{"value": user.email, "type": "work", "primary": True}] if user.email else [],
        "active": user.is_active,
        ENTERPRISE_SCHEMA: {"employeeNumber": profile.staff_number} if profile and profile.staff_number else {},
        "meta": {
            "resourceType": "User",
            "created": user.date_joined.isoformat(),
            "lastModified": user.date_joined.isoformat(),
            "location": _location(user),
        },
    }
    if profile and profile.external_id:
        resource["externalId"] = profile.external_id
    return resource


def _people():
    return User.objects.filter(is_superuser=False).select_related("staff_profile")


def _get(pk: str):
    user = _people().filter(pk=int(pk)).first() if pk.isdigit() else None
    if user is None:
        raise ScimError(404, f"No user with id {pk}.")
    return user


# --- Reading a request -------------------------------------------------------------------------


def _body(request) -> dict:
    if len(request.body) > MAX_BODY:
        raise ScimError(413, "The request is too large.")
    try:
        body = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ScimError(400, "The body is not JSON.", "invalidSyntax") from None
    if not isinstance(body, dict):
        raise ScimError(400, "The body must be a JSON object.", "invalidSyntax")
    return body


def _bool(value) -> bool:
    # Entra ID sends "True" and "False" as strings in PATCH requests.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ScimError(400, f"active must be true or false, not {value!r}.", "invalidValue")


def _text(value, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ScimError(400, f"{name} must be a string.", "invalidValue")
    return value


def _state(user) -> dict:
    """A user's writable attributes, flattened: what PUT replaces and PATCH edits."""
    profile = _profile(user) if user else None
    return {
        "userName": user.get_username() if user else "",
        "givenName": user.first_name if user else "",
        "familyName": user.last_name if user else "",
        "email": user.email if user else "",
        "externalId": (profile.external_id or "") if profile else "",
        "employeeNumber": (profile.staff_number or "") if profile else "",
        "active": user.is_active if user else True,
    }


def _from_resource(state: dict, resource: dict) -> dict:
    """Set `state` from a whole SCIM User resource (POST, PUT, or PATCH without a path)."""
    for key, value in resource.items():
        _set(state, key, value)
    return state


def _primary_email(emails) -> str:
    if not isinstance(emails, list):
        raise ScimError(400, "emails must be a list.", "invalidValue")
    chosen = [e for e in emails if isinstance(e, dict) and e.get("primary")] or [
        e for e in emails if isinstance(e, dict)
    ]
    return _text(chosen[0].get("value"), "emails.value") if chosen else ""


# The attributes kept as plain text: SCIM path (lower case) -> key of the state.
_TEXT_ATTRIBUTES = {
    "username": "userName",
    "externalid": "externalId",
    "name.givenname": "givenName",
    "name.familyname": "familyName",
}


def _set(state: dict, path: str, value) -> None:
    """One attribute by its SCIM path. Attributes the portal does not keep are ignored."""
    key = path.strip()
    lower = key.lower()
    if lower.startswith(ENTERPRISE_SCHEMA.lower()):
        rest = key[len(ENTERPRISE_SCHEMA) :].lstrip(":")
        if not rest and isinstance(value, dict):
            for sub, sub_value in value.items():
                _set(state, f"{ENTERPRISE_SCHEMA}:{sub}", sub_value)
        elif rest.lower() == "employeenumber":
            state["employeeNumber"] = _text(value, "employeeNumber")
        return
    if lower.startswith(USER_SCHEMA.lower() + ":"):
        key = key[len(USER_SCHEMA) + 1 :]
        lower = key.lower()
    if lower in _TEXT_ATTRIBUTES:
        state[_TEXT_ATTRIBUTES[lower]] = _text(value, key)
    elif lower == "active":
        state["active"] = _bool(value)
    elif lower == "name":
        if not isinstance(value, dict):
            raise ScimError(400, "name must be an object.", "invalidValue")
        for sub in ("givenName", "familyName"):
            if sub in value:
                _set(state, f"name.{sub}", value[sub])
    elif lower == "emails":
        state["email"] = _primary_email(value)
    elif lower.startswith("emails[") and lower.endswith("].value"):
        state["email"] = _text(value, "emails.value")
    # displayName, schemas, id, meta and anything else: not kept, ignored.


def _save(user, state: dict):
    """Create or update the account from `state`, then open or close it; one transaction
    (the view's). Nothing is written when nothing changed."""
    email = state["email"] or (state["userName"] if "@" in state["userName"] else "")
    if not state["userName"]:
        raise ScimError(400, "userName is required.", "invalidValue")
    if not email:
        raise ScimError(400, "An email address is required (emails, or a userName that is one).", "invalidValue")
    details = staff.StaffDetails(
        username=state["userName"],
        email=email,
        first_name=state["givenName"],
        last_name=state["familyName"],
        staff_number=state["employeeNumber"] or None,
        external_id=state["externalId"] or None,
    )
    try:
        wanted = {**state, "email": email.lower(), "active": None}
        if user is None or {**_state(user), "active": None} != wanted:
            user = staff.staff_save(details=details, user=user, by=None, reason=f"Updated by {SOURCE}")
        if not state["active"] and user.is_active:
            staff.user_deactivate(user=user, by=None, reason=f"Closed by {SOURCE}")
        elif state["active"] and not user.is_active:
            staff.user_reactivate(user=user, by=None, reason=f"Opened again by {SOURCE}")
    except ValidationError as exc:
        fields = getattr(exc, "error_dict", {})
        clash = any(name in fields for name in ("username", "staff_number", "external_id")) and any(
            "already" in m for m in exc.messages
        )
        raise ScimError(
            409 if clash else 400, " ".join(exc.messages), "uniqueness" if clash else "invalidValue"
        ) from None
    return User.objects.select_related("staff_profile").get(pk=user.pk)


# --- Filters -----------------------------------------------------------------------------

_FILTER = re.compile(r'^\s*([\w.:\[\]"= -]+?)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
_FILTERABLE = {
    "username": lambda v: Q(username__iexact=v),
    "externalid": lambda v: Q(staff_profile__external_id=v),
    "emails.value": lambda v: Q(email__iexact=v),
    'emails[type eq "work"].value': lambda v: Q(email__iexact=v),
    "id": lambda v: Q(pk=int(v)) if v.isdigit() else Q(pk__in=[]),
    f"{ENTERPRISE_SCHEMA}:employeenumber".lower(): lambda v: Q(staff_profile__staff_number=v),
}


def _filter(text: str) -> Q:
    match = _FILTER.match(text)
    attribute = match.group(1).strip().lower() if match else ""
    if attribute.startswith(USER_SCHEMA.lower() + ":"):
        attribute = attribute[len(USER_SCHEMA) + 1 :]
    if not match or attribute not in _FILTERABLE:
        raise ScimError(
            400,
            'Only filters of the form  attribute eq "value"  on userName, externalId, emails.value, id or '
            "employeeNumber are supported.",
            "invalidFilter",
        )
    value = json.loads(f'"{match.group(2)}"')
    return _FILTERABLE[attribute](value)


def _positive(request, name: str, default: int) -> int:
    raw = request.GET.get(name, "")
    if not raw:
        return default
    try:
        return max(int(raw), 0 if name == "count" else 1)
    except ValueError:
        raise ScimError(400, f"{name} must be a whole number.", "invalidValue") from None


# --- Views -------------------------------------------------------------------------------


@scim_view(("GET",))
def service_provider_config(request):
    return _json(
        {
            "schemas": [CONFIG_SCHEMA],
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": MAX_PAGE},
            "changePassword": {"supported": False},
            "sort": {"supported": False},
            "etag": {"supported": False},
            "authenticationSchemes": [
                {
                    "type": "oauthbearertoken",
                    "name": "Bearer token",
                    "description": "The token set in the portal's SCIM_TOKEN setting.",
                    "primary": True,
                }
            ],
            # From SITE_URL, never from the request's Host header.
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": f"{settings.SITE_URL}{reverse('scim:service_provider_config')}",
            },
        }
    )


@scim_view(("GET", "POST"))
def users(request):
    if request.method == "POST":
        state = _from_resource(_state(None), _body(request))
        user = _save(None, state)
        return _json(user_resource(user), 201, Location=_location(user))
    people = _people()
    if request.GET.get("filter"):
        people = people.filter(_filter(request.GET["filter"]))
    start = _positive(request, "startIndex", 1)
    count = min(_positive(request, "count", 100), MAX_PAGE)
    total = people.count()
    page = list(people.order_by("pk")[start - 1 : start - 1 + count]) if count else []
    return _json(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(page),
            "Resources": [user_resource(u) for u in page],
        }
    )


@scim_view(("GET", "PUT", "PATCH", "DELETE"))
def user(request, pk: str):
    person = _get(pk)
    if request.method == "GET":
        return _json(user_resource(person))
    if request.method == "DELETE":
        if person.is_active:
            try:
                staff.user_deactivate(user=person, by=None, reason=f"Deleted in {SOURCE}: account closed")
            except ValidationError as exc:
                raise ScimError(400, " ".join(exc.messages), "invalidValue") from None
        return HttpResponse(status=204)
    body = _body(request)
    if request.method == "PUT":
        state = _from_resource({**_state(None), "active": person.is_active}, body)
        return _json(user_resource(_save(person, state)))
    return _json(user_resource(_save(person, _patched(_state(person), body))))


def _patched(state: dict, body: dict) -> dict:
    operations = body.get("Operations")
    if PATCH_SCHEMA not in body.get("schemas", []) or not isinstance(operations, list):
        raise ScimError(400, "A PATCH needs the PatchOp schema and a list of Operations.", "invalidSyntax")
    for operation in operations:
        if not isinstance(operation, dict):
            raise ScimError(400, "Each operation must be an object.", "invalidSyntax")
        op = str(operation.get("op", "")).lower()
        path, value = operation.get("path"), operation.get("value")
        if op in ("add", "replace"):
            if path:
                _set(state, str(path), value)
            elif isinstance(value, dict):
                _from_resource(state, value)
            else:
                raise ScimError(400, "An operation without a path needs an object value.", "invalidValue")
        elif op == "remove":
            if not path:
                raise ScimError(400, "A remove operation needs a path.", "noTarget")
            if str(path).lower() in ("username", "active"):
                raise ScimError(400, f"{path} cannot be removed.", "mutability")
            _set(state, str(path), "")
        else:
            raise ScimError(400, f"Unknown operation {op!r}: use add, replace or remove.", "invalidSyntax")
    return state
