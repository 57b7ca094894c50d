# When each group's status last changed (R13), filled in from the register's history for
# groups that existed before: the start of the latest run of history rows with the status
# the group has now. A group with no such history keeps its approval time, or its last update.

from django.db import migrations, models


def fill_status_changed_at(apps, schema_editor):
    ChatGroup = apps.get_model("groups", "ChatGroup")
    HistoricalChatGroup = apps.get_model("groups", "HistoricalChatGroup")
    current = dict(ChatGroup.objects.values_list("pk", "status"))
    since: dict[int, object] = {}
    previous: dict[int, str] = {}
    rows = HistoricalChatGroup.objects.order_by("id", "history_date", "history_id").values_list(
        "id", "status", "history_date"
    )
    for pk, status, when in rows.iterator():
        if previous.get(pk) != status:
            previous[pk] = status
            if status == current.get(pk):
                since[pk] = when
        if status != current.get(pk):
            since.pop(pk, None)
    groups = list(ChatGroup.objects.all())
    for group in groups:
        group.status_changed_at = since.get(group.pk) or group.approved_at or group.updated_at
    ChatGroup.objects.bulk_update(groups, ["status_changed_at"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("groups", "0002_roles"),
    ]

    operations = [
        migrations.AddField(
            model_name="chatgroup",
            name="status_changed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="historicalchatgroup",
            name="status_changed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(fill_status_changed_at, migrations.RunPython.noop),
    ]
