"""`LongSelect` writes the markup Django's own `Select` writes, without a template per option."""

import pytest
from django import forms
from django.test.html import parse_html

from groups.models import ChatGroup
from opcc_portal.forms import LongSelect
from tests.factories import ChatGroupFactory

CHOICES = [("", "Any group"), ("1", "Roads & <Policing>"), ("2", 'Say "hello"'), ("10", "Ten")]


def _both(field_kwargs: dict, data: dict) -> tuple[str, str]:
    class Plain(forms.Form):
        group = forms.ChoiceField(required=False, **field_kwargs)

    class Long(forms.Form):
        group = forms.ChoiceField(required=False, widget=LongSelect, **field_kwargs)

    plain, long = Plain(data), Long(data)
    for form in (plain, long):
        form.fields["group"].widget.attrs.update({"class": "form-select", "aria-invalid": "true"})
    return str(plain["group"]), str(long["group"])


@pytest.mark.parametrize("chosen", ["", "1", "10", "nonsense"])
def test_it_writes_what_django_writes(chosen):
    plain, long = _both({"choices": CHOICES}, {"group": chosen})
    assert parse_html(long) == parse_html(plain)
    # Labels are escaped, and only the chosen option is selected ("1" is not "10").
    assert "&lt;Policing&gt;" in long and "<Policing>" not in long
    assert long.count(" selected") == (1 if chosen in ("", "1", "10") else 0)


def test_unbound_it_selects_the_empty_option_as_django_does():
    class Long(forms.Form):
        group = forms.ChoiceField(required=False, widget=LongSelect, choices=CHOICES)

    assert '<option value="" selected>Any group</option>' in str(Long()["group"])


@pytest.mark.django_db
def test_a_model_choice_field_keeps_its_values_and_the_chosen_group():
    groups = [ChatGroupFactory(name=name) for name in ("Beta", "Alpha")]
    queryset = ChatGroup.objects.order_by("name").only("pk", "name")

    class Plain(forms.Form):
        group = forms.ModelChoiceField(queryset=queryset, required=False, empty_label="All groups")

    class Long(forms.Form):
        group = forms.ModelChoiceField(queryset=queryset, required=False, empty_label="All groups", widget=LongSelect)

    data = {"group": str(groups[0].pk)}
    assert parse_html(str(Long(data)["group"])) == parse_html(str(Plain(data)["group"]))
    assert f'<option value="{groups[0].pk}" selected>Beta</option>' in str(Long(data)["group"])
