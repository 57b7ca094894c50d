"""The staff list as CSV (R14): a preview of what changes, every bad row named, all or nothing."""

import io

import pytest
from django.core.management import CommandError, call_command

from groups import staff_import
from groups.models import Membership, StaffProfile

pytestmark = pytest.mark.django_db

HEADER = "name,email,staff_number,active\n"


def csv(*rows: str, bom: bool = False) -> bytes:
    return (("\ufeff" if bom else "") + HEADER + "".join(r + "\n" for r in rows)).encode("utf-8")


@pytest.fixture
def known(member):
    StaffProfile.objects.create(user=member, staff_number="100")
    return member


def test_the_plan_says_what_would_change_and_changes_nothing(known, group, django_user_model):
    data = csv(
        "Morgan Lee,member@example.org,100,yes",  # unchanged
        "Sam Jones,sam@example.org,101,yes",  # new
        "Pat Gone,pat@example.org,102,no",  # not here and gone: nothing to do
        bom=True,
    )
    before = django_user_model.objects.count()
    plan = staff_import.import_plan(data)
    assert plan.ok
    assert {c.kind for c in plan.changes} == {"unchanged", "new"}
    assert (plan.count("new"), plan.count("unchanged")) == (1, 2)
    assert django_user_model.objects.count() == before


def test_it_imports_joiners_movers_and_leavers(known, group, admin_user, dpo, django_user_model):
    StaffProfile.objects.create(user=admin_user, staff_number="200")
    data = csv(
        "Morgan Lee,member@example.org,100,no",  # leaves
        "Grace Adeyemi-Brown,groupadmin@example.org,200,yes",  # new surname
        "Sam Jones,sam@example.org,101,yes",  # joins
    )
    plan = staff_import.import_apply(data=data, by=dpo, source="staff.csv")
    assert (plan.count("deactivated"), plan.count("changed"), plan.count("new")) == (1, 1, 1)
    known.refresh_from_db()
    assert not known.is_active
    assert not Membership.objects.active().filter(user=known).exists()
    assert StaffProfile.objects.get(user=known).deactivation_reason == "Marked as left in the staff list (staff.csv)"
    admin_user.refresh_from_db()
    assert admin_user.last_name == "Adeyemi-Brown"
    sam = django_user_model.objects.get(username="sam@example.org")
    assert (sam.first_name, sam.last_name, sam.staff_profile.staff_number) == ("Sam", "Jones", "101")
    # The same file again changes nothing.
    assert staff_import.import_apply(data=data, by=dpo, source="staff.csv").to_change == []


def test_bad_rows_are_each_named_and_nothing_is_imported(known, dpo, django_user_model):
    data = csv(
        "Sam Jones,sam@example.org,101,yes",  # good, but not imported either
        ",nobody@example.org,102,yes",
        "Al Bad,not-an-email,103,yes",
        "Cy Dup,cy@example.org,101,yes",
        "Di Maybe,di@example.org,104,perhaps",
        '=HYPERLINK("x"),ev@example.org,105,yes',
        "Morgan Lee,member@example.org,,yes",
    )
    before = django_user_model.objects.count()
    with pytest.raises(staff_import.ImportRefused) as refused:
        staff_import.import_apply(data=data, by=dpo, source="bad.csv")
    errors = {e.line: e.message for e in refused.value.plan.errors}
    assert sorted(errors) == [3, 4, 5, 6, 7, 8]
    assert "name is missing" in errors[3]
    assert "not an email address" in errors[4]
    assert "also on line 2" in errors[5]
    assert "yes or no" in errors[6]
    assert "formula" in errors[7]
    assert "staff number is missing" in errors[8]
    assert django_user_model.objects.count() == before


