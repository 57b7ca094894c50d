"""Forms of the FOI "what may still exist" answer: the request it answers, and the hold."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from groups.models import ChatGroup
from opcc_portal.forms import DayField, LongSelect
from opcc_portal.lib.text import display_name

from .. import periods
from ..forms import HoldForm
from ..permissions import can_hold
from . import foi

# A request may reach back years (FOI has no time limit), but a range longer than this is
# almost certainly a typing mistake (2002 for 2026) and would list the group's whole life.
LONGEST_RANGE_DAYS = 366 * 10


class RequestRangeForm(forms.Form):
    """The group and the days a request covers: both days given, UK dates, start ≤ end, not
    after today (no message of a later day exists yet)."""

    group = forms.ModelChoiceField(
        queryset=ChatGroup.objects.order_by("name", "pk").only("pk", "name"), label="Group", widget=LongSelect
    )

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        # "from" is a Python keyword: the date fields are named here rather than declared.
        self.fields["from"] = DayField(label="From")
        self.fields["to"] = DayField(label="To")
        self.order_fields(["group", "from", "to"])

    def clean(self):
        data = super().clean()
        start, end = data.get("from"), data.get("to")
        if start and end:
            today = timezone.now().astimezone(periods.LONDON).date()
            if start > end:
                raise forms.ValidationError("“From” must be on or before “To”.")
            if end > today:
                raise forms.ValidationError(f"“To” cannot be after today ({today:%-d %B %Y}): no later message exists.")
            if (end - start).days > LONGEST_RANGE_DAYS:
                raise forms.ValidationError("The dates span more than ten years: check the years.")
        return data


class RequestRecordForm(RequestRangeForm):
    """The request being answered, for the record (the CSV and the printable page)."""

    reference = forms.CharField(
        max_length=100, label="Request reference", help_text="The FOI request number, such as FOI-2026-0042."
    )
    received_by = forms.CharField(max_length=150, label="Received by", help_text="Who in the office received it.")

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["received"] = DayField(label="Received on", help_text="The day the request arrived.")
        self.order_fields(["group", "from", "to", "reference", "received", "received_by"])
        self.fields["received"].widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        for bound in self:
            widget = bound.field.widget
            widget.attrs["class"] = "form-select" if isinstance(widget, forms.Select) else "form-control"
            if bound.field.help_text:
                widget.attrs["aria-describedby"] = f"{bound.auto_id}_helptext"
            if self.is_bound and bound.errors:
                widget.attrs["aria-invalid"] = "true"

    def clean(self):
        data = super().clean()
        received = data.get("received")
        if received and received > timezone.now().astimezone(periods.LONDON).date():
            self.add_error("received", "The day the request arrived cannot be after today.")
        return data

    def request_filters(self) -> foi.RequestFilters:
        c = self.cleaned_data
        return foi.RequestFilters(
            start=c["from"],
            end=c["to"],
            group_id=c["group"].pk,
            reference=c["reference"].strip(),
            received_on=c["received"],
            received_by=c["received_by"].strip(),
        )


class RequestHoldForm(HoldForm):
    """The hold form of the FOI page: the portal's hold form, with the range it came from."""

    group = forms.ModelChoiceField(queryset=ChatGroup.objects.all(), widget=forms.HiddenInput)
    start = forms.DateField(required=False, widget=forms.HiddenInput)
    end = forms.DateField(required=False, widget=forms.HiddenInput)


def default_hold_reason(start: dt.date, end: dt.date) -> str:
    return f"FOI request for the messages of {start:%-d %B %Y} to {end:%-d %B %Y}."


def exist_context(request) -> dict:
    """The FOI pack's "what may still exist" part: the answer for the group and dates of the
    page's query (when they are valid), the request record's form and the hold's form."""
    form = RequestRangeForm(request.GET)
    if not form.is_valid():
        return {"exist": None, "exist_form": form}
    c = form.cleaned_data
    group, start, end = c["group"], c["from"], c["to"]
    answer = foi.what_may_exist(group_id=group.pk, start=start, end=end)
    today = answer.made_at.astimezone(periods.LONDON).date()
    initial = {"group": group.pk, "from": start, "to": end}
    return {
        "exist": answer,
        "exist_form": form,
        # Its own ids: the hold's form on the same page has a "reference" too.
        "record_form": RequestRecordForm(
            initial={**initial, "received": today, "received_by": display_name(request.user)}, auto_id="record_%s"
        ),
        "hold_form": RequestHoldForm(
            initial={"group": group.pk, "start": start, "end": end, "reason": default_hold_reason(start, end)}
        ),
        "can_hold": can_hold(request.user),
    }
