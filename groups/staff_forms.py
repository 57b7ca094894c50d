"""Forms of the staff pages (R14): plain fields; the services enforce the rules."""

from __future__ import annotations

from django import forms
from django.conf import settings

from . import staff_selectors

REASON_HELP = "Kept in the account's history, with your name."


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason", max_length=1000, widget=forms.Textarea(attrs={"rows": 3}), help_text=REASON_HELP
    )


class RoleForm(forms.Form):
    ACTIONS = [("grant", "Give the role"), ("remove", "Remove the role")]

    person = forms.CharField(
        label="Person (user name or email)", max_length=254, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    role = forms.ChoiceField(label="Role", choices=[("dpo", "DPO"), ("auditor", "Auditor")], widget=forms.RadioSelect)
    action = forms.ChoiceField(label="Change", choices=ACTIONS, widget=forms.RadioSelect)
    reason = forms.CharField(label="Reason", max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))

    def clean_person(self):
        user = staff_selectors.find_person(self.cleaned_data["person"])
        if user is None or user.is_superuser:
            raise forms.ValidationError("No account has this user name or email. Check it on the staff list.")
        return user


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="Staff list (CSV file)",
        help_text="Columns: name, email, staff_number, active (yes or no). Saved from Excel as “CSV UTF-8”.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.STAFF_IMPORT_MAX_BYTES:
            raise forms.ValidationError(f"The file is larger than {settings.STAFF_IMPORT_MAX_BYTES // 1024} KB.")
        return upload


class ImportConfirmForm(forms.Form):
    """The previewed file, signed so that what is imported is what was shown."""

    payload = forms.CharField(widget=forms.HiddenInput)
    name = forms.CharField(widget=forms.HiddenInput, max_length=255)
