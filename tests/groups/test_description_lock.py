"""Once the DPO has approved a group, its name and purpose are the DPO's to change (R1, R2)."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from groups import services
from groups.models import ChatGroup
from tests.conftest import small_png

pytestmark = pytest.mark.django_db


def update(group, by, **changes):
    fields = {
        "name": group.name,
        "purpose": group.purpose,
        "cycle_weekday": group.cycle_weekday,
        "cycle_time": group.cycle_time,
        **changes,
    }
    return services.chatgroup_update(group=group, by=by, **fields)


@pytest.fixture
def deputy(group, member):
    ChatGroup.objects.filter(pk=group.pk).update(deputy=member)
    group.refresh_from_db()
    return member


@pytest.mark.parametrize("status", ["approved", "suspended"])
@pytest.mark.parametrize("who", ["admin_user", "deputy"])
@pytest.mark.parametrize("field", ["name", "purpose"])
def test_the_admin_and_deputy_cannot_change_an_approved_groups_name_or_purpose(request, group, status, who, field):
    ChatGroup.objects.filter(pk=group.pk).update(status=status)
    group.refresh_from_db()
    before = (group.name, group.purpose, group.history.count())
    with pytest.raises(ValidationError) as exc:
        update(group, request.getfixturevalue(who), **{field: "Five-a-side football"})
    assert exc.value.message_dict == {
        field: [f"Only the DPO can change the {field} of an approved group. Ask the DPO."]
    }
    group.refresh_from_db()
    assert (group.name, group.purpose, group.history.count()) == before


def test_the_admin_still_changes_the_day_time_and_logo_of_an_approved_group(group, admin_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    logo = SimpleUploadedFile("logo.png", small_png(), content_type="image/png")
    update(group, admin_user, cycle_weekday=0, logo=logo)
    group.refresh_from_db()
    assert group.cycle_weekday == 0 and group.logo and group.name == "Urgent Ops"


def test_the_admin_rewords_a_proposal_and_the_dpo_an_approved_group(proposal, admin_user, group, dpo):
    update(proposal, admin_user, name="Better Idea", purpose="Clearer purpose")
    update(group, dpo, name="Urgent Operations", purpose="Reworded by the DPO")
    proposal.refresh_from_db()
    group.refresh_from_db()
    assert (proposal.name, group.name, group.purpose) == ("Better Idea", "Urgent Operations", "Reworded by the DPO")


def test_the_admins_edit_form_shows_name_and_purpose_read_only_and_saves_the_rest(client, group, admin_user):
    client.force_login(admin_user)
    url = reverse("groups:edit", args=[group.pk])
    response = client.get(url)
    form = response.context["form"]
    assert form.fields["name"].disabled and form.fields["purpose"].disabled
    body = response.content.decode()
    assert "only the DPO can change them: ask the DPO" in body
    # A crafted POST with a new name and purpose changes neither (the fields are read-only).
    response = client.post(
        url, {"name": "Football", "purpose": "Five-a-side", "cycle_weekday": 2, "cycle_time": "08:15"}
    )
    assert response.status_code == 302
    group.refresh_from_db()
    assert (group.name, group.cycle_weekday) == ("Urgent Ops", 2)
    assert group.purpose == "Urgent short-term coordination of the team's work."


def test_the_dpos_edit_form_and_a_proposals_form_leave_them_editable(client, group, dpo, proposal, admin_user):
    client.force_login(dpo)
    response = client.get(reverse("groups:edit", args=[group.pk]))
    assert not response.context["form"].fields["name"].disabled
    assert "ask the DPO" not in response.content.decode()
    client.force_login(admin_user)
    response = client.get(reverse("groups:edit", args=[proposal.pk]))
    assert not response.context["form"].fields["purpose"].disabled
