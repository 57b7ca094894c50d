"""Every URL of the portal against every role, for GET and for POST.

The rows are checked against the URLconf: a new URL without a row here fails the test,
so nobody can add a page without deciding who may use it. Django's admin (guarded by its
own staff check) and the media files of development are left out.

Codes: 200 shown, 302 redirected (to the login page for anonymous visitors, elsewhere
after a successful action or to the next step), 403 refused, 404 hidden, 405 wrong
method, 409 not ready. POSTs carry no form data: a permitted POST then answers 200 with
the form's errors (or 302 where the action needs no data), so nothing changes.
"""

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from attestations import calendar, hold_notices
from attestations import services as clear_downs
from attestations.links import hold_notice_link_token, obligation_link_token
from attestations.models import ExportLog, Obligation
from groups import services as group_services
from groups.models import Membership, PendingMembership
from tests.factories import ChatGroupFactory, MembershipFactory, UserFactory, policy_version

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "member", "other_admin", "admin", "dpo", "auditor")
ANON, LOGIN = "anonymous", "login"  # "login": 302 to the login page

# name: (GET codes, POST codes), each in the order of ROLES.
MATRIX = {
    # Accounts: everyone may sign in and out and manage their own password, auditors too.
    "login":                   ((200, 302, 302, 302, 302, 302), (200, 302, 302, 302, 302, 302)),
    "logout":                  ((405, 405, 405, 405, 405, 405), (LOGIN, 302, 302, 302, 302, 302)),
    "password_change":         ((LOGIN, 200, 200, 200, 200, 200), (LOGIN, 200, 200, 200, 200, 200)),
    "password_change_done":    ((LOGIN, 200, 200, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    "password_reset":          ((200,) * 6, (200,) * 6),
    "password_reset_done":     ((200,) * 6, (405,) * 6),
    "password_reset_confirm":  ((200,) * 6, (200,) * 6),
    "password_reset_complete": ((200,) * 6, (405,) * 6),
    # Sign-in through the identity provider: for everyone, and nothing while it is not
    # configured (as here); tests/oidc/test_access.py has the same URLs with a provider.
    "oidc_authenticate":       ((404,) * 6, (405,) * 6),
    "oidc_callback":           ((404,) * 6, (405,) * 6),
    "healthz":                 ((200,) * 6, (405,) * 6),
    # Open to monitoring (no token set); 503 here because no worker or beat ran in this test.
    "healthz_status":          ((503,) * 6, (405,) * 6),
    # Off while METRICS_TOKEN is unset (as here); a session is never the token
    # (tests/test_metrics.py: no token, a wrong one, the right one).
    "metrics":                 ((404,) * 6, (405,) * 6),
    # The legal pages: for everyone, signed in or not (staff read them before signing in).
    "privacy":                 ((200,) * 6, (405,) * 6),
    "accessibility":           ((200,) * 6, (405,) * 6),
    "cookies":                 ((200,) * 6, (405,) * 6),
    # A member's own clear-downs, whatever their other roles (R12): an auditor's empty POST
    # gets the form's errors like anyone's (tests/test_role_combinations.py attests).
    "home":                    ((LOGIN, 200, 200, 200, 200, 200), (LOGIN, 200, 200, 200, 200, 200)),
    "attestations:howto":      ((LOGIN, 200, 200, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    # The link in the member's email authenticates its one clear-down: signed out, its page
    # opens (and an empty POST gets the form's errors); signed in as anyone but its owner,
    # a clear refusal. With ATTEST_LINK_SIGN_IN_REQUIRED, anonymous gets the login page
    # (tests/attestations/test_link_without_sign_in.py).
    "attestations:link":       ((200, 200, 403, 403, 403, 403), (200, 200, 403, 403, 403, 403)),
    # Each person's calendar address and its reset (everyone here has one already). The feed
    # opens for whoever holds its secret token, signed in or not (calendar apps cannot sign
    # in); any other token is 404 (tests/attestations/test_calendar.py).
    "attestations:calendar":   ((LOGIN, 200, 200, 200, 200, 200), (LOGIN, 302, 302, 302, 302, 302)),
    "attestations:calendar_reset": ((LOGIN, 200, 200, 200, 200, 200), (LOGIN, 302, 302, 302, 302, 302)),
    "attestations:calendar_feed": ((200,) * 6, (405,) * 6),
    # The admin's weekly work: prompt and excuse. The DPO may too.
    "attestations:prompt":     ((LOGIN, 405, 405, 405, 405, 405), (LOGIN, 403, 403, 302, 302, 403)),
    "attestations:excuse":     ((LOGIN, 403, 403, 200, 200, 403), (LOGIN, 403, 403, 200, 200, 403)),
    # Holds are the DPO's alone.
    "attestations:hold_place": ((LOGIN, 403, 403, 403, 200, 403), (LOGIN, 403, 403, 403, 200, 403)),
    "attestations:hold_lift":  ((LOGIN, 403, 403, 403, 200, 403), (LOGIN, 403, 403, 403, 200, 403)),
    # A hold's record: the DPO and auditors, and the held group's own admin and deputy.
    "attestations:hold_detail": ((LOGIN, 403, 403, 403, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    # A group's periodic review (R16): the admin or deputy answers it (not the DPO, who signs
    # it off); the DPO and auditors read it and the board; the interval is the DPO's.
    "attestations:review_answer": ((LOGIN, 403, 403, 200, 403, 403), (LOGIN, 403, 403, 200, 403, 403)),
    "attestations:review_decide": ((LOGIN, 404, 404, 200, 200, 200), (LOGIN, 404, 404, 403, 200, 403)),
    "attestations:reviews":    ((LOGIN, 403, 403, 403, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    "attestations:review_interval": ((LOGIN, 405, 405, 405, 405, 405), (LOGIN, 403, 403, 403, 302, 403)),
    # Disappearing messages (R17): the DPO approves the mode; the group's admin or deputy
    # confirms the timer is on each week, and off under a hold (here no role runs the held group).
    "attestations:clear_mode": ((LOGIN, 405, 405, 405, 405, 405), (LOGIN, 403, 403, 403, 302, 403)),
    "attestations:timer_confirm": ((LOGIN, 405, 405, 405, 405, 405), (LOGIN, 403, 403, 302, 403, 403)),
    "attestations:hold_timer_off": ((LOGIN, 405, 405, 405, 405, 405), (LOGIN, 403, 403, 403, 403, 403)),
    # Acknowledging a hold is the member's own (R12); the link only its owner's.
    "attestations:hold_ack":   ((LOGIN, 405, 405, 405, 405, 405), (LOGIN, 302, 403, 403, 403, 403)),
    "attestations:hold_ack_link": ((LOGIN, 200, 403, 403, 403, 403), (LOGIN, 302, 403, 403, 403, 403)),
    # Posting the hold message in the chat: the held group's admin or deputy, or the DPO.
    "attestations:hold_chat_posted": ((LOGIN, 405, 405, 405, 405, 405), (LOGIN, 403, 403, 403, 302, 403)),
    # The register: everyone reads approved groups; admins manage theirs; the DPO decides.
    "groups:register":         ((LOGIN, 200, 200, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    "groups:propose":          ((LOGIN, 200, 200, 200, 200, 403), (LOGIN, 200, 200, 200, 200, 403)),
    "groups:detail":           ((LOGIN, 200, 200, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    "groups:edit":             ((LOGIN, 403, 403, 200, 200, 403), (LOGIN, 403, 403, 200, 200, 403)),
    "groups:transition":       ((LOGIN, 403, 403, 403, 200, 403), (LOGIN, 403, 403, 403, 200, 403)),
    "groups:member_add":       ((LOGIN, 403, 403, 200, 200, 403), (LOGIN, 403, 403, 200, 200, 403)),
    # (The admin removes the member first; the DPO's POST then finds them gone and says so.)
    "groups:member_remove":    ((LOGIN, 403, 403, 200, 200, 403), (LOGIN, 403, 403, 302, 200, 403)),
    # (An empty POST clears the deputy, a valid change.)
    "groups:roles":            ((LOGIN, 403, 403, 200, 200, 403), (LOGIN, 403, 403, 302, 302, 403)),
    "groups:history":          ((LOGIN, 403, 403, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    # (No logo uploaded: the office logo, by redirect.)
    "groups:logo":             ((LOGIN, 302, 302, 302, 302, 302), (LOGIN, 405, 405, 405, 405, 405)),
    # Dashboards: the DPO and auditors see everything; an admin only their own groups.
    "dashboard:index":         ((LOGIN, 403, 200, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    "dashboard:trend_svg":     ((LOGIN, 403, 200, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    "dashboard:groups_csv":    ((LOGIN, 403, 200, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    "dashboard:group":         ((LOGIN, 403, 404, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    "dashboard:people":        ((LOGIN, 403, 200, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    # Policy acknowledgement (R15): the dashboard's scope; a group outside it is 404.
    "dashboard:policy":        ((LOGIN, 403, 200, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    "dashboard:policy_csv":    ((LOGIN, 403, 200, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    "dashboard:policy_group":  ((LOGIN, 403, 404, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    "dashboard:person":        ((LOGIN, 403, 404, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    "dashboard:obligations":   ((LOGIN, 403, 200, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    "dashboard:flags":         ((LOGIN, 403, 200, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    # The emails sent: the whole office's record, for the DPO and auditors only.
    "dashboard:emails":        ((LOGIN, 403, 403, 403, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    # Audit: the DPO and auditors read; nobody writes.
    "audit:history":           ((LOGIN, 403, 403, 403, 200, 200), (LOGIN, 403, 403, 403, 403, 403)),
    "audit:exports":           ((LOGIN, 403, 403, 403, 200, 200), (LOGIN, 403, 403, 403, 403, 403)),
    "audit:export":            ((LOGIN, 403, 403, 403, 200, 200), (LOGIN, 403, 403, 403, 403, 403)),
    "audit:export_log":        ((LOGIN, 403, 403, 403, 200, 200), (LOGIN, 403, 403, 403, 403, 403)),
    "audit:export_detail":     ((LOGIN, 403, 403, 403, 200, 404), (LOGIN, 403, 403, 403, 403, 403)),
    "audit:export_sha256":     ((LOGIN, 403, 403, 403, 200, 404), (LOGIN, 403, 403, 403, 403, 403)),
    "audit:foi_pack":          ((LOGIN, 403, 403, 403, 200, 200), (LOGIN, 403, 403, 403, 403, 403)),
    "audit:ledger":            ((LOGIN, 403, 403, 403, 200, 200), (LOGIN, 403, 403, 403, 403, 403)),
    # FOI "what may still exist": its printable record (here without a request: the form's
    # errors) and CSV (400 without one) for the DPO and auditors; the hold placed from it is
    # the DPO's alone (an empty POST: the form's errors).
    "audit:foi_exist_record":  ((LOGIN, 403, 403, 403, 200, 200), (LOGIN, 403, 403, 403, 403, 403)),
    "audit:foi_exist_csv":     ((LOGIN, 403, 403, 403, 400, 400), (LOGIN, 403, 403, 403, 403, 403)),
    "audit:foi_hold":          ((LOGIN, 405, 405, 405, 405, 405), (LOGIN, 403, 403, 403, 200, 403)),
    # Subject access (UK GDPR Art. 15): the DPO's alone; auditors export the record by kind.
    "audit:subject_access":    ((LOGIN, 403, 403, 403, 200, 403), (LOGIN, 403, 403, 403, 403, 403)),
    "audit:subject_access_file": ((LOGIN, 403, 403, 403, 200, 403), (LOGIN, 403, 403, 403, 403, 403)),
    # The retention schedule and what was disposed of (R18): read by the DPO and auditors.
    "audit:retention":         ((LOGIN, 403, 403, 403, 200, 200), (LOGIN, 403, 403, 403, 403, 403)),
    # Staff (R14): the DPO's alone; auditors read the record elsewhere and change nothing.
    "staff:list":              ((LOGIN, 403, 403, 403, 200, 403), (LOGIN, 403, 403, 403, 405, 403)),
    "staff:person":            ((LOGIN, 403, 403, 403, 200, 403), (LOGIN, 403, 403, 403, 405, 403)),
    "staff:deactivate":        ((LOGIN, 403, 403, 403, 200, 403), (LOGIN, 403, 403, 403, 200, 403)),
    "staff:reactivate":        ((LOGIN, 403, 403, 403, 200, 403), (LOGIN, 403, 403, 403, 200, 403)),
    "staff:roles":             ((LOGIN, 403, 403, 403, 200, 403), (LOGIN, 403, 403, 403, 200, 403)),
    "staff:import":            ((LOGIN, 403, 403, 403, 200, 403), (LOGIN, 403, 403, 403, 200, 403)),
    # The policy (R15): all staff read the published versions (and their PDF) and acknowledge
    # the current one; the DPO drafts, changes, publishes and deletes drafts (auditors read
    # drafts in the list and on their pages, tests/policy/test_views.py). A pending add is
    # withdrawn by the group's admin, deputy or the DPO.
    "policy:versions":         ((LOGIN, 200, 200, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    "policy:detail":           ((LOGIN, 200, 200, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    "policy:pdf":              ((LOGIN, 200, 200, 200, 200, 200), (LOGIN, 405, 405, 405, 405, 405)),
    "policy:new":              ((LOGIN, 403, 403, 403, 200, 403), (LOGIN, 403, 403, 403, 200, 403)),
    "policy:edit":             ((LOGIN, 403, 403, 403, 200, 403), (LOGIN, 403, 403, 403, 200, 403)),
    "policy:publish":          ((LOGIN, 405, 405, 405, 405, 405), (LOGIN, 403, 403, 403, 302, 403)),
    "policy:delete":           ((LOGIN, 405, 405, 405, 405, 405), (LOGIN, 403, 403, 403, 302, 403)),
    "policy:acknowledge":      ((LOGIN, 405, 405, 405, 405, 405), (LOGIN, 302, 302, 302, 302, 302)),
    "policy:pending_withdraw": ((LOGIN, 405, 405, 405, 405, 405), (LOGIN, 403, 403, 302, 302, 403)),
    # SCIM answers only the directory's bearer token: a signed-in session, even the DPO's,
    # gets 401 and nothing else (tests/staff/test_scim.py: no token, a wrong one, none set).
    "scim:service_provider_config": ((401,) * 6, (401,) * 6),
    "scim:users":              ((401,) * 6, (401,) * 6),
    "scim:user":               ((401,) * 6, (401,) * 6),
}  # fmt: skip

EXCLUDED_NAMESPACES = {"admin"}


def url_names(resolver=None, namespace=""):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in EXCLUDED_NAMESPACES:
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from url_names(pattern, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield namespace + pattern.name


def test_every_url_has_a_row_and_every_row_a_url():
    names = set(url_names())
    assert names - set(MATRIX) == set(), "URLs without a row in the access matrix"
    assert set(MATRIX) - names == set(), "rows for URLs that no longer exist"


@pytest.fixture
def world(admin_user, member, dpo, auditor, group, settings, outsider):
    """One approved group with a closed cycle, another group with its own admin, a hold, an
    export, and SCIM turned on."""
    settings.SCIM_TOKEN = "t" * 40
    other_admin = UserFactory(username="otheradmin")
    other = ChatGroupFactory(name="Other Group", admin=other_admin)
    held = ChatGroupFactory(name="Held Group", admin=UserFactory(username="heldadmin"))
    MembershipFactory(group=held, user=member)
    clear_downs.cycle_close_due(now=timezone.now())
    hold = hold_notices.hold_place(group=held, by=dpo, reference="FOI-1", reason="Request received", queue=False)
    obligation = Obligation.objects.get(cycle__group=group, user=member)
    review = group_services.review_schedule(group=group, after=timezone.now(), by=dpo)
    export = ExportLog.objects.create(
        user=dpo,
        kind="register",
        format="csv",
        started_at=timezone.now(),
        finished_at=timezone.now(),
        rows=1,
        size=10,
        sha256="0" * 64,
    )
    current = policy_version(number="1.0", by=dpo, pdf=ContentFile(b"%PDF-1.4 1 0 obj %%EOF", name="p.pdf"))
    draft = policy_version(number="2.0", by=dpo, published=False)
    pending = PendingMembership.objects.create(group=group, user=outsider, added_by=admin_user, added_at=timezone.now())
    feeds = {person: calendar.calendar_feed_create(user=person) for person in (member, other_admin, admin_user, dpo)}
    calendar.calendar_feed_create(user=auditor)
    kwargs = {
        "attestations:calendar_feed": {"token": feeds[member].token},
        "password_reset_confirm": {"uidb64": "MQ", "token": "set-password"},
        "attestations:link": {"token": obligation_link_token(obligation)},
        "attestations:prompt": {"pk": obligation.cycle_id},
        "attestations:excuse": {"pk": obligation.pk},
        "attestations:hold_place": {"pk": group.pk},
        "attestations:hold_lift": {"pk": hold.pk},
        "attestations:hold_detail": {"pk": hold.pk},
        "attestations:hold_ack": {"pk": hold.pk},
        "attestations:hold_ack_link": {"token": hold_notice_link_token(hold.notices.get(user=member))},
        "attestations:hold_chat_posted": {"pk": hold.pk},
        "attestations:review_answer": {"pk": group.pk},
        "attestations:review_decide": {"pk": review.pk},
        "attestations:review_interval": {"pk": group.pk},
        "attestations:clear_mode": {"pk": group.pk},
        "attestations:timer_confirm": {"pk": group.pk},
        "attestations:hold_timer_off": {"pk": hold.pk},
        "groups:detail": {"pk": group.pk},
        "groups:edit": {"pk": group.pk},
        "groups:transition": {"pk": group.pk, "action": "suspend"},
        "groups:member_add": {"pk": group.pk},
        "groups:member_remove": {"pk": group.pk, "membership_pk": Membership.objects.get(group=group, user=member).pk},
        "groups:roles": {"pk": group.pk},
        "groups:history": {"pk": group.pk},
        "groups:logo": {"pk": group.pk},
        "dashboard:group": {"pk": group.pk},
        "dashboard:person": {"pk": member.pk},
        "dashboard:policy_group": {"pk": group.pk},
        "audit:export": {"kind": "register", "fmt": "csv"},
        "audit:export_detail": {"pk": export.pk},
        "audit:export_sha256": {"pk": export.pk},
        "audit:subject_access_file": {"pk": member.pk},
        "staff:person": {"pk": member.pk},
        "staff:deactivate": {"pk": member.pk},
        "staff:reactivate": {"pk": member.pk},
        "scim:user": {"pk": member.pk},
        "policy:detail": {"pk": current.pk},
        "policy:pdf": {"pk": current.pk},
        "policy:acknowledge": {"pk": current.pk},
        "policy:edit": {"pk": draft.pk},
        "policy:publish": {"pk": draft.pk},
        "policy:delete": {"pk": draft.pk},
        "policy:pending_withdraw": {"pk": pending.pk},
    }
    people = {"member": member, "other_admin": other_admin, "admin": admin_user, "dpo": dpo, "auditor": auditor}
    assert other.admin == other_admin
    return kwargs, people


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_each_role_gets_what_the_matrix_says(client, world, name, method, time_machine):
    time_machine.move_to(timezone.now() + dt.timedelta(minutes=1), tick=True)
    kwargs, people = world
    url = reverse(name, kwargs=kwargs.get(name, {}))
    expected_row = MATRIX[name][0 if method == "GET" else 1]
    got = []
    for role in ROLES:
        client.logout()
        if role != ANON:
            client.force_login(people[role])
        response = client.get(url) if method == "GET" else client.post(url)
        code = response.status_code
        if code == 302 and response["Location"].startswith(reverse("login")) and role == ANON:
            code = LOGIN
        got.append(code)
    assert tuple(got) == expected_row, f"{method} {url}: got {got}, expected {list(expected_row)}"


# A proposal, before the DPO has approved it: its admin, its members, the DPO and auditors
# see it; anyone else gets 404 on each of its pages, as if it did not exist (a 403 would say
# it does). Decisions are refused to everyone but the DPO before the group is looked up.
PROPOSAL_ROLES = ("anonymous", "outsider", "proposal_member", "admin", "dpo", "auditor")
PROPOSAL_MATRIX = {
    "groups:detail":        (LOGIN, 404, 200, 200, 200, 200),
    "groups:history":       (LOGIN, 404, 403, 200, 200, 200),
    "groups:logo":          (LOGIN, 404, 302, 302, 302, 302),
    "groups:edit":          (LOGIN, 404, 403, 200, 200, 403),
    "groups:member_add":    (LOGIN, 404, 403, 200, 200, 403),
    "groups:member_remove": (LOGIN, 404, 403, 200, 200, 403),
    "groups:roles":         (LOGIN, 404, 403, 200, 200, 403),
    "groups:transition":    (LOGIN, 403, 403, 403, 200, 403),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(PROPOSAL_MATRIX))
def test_each_role_gets_what_the_matrix_says_of_a_proposal(
    client, proposal, member, outsider, admin_user, dpo, auditor, name
):
    membership = MembershipFactory(group=proposal, user=member)
    kwargs = {"pk": proposal.pk}
    if name == "groups:member_remove":
        kwargs["membership_pk"] = membership.pk
    if name == "groups:transition":
        kwargs["action"] = "approve"
    url = reverse(name, kwargs=kwargs)
    people = {"outsider": outsider, "proposal_member": member, "admin": admin_user, "dpo": dpo, "auditor": auditor}
    got = []
    for role in PROPOSAL_ROLES:
        client.logout()
        if role != ANON:
            client.force_login(people[role])
        response = client.get(url)
        code = response.status_code
        if code == 302 and response["Location"].startswith(reverse("login")) and role == ANON:
            code = LOGIN
        got.append(code)
    assert tuple(got) == PROPOSAL_MATRIX[name], f"GET {url}: got {got}, expected {list(PROPOSAL_MATRIX[name])}"
