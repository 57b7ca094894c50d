"""The forms of a group's periodic review (R16): the admin's answers, the DPO's decision;
and the DPO's choice of disappearing messages for a group (R17)."""

from __future__ import annotations

from django import forms

from groups.models import ChatGroup, Membership
from opcc_portal.lib.text import display_name

from .forms import ReasonForm

KEEP_CHOICES = [("keep", "Keep"), ("remove", "Remove")]


class ReviewAnswerForm(forms.Form):
    """One page, one submit: the purpose, each current member kept or removed, and the
    confirmations. A field per member (`member_<membership id>`), each a pair of radios."""

    purpose = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Business purpose",
        help_text="Reword it if the purpose has changed: the DPO sees the change and it applies once signed off.",
    )
    purpose_confirmed = forms.BooleanField(
        required=False, label="The group's business purpose, as written above, still stands."
    )
    official_only = forms.BooleanField(
        required=False,
        label="The group is used for OFFICIAL information only: nothing marked SECRET or above is shared in it.",
    )
    settings_confirmed = forms.BooleanField(
        required=False,
        label=(
            "The group's WhatsApp settings are as agreed: only admins can add members and change the group's settings."
        ),
    )

    def __init__(self, *args, group: ChatGroup, members: list[Membership], **kwargs):
        super().__init__(*args, **kwargs)
        self.members = members
        self.fields["purpose"].initial = group.purpose
        if group.uses_timer:
            self.fields["settings_confirmed"].label = (
                "The group's WhatsApp settings are as agreed: disappearing messages are on at 7 days, and only "
                "admins can add members and change the group's settings."
            )
        for membership in members:
            name = display_name(membership.user)
            is_admin = membership.user_id == group.admin_id
            self.fields[f"member_{membership.pk}"] = forms.ChoiceField(
                choices=KEEP_CHOICES,
                initial="keep",
                widget=forms.RadioSelect,
                label=f"{name} (admin)" if is_admin else name,
                help_text="The admin stays in the group." if is_admin else "",
            )

    def member_fields(self):
        return [(m, self[f"member_{m.pk}"]) for m in self.members]

    def keep(self) -> dict[int, bool]:
        return {m.pk: self.cleaned_data[f"member_{m.pk}"] == "keep" for m in self.members}


class ReviewIntervalForm(forms.Form):
    months = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=24,
        label="Review this group every (months)",
        help_text="Leave empty for the office's default.",
    )


class ReviewSendBackForm(ReasonForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = "Why are you sending it back?"
        self.fields["reason"].help_text = "Emailed to the group's admin and deputy, and kept in the history."


class ClearModeForm(forms.Form):
    """The DPO's choice for one group: manual clear-downs or WhatsApp's 7-day timer (R17)."""

    mode = forms.ChoiceField(choices=ChatGroup.ClearMode.choices, label="How the chat is cleared")
    timer_check = forms.ChoiceField(
        choices=ChatGroup.TimerCheck.choices,
        label="The admin confirms the timer is on and locked",
        help_text="Only for disappearing messages.",
    )
