"""Policy versions and their acknowledgement (R15).

A published version never changes: besides the services' refusal, a trigger refuses an
UPDATE of a row whose `published_at` is set, and on PostgreSQL a DELETE too (a TRUNCATE,
which empties a test database or a copy being restored, fires no row trigger). SQLite has
no TRUNCATE: emptying its tables is a DELETE, so there only the services refuse deletion. The SQL is
frozen here, so later changes to the models cannot alter what this migration does.
"""

import django.db.models.deletion
import groups.policy_models
import simple_history.models
from django.conf import settings
from django.db import migrations, models


MESSAGE = "A published policy version cannot be changed or deleted."

POSTGRESQL = [
    f"""CREATE OR REPLACE FUNCTION groups_policyversion_immutable() RETURNS trigger AS $$
    BEGIN
        IF OLD.published_at IS NOT NULL THEN
            RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER groups_policyversion_immutable BEFORE UPDATE OR DELETE ON groups_policyversion
    FOR EACH ROW EXECUTE FUNCTION groups_policyversion_immutable()""",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS groups_policyversion_immutable ON groups_policyversion",
    "DROP FUNCTION IF EXISTS groups_policyversion_immutable()",
]
SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS groups_policyversion_no_update BEFORE UPDATE ON groups_policyversion
    WHEN OLD.published_at IS NOT NULL BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS groups_policyversion_no_update",
    "DROP TRIGGER IF EXISTS groups_policyversion_no_delete",
]


def _run(schema_editor, postgresql, sqlite):
    vendor = schema_editor.connection.vendor
    statements = postgresql if vendor == "postgresql" else sqlite if vendor == "sqlite" else []
    for sql in statements:
        schema_editor.execute(sql)


def install(apps, schema_editor):
    _run(schema_editor, POSTGRESQL, SQLITE)


def drop(apps, schema_editor):
    _run(schema_editor, POSTGRESQL_DROP, SQLITE_DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("groups", "0006_stored_files"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="HistoricalPendingMembership",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("added_at", models.DateTimeField()),
                ("resolved_at", models.DateTimeField(blank=True, null=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "added_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "group",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="groups.chatgroup",
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "membership",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="groups.membership",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "historical pending membership",
                "verbose_name_plural": "historical pending memberships",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalPolicyVersion",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("title", models.CharField(max_length=200)),
                (
                    "number",
                    models.CharField(db_index=True, help_text="The version number, for example 2.0.", max_length=20),
                ),
                ("effective_on", models.DateField(help_text="The day the version takes effect.")),
                ("text", models.TextField(blank=True, max_length=200000)),
                ("pdf", models.TextField(blank=True, max_length=100)),
                (
                    "changes",
                    models.TextField(help_text="A summary of what changed from the version before.", max_length=5000),
                ),
                ("created_at", models.DateTimeField()),
                ("published_at", models.DateTimeField(blank=True, null=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "published_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "historical policy version",
                "verbose_name_plural": "historical policy versions",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="PolicyVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(max_length=200)),
                (
                    "number",
                    models.CharField(help_text="The version number, for example 2.0.", max_length=20, unique=True),
                ),
                ("effective_on", models.DateField(help_text="The day the version takes effect.")),
                ("text", models.TextField(blank=True, max_length=200000)),
                ("pdf", models.FileField(blank=True, upload_to=groups.policy_models.policy_pdf_upload_to)),
                (
                    "changes",
                    models.TextField(help_text="A summary of what changed from the version before.", max_length=5000),
                ),
                ("created_at", models.DateTimeField()),
                ("published_at", models.DateTimeField(blank=True, null=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "published_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-effective_on", "-published_at", "-pk"],
            },
        ),
        migrations.CreateModel(
            name="PolicyAcknowledgement",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField()),
                ("due_at", models.DateTimeField()),
                ("acknowledged_at", models.DateTimeField(blank=True, null=True)),
                ("reminder_sent_at", models.DateTimeField(blank=True, null=True)),
                ("overdue_notified_at", models.DateTimeField(blank=True, null=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="policy_acks",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="acknowledgements",
                        to="groups.policyversion",
                    ),
                ),
            ],
            options={
                "ordering": ["version", "user"],
            },
        ),
        migrations.CreateModel(
            name="HistoricalPolicyAcknowledgement",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("created_at", models.DateTimeField()),
                ("due_at", models.DateTimeField()),
                ("acknowledged_at", models.DateTimeField(blank=True, null=True)),
                ("reminder_sent_at", models.DateTimeField(blank=True, null=True)),
                ("overdue_notified_at", models.DateTimeField(blank=True, null=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "version",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="groups.policyversion",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical policy acknowledgement",
                "verbose_name_plural": "historical policy acknowledgements",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="PendingMembership",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("added_at", models.DateTimeField()),
                ("resolved_at", models.DateTimeField(blank=True, null=True)),
                (
                    "added_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "group",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="pending_memberships",
                        to="groups.chatgroup",
                    ),
                ),
                (
                    "membership",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="pending",
                        to="groups.membership",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="pending_memberships",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["added_at", "pk"],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("resolved_at__isnull", True)),
                        fields=("group", "user"),
                        name="pendingmembership_one_open",
                    )
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="policyversion",
            constraint=models.CheckConstraint(
                condition=models.Q(("title", ""), _negated=True), name="policyversion_title_not_empty"
            ),
        ),
        migrations.AddConstraint(
            model_name="policyversion",
            constraint=models.CheckConstraint(
                condition=models.Q(("number", ""), _negated=True), name="policyversion_number_not_empty"
            ),
        ),
        migrations.AddConstraint(
            model_name="policyversion",
            constraint=models.CheckConstraint(
                condition=models.Q(("changes", ""), _negated=True), name="policyversion_changes_not_empty"
            ),
        ),
        migrations.AddConstraint(
            model_name="policyversion",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("text", ""), _negated=True), models.Q(("pdf", ""), _negated=True), _connector="OR"
                ),
                name="policyversion_text_or_pdf",
            ),
        ),
        migrations.AddConstraint(
            model_name="policyversion",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("published_at__isnull", True), ("published_by__isnull", True)),
                    models.Q(("published_at__isnull", False), ("published_by__isnull", False)),
                    _connector="OR",
                ),
                name="policyversion_published_by_and_at",
            ),
        ),
        migrations.AddIndex(
            model_name="policyacknowledgement",
            index=models.Index(fields=["acknowledged_at", "due_at"], name="policyack_open_due_idx"),
        ),
        migrations.AddConstraint(
            model_name="policyacknowledgement",
            constraint=models.UniqueConstraint(fields=("version", "user"), name="policyack_one_per_user_per_version"),
        ),
        migrations.RunPython(install, drop),
    ]
