"""The DPO's form for a policy version (R15): plain fields; the services enforce the rules."""

from __future__ import annotations

from django import forms
from django.conf import settings

from opcc_portal.forms import DayField


class PolicyVersionForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200)
    number = forms.CharField(label="Version number", max_length=20, help_text="For example 2.0.")
    effective_on = DayField(
        label="In effect from",
        help_text="The day it takes effect. People are asked to read it from that day.",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    changes = forms.CharField(
        label="What changed",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="A short summary for the people asked to read it.",
    )
    text = forms.CharField(
        label="The policy's text",
        max_length=200_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text="Paste the text, or upload a PDF below, or both.",
    )
    pdf = forms.FileField(
        label="The policy as a PDF (optional)",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,application/pdf"}),
    )
    remove_pdf = forms.BooleanField(label="Remove the PDF uploaded before", required=False)

    def __init__(self, *args, has_pdf: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        limit = settings.POLICY_PDF_MAX_BYTES // (1024 * 1024)
        self.fields["pdf"].help_text = f"A PDF document of at most {limit} MB, without scripts or attachments."
        if not has_pdf:
            del self.fields["remove_pdf"]
