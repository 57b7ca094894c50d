"""Forms of the register. They validate input; the rules themselves live in services."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from opcc_portal.lib.text import display_name

from .models import ChatGroup
from .validators import clean_text, logo_clean


class LogoField(forms.FileField):
    """A file field checked by its bytes (Pillow), not by its name or declared type."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text",
            "Optional. A PNG or JPEG, at most 1 MB and 2000×2000 pixels. Without one, the office logo is used.",
        )
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("accept", "image/png,image/jpeg")

    def clean(self, data, initial=None):
        upload = super().clean(data, initial)
        if upload and upload is not initial:
            logo_clean(upload)
            upload.seek(0)
        return upload


class ChatGroupForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="As it appears at the top of the WhatsApp chat.",
        error_messages={"required": "Give the group a name."},
    )
    purpose = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="The business purpose the group serves. Social groups are not registered.",
        error_messages={"required": "Say what business purpose the group serves."},
    )
    logo = LogoField(label="Logo")
    cycle_weekday = forms.TypedChoiceField(
        label="Clear-down day",
        choices=ChatGroup.Weekday.choices,
        coerce=int,
        initial=ChatGroup.Weekday.FRIDAY,
        help_text="Each week's clear-down period ends on this day.",
    )
    cycle_time = forms.TimeField(
        label="Clear-down time",
        initial="17:00",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="UK time (Europe/London).",
    )

    def clean_name(self):
        name = clean_text(self.cleaned_data["name"], one_line=True)
        if not name:
            raise forms.ValidationError("Give the group a name.")
        return name

    def clean_purpose(self):
        purpose = clean_text(self.cleaned_data["purpose"])
        if not purpose:
            raise forms.ValidationError("Say what business purpose the group serves.")
        return purpose


class ChatGroupEditForm(ChatGroupForm):
    remove_logo = forms.BooleanField(required=False, label="Go back to the office logo")

    def __init__(self, *args, lock_description: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if lock_description:
            # Shown, not editable: a disabled field keeps its initial value whatever is posted.
            for name in ("name", "purpose"):
                self.fields[name].disabled = True
                self.fields[name].help_text = "Approved by the DPO. Only the DPO can change it."


class TransitionForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept in the group's history and shown to auditors.",
        error_messages={"required": "Give a reason: it is kept in the group's history."},
    )

    def clean_reason(self):
        reason = clean_text(self.cleaned_data["reason"])
        if not reason:
            raise forms.ValidationError("Give a reason: it is kept in the group's history.")
        return reason


class StaffSearchForm(forms.Form):
    q = forms.CharField(
        label="Find a colleague",
        max_length=100,
        required=False,
        help_text="Search by name, username or email.",
        error_messages={"max_length": "Search with at most 100 characters: part of a name or email is enough."},
    )


class UserChoiceForm(forms.Form):
    """Picks one active staff account by id (from the search results or a member list)."""

    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True),
        error_messages={"invalid_choice": "Choose a colleague from the list."},
    )

    def __init__(self, *args, queryset=None, **kwargs):
        super().__init__(*args, **kwargs)
        if queryset is not None:
            self.fields["user"].queryset = queryset
        self.fields["user"].label_from_instance = display_name


class DeputyForm(UserChoiceForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].required = False
        self.fields["user"].label = "Deputy"
        self.fields["user"].empty_label = "No deputy"
