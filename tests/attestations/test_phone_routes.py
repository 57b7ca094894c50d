"""Both phones' routes to Clear Chat wherever a member is told to clear (issue 15)."""

import pytest

from attestations import selectors
from attestations.notifications import emails

pytestmark = pytest.mark.django_db

IPHONE = "iPhone: "
ANDROID = "Android: "


@pytest.mark.parametrize("kind", ["prompt", "reminder"])
def test_the_prompt_and_the_reminder_give_the_iphone_and_the_android_route(obligation, member, kind):
    message = emails.member_email(kind=kind, obligation=obligation, to=member.email, now=obligation.cycle.period_end)
    html = message.alternatives[0][0]
    assert IPHONE in message.body and ANDROID in message.body
    assert "Clear Chat > Delete All Messages" in message.body and "More > Clear chat" in message.body
    assert "<strong>iPhone:</strong>" in html and "<strong>Android:</strong>" in html
    # Saving comes first.
    assert message.body.index("Save anything") < message.body.index(IPHONE)


@pytest.mark.parametrize("required, said", [(False, "no sign-in needed"), (True, "asks you to sign in first")])
def test_the_email_says_whether_the_link_asks_for_sign_in(obligation, member, settings, required, said):
    settings.ATTEST_LINK_SIGN_IN_REQUIRED = required
    message = emails.member_email(
        kind="prompt", obligation=obligation, to=member.email, now=obligation.cycle.period_end
    )
    assert said in message.body and said in message.alternatives[0][0]


def test_the_message_for_the_whatsapp_group_gives_both_routes(cycle):
    text = selectors.cycle_prompt_text(cycle=cycle)
    assert (
        "iPhone: tap the group name > Clear Chat" in text and "Android: tap ⋮ (top right) > More > Clear chat" in text
    )
