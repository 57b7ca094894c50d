"""Forms of the clear-downs. They validate input; the rules themselves live in services."""

from __future__ import annotations

import re

from django import forms
from django.utils import timezone

from groups.validators import clean_text

from . import periods
from .models import Obligation


def confirmation_text(obligation: Obligation) -> str:
    """The sentence a member confirms, naming the group and the dates (R6)."""
    cycle = obligation.cycle
    dates = periods.period_label(cycle.period_start, cycle.period_end)
    return f"I have cleared all messages in {cycle.group.name} for {dates}"


def declaration_text(obligations) -> str:
    """What pressing a confirm button declares (R6): saving comes first, so it is said first.

    A group cleared by WhatsApp's 7-day timer (R17) has its own, shorter declaration: only
    what the timer does not remove, starred messages and media saved to the phone."""
    timer = [o for o in obligations if o.cycle.group.uses_timer]
    manual = len(obligations) - len(timer)
    parts = []
    if manual == 1:
        parts.append(
            "I saved any business information from this chat to a corporate system, then cleared all its messages."
        )
    elif manual:
        parts.append(
            "I saved any business information from these chats to a corporate system, then cleared all their messages."
        )
    if timer:
        names = ", ".join(sorted({o.cycle.group.name for o in timer}))
        prefix = f"For {names} (disappearing messages): " if manual else ""
        parts.append(
            f"{prefix}I saved any business information to a corporate system, and deleted any starred messages and "
            "any photos, videos or files from the chat saved on my phone; the 7-day timer removed the rest."
        )
    return " ".join(parts)


class _DateClearedMixin(forms.Form):
    cleared_on = forms.DateField(
        label="Date you cleared the chat",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Today, unless you cleared it earlier (not before the period ended).",
        error_messages={"required": "Give the date you cleared the chat.", "invalid": "Give a real date."},
    )
    where_saved = forms.CharField(
        label="Where you saved it (optional)",
        max_length=Obligation._meta.get_field("where_saved").max_length,
        required=False,
        help_text="A case number or a system's name, if you saved anything. Kept as evidence.",
        error_messages={"max_length": "Keep where you saved it to %(limit_value)d characters."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["cleared_on"].initial = today
        self.fields["cleared_on"].widget.attrs["max"] = today.isoformat()
        self.fields["where_saved"].widget.attrs["autocomplete"] = "off"

    def clean_where_saved(self) -> str:
        return clean_text(self.cleaned_data["where_saved"], one_line=True)

    def offer_dates_for(self, obligations) -> None:
        """A phone's date picker offers only days valid for every clear-down shown: from the
        latest day a period of theirs ended (UK) to today. The service still checks each."""
        days = [o.cycle.period_end.astimezone(periods.LONDON).date() for o in obligations]
        if days:
            self.fields["cleared_on"].widget.attrs["min"] = max(days).isoformat()


# The largest primary key the databases hold (a signed 64-bit integer).
MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]+")


def is_id(value) -> bool:
    """A whole number from 1 to MAX_ID, written in ASCII digits (no sign, space or point)."""
    text = str(value)
    return _DIGITS.fullmatch(text) is not None and 1 <= int(text) <= MAX_ID


class ObligationChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Obligation) -> str:
        return confirmation_text(obj)

    def _check_values(self, value):
        # Checked before any query: SQLite cannot even bind an integer past 64 bits
        # (OverflowError, a server error), and no obligation has such an id anyway.
        for pk in value:
            if not is_id(pk):
                raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super()._check_values(value)


class AttestForm(_DateClearedMixin):
    """Home: one button confirms every clear-down listed, another button beside each
    confirms only that one. Pressing either is the declaration written above them (R6)."""

    # The clear-downs the page listed, so that one which appeared after it was shown is
    # never confirmed unseen.
    obligations = ObligationChoiceField(
        queryset=Obligation.objects.none(),
        widget=forms.MultipleHiddenInput,
        required=False,
        error_messages={
            # The choices are all of the person's own clear-downs, so one outside them is
            # someone else's (or none at all); whose it is is not said.
            "invalid_choice": "One of these clear-downs is not yours, so nothing was recorded.",
        },
    )
    only = forms.ModelChoiceField(
        queryset=Obligation.objects.none(),
        widget=forms.HiddenInput,
        required=False,
        error_messages={"invalid_choice": "That clear-down is not yours, so nothing was recorded."},
    )

    field_order = ["obligations", "only", "cleared_on", "where_saved"]

    def __init__(self, *args, obligations=None, **kwargs):
        super().__init__(*args, **kwargs)
        if obligations is not None:
            self.fields["obligations"].queryset = obligations
            self.fields["only"].queryset = obligations

    def clean_only(self):
        # Checked before any query, like the list (see ObligationChoiceField).
        value = self.data.get("only") or ""
        if value and not is_id(value):
            raise forms.ValidationError(self.fields["only"].error_messages["invalid_choice"])
        return self.cleaned_data.get("only")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("only"):
            cleaned["obligations"] = [cleaned["only"]]
        elif not cleaned.get("obligations") and "obligations" not in self.errors:
            raise forms.ValidationError("There was nothing to confirm. Reload the page and try again.")
        return cleaned

    def chosen(self) -> list[Obligation]:
        return list(self.cleaned_data["obligations"])


class LinkAttestForm(_DateClearedMixin):
    """The confirm page of an emailed link: one group, one period, one button."""

    def __init__(self, *args, obligation: Obligation, **kwargs):
        super().__init__(*args, **kwargs)
        self.offer_dates_for([obligation])


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept in the history and shown to the DPO and auditors.",
    )

    def clean_reason(self):
        reason = clean_text(self.cleaned_data["reason"])
        if not reason:
            raise forms.ValidationError("Give a reason: it is kept in the history.")
        return reason


class ExcuseForm(ReasonForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = "For example annual leave or sickness. " + self.fields["reason"].help_text


class HoldForm(ReasonForm):
    reference = forms.CharField(
        max_length=100,
        label="Reference",
        help_text="The FOI request number, case or legal reference. Members will see it.",
    )

    field_order = ["reference", "reason"]