def test_a_row_refused_while_importing_refuses_the_whole_file(dpo, django_user_model):
    StaffProfile.objects.create(user=dpo, staff_number="1")
    data = csv("Sam Jones,sam@example.org,101,yes", "Dana Price,dpo@example.org,1,no")  # the only DPO leaves
    with pytest.raises(staff_import.ImportRefused) as refused:
        staff_import.import_apply(data=data, by=None, source="x.csv")
    assert "only DPO" in refused.value.plan.errors[-1].message
    assert not django_user_model.objects.filter(username="sam@example.org").exists()
    dpo.refresh_from_db()
    assert dpo.is_active


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("name,email,staff_number,active\nJosé,j@example.org,1,yes\n".encode("latin-1"), "not UTF-8"),
        (b"name,email\nA,a@example.org\n", "missing: staff_number, active"),
        (b"", "empty"),
        (HEADER.encode(), "nobody in it"),
        (b"\x00\x01\x02", "not a CSV file"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_a_clear_error(data, message):
    with pytest.raises(Exception, match=message):
        staff_import.import_plan(data)


def test_a_file_over_the_limit_is_refused(settings):
    settings.STAFF_IMPORT_MAX_BYTES = 1024
    with pytest.raises(Exception, match="larger than 1 KB"):
        staff_import.import_plan(csv(*[f"Person {i},p{i}@example.org,{i},yes" for i in range(100)]))


def test_a_staff_number_and_email_of_two_different_people_is_an_error(known, outsider):
    plan = staff_import.import_plan(csv("Olly Stone,outsider@example.org,100,yes"))
    assert "member's but the email is outsider's" in plan.errors[0].message


def test_the_command_previews_with_dry_run_and_imports_without(tmp_path, known, django_user_model):
    path = tmp_path / "staff.csv"
    path.write_bytes(csv("Sam Jones,sam@example.org,101,yes", bom=True))
    out = io.StringIO()
    call_command("import_staff", str(path), "--dry-run", stdout=out)
    assert "line 2: New: sam@example.org" in out.getvalue()
    assert "Would import: 1 new" in out.getvalue()
    assert not django_user_model.objects.filter(username="sam@example.org").exists()
    call_command("import_staff", str(path), stdout=io.StringIO())
    assert django_user_model.objects.filter(username="sam@example.org").exists()


def test_the_command_refuses_a_file_with_bad_rows(tmp_path, django_user_model):
    path = tmp_path / "staff.csv"
    path.write_bytes(csv("Sam Jones,sam@example.org,101,yes", "Bad,bad,102,yes"))
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 row.s. are wrong: nothing was imported"):
        call_command("import_staff", str(path), stdout=io.StringIO(), stderr=err)
    assert "line 3:" in err.getvalue()
    assert not django_user_model.objects.filter(username="sam@example.org").exists()
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_staff", str(tmp_path / "missing.csv"))


def test_the_dpo_previews_then_imports_in_the_browser(client, dpo, known):
    client.force_login(dpo)
    upload = io.BytesIO(csv("Sam Jones,sam@example.org,101,yes", "Morgan Lee,member@example.org,100,no"))
    upload.name = "staff.csv"
    preview = client.post("/staff/import/", {"file": upload})
    assert preview.status_code == 200
    page = preview.content.decode()
    assert "Preview of “staff.csv”" in page and "Closed (left)" in page and "Import these changes" in page
    known.refresh_from_db()
    assert known.is_active  # nothing yet
    confirm = {"payload": preview.context["confirm"].initial["payload"], "name": "staff.csv"}
    done = client.post("/staff/import/", confirm, follow=True)
    assert "was imported: 1 new, 1 closed (left)" in done.content.decode()
    known.refresh_from_db()
    assert not known.is_active


def test_the_browser_preview_lists_bad_rows_and_offers_no_import(client, dpo):
    client.force_login(dpo)
    upload = io.BytesIO(csv("Sam Jones,sam@example.org,101,yes", "Bad,bad,102,yes"))
    upload.name = "staff.csv"
    page = client.post("/staff/import/", {"file": upload}).content.decode()
    assert "Line 3:" in page and "nothing will be imported" in page
    assert "Import these changes" not in page


def test_a_tampered_preview_imports_nothing(client, dpo, django_user_model):
    client.force_login(dpo)
    response = client.post("/staff/import/", {"payload": "forged", "name": "x.csv"}, follow=True)
    assert "Upload the file again; nothing was imported" in response.content.decode()
    assert django_user_model.objects.count() == 1


def test_a_user_with_no_access_cannot_import(client, member):
    client.force_login(member)
    assert client.get("/staff/import/").status_code == 403
