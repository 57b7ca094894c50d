"""Text that shows nothing is no name, no purpose and no reason (R1, R2, R11)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from groups import services
from groups.models import ChatGroup
from groups.validators import clean_text

pytestmark = pytest.mark.django_db

# Zero-width space, zero-width joiner, word joiner, byte-order mark, left-to-right mark,
# no-break space, ideographic space, Hangul filler, blank Braille pattern.
INVISIBLE = ["\u200b", "\u200b\u200b", "\u200d", "\u2060", "\ufeff", "\u200e", "\u00a0", "\u3000", "\u3164", "\u2800"]


@pytest.mark.parametrize("blank", INVISIBLE)
def test_invisible_characters_alone_are_empty(blank):
    assert clean_text(blank) == "" and clean_text(f" {blank}\n{blank} ") == ""


def test_they_are_stripped_at_the_ends_and_kept_inside():
    assert clean_text("\u200b Urgent Ops \ufeff") == "Urgent Ops"
    assert clean_text("\u200bUrgent \u00a0  Ops\u200b", one_line=True) == "Urgent Ops"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # an emoji held together by joiners
    assert clean_text(f"{family} Ops") == f"{family} Ops"


@pytest.mark.parametrize(("name", "purpose"), [("\u200b", "Rota changes"), ("Ops", "\u200b\u200b"), ("\u3164", "x")])
def test_a_proposal_needs_a_visible_name_and_purpose(member, name, purpose):
    with pytest.raises(ValidationError) as exc:
        services.chatgroup_propose(name=name, purpose=purpose, by=member)
    assert set(exc.value.message_dict) == {"name" if name != "Ops" else "purpose"}
    assert not ChatGroup.objects.exists()


def test_an_edit_needs_a_visible_name_and_purpose(proposal, admin_user):
    for field in ("name", "purpose"):
        data = {"name": "New Idea", "purpose": "Still a purpose", field: "\u200b\ufeff"}
        with pytest.raises(ValidationError) as exc:
            services.chatgroup_update(
                group=proposal, by=admin_user, cycle_weekday=4, cycle_time=proposal.cycle_time, **data
            )
        assert list(exc.value.message_dict) == [field]


def test_names_are_stored_without_invisible_ends(member):
    group = services.chatgroup_propose(name="\u200bUrgent Ops\u200b", purpose="\ufeffRota changes\u200e", by=member)
    assert (group.name, group.purpose) == ("Urgent Ops", "Rota changes")


def test_a_decision_needs_a_visible_reason(dpo, proposal):
    with pytest.raises(ValidationError, match="Give a reason"):
        services.chatgroup_transition(group=proposal, action="approve", by=dpo, reason="\u200b\u2060 \u200b")
    proposal.refresh_from_db()
    assert proposal.status == "proposed"


def test_the_forms_say_so_beside_the_field(client, member, dpo, proposal):
    client.force_login(member)
    response = client.post(
        reverse("groups:propose"),
        {"name": "\u200b", "purpose": "\u200b\u200b", "cycle_weekday": 4, "cycle_time": "17:00"},
    )
    errors = response.context["form"].errors
    assert "Give the group a name." in errors["name"]
    assert "Say what business purpose the group serves." in errors["purpose"]
    client.force_login(dpo)
    response = client.post(reverse("groups:transition", args=[proposal.pk, "approve"]), {"reason": "\u200b"})
    assert "Give a reason" in str(response.context["form"].errors["reason"])
    assert not ChatGroup.objects.filter(name="\u200b").exists()
