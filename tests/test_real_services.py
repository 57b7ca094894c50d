"""The real parts the suite relies on: a Celery worker on the real broker, and an SMTP server."""

import pytest
from django.contrib.auth.models import Group as Role
from django.core.mail import EmailMultiAlternatives

from opcc_portal.celery import app
from tests.conftest import wait_for


@app.task(name="tests.make_role")
def make_role(name: str) -> None:
    Role.objects.get_or_create(name=name)


def test_it_runs_a_task_on_a_real_worker_against_the_real_database(celery_worker):
    make_role.delay("Made by the worker")
    assert wait_for(lambda: Role.objects.filter(name="Made by the worker").exists())


@pytest.mark.django_db
def test_it_delivers_mail_with_both_parts_to_a_real_smtp_server(smtp_server):
    message = EmailMultiAlternatives("Subject line", "Plain text body", "portal@example.org", ["dpo@example.org"])
    message.attach_alternative("<p>HTML body</p>", "text/html")
    message.send()
    [received] = smtp_server.messages
    assert received["To"] == "dpo@example.org" and received["Subject"] == "Subject line"
    assert received.get_body(("plain",)).get_content().strip() == "Plain text body"
    assert "<p>HTML body</p>" in received.get_body(("html",)).get_content()
