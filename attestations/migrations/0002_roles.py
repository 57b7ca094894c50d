"""Give the DPO and Auditor roles the permissions of the clear-down records.

The DPO places and lifts holds (R9); both roles read cycles, obligations, flags and holds.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = [
    ("attestations", "view_cycle"),
    ("attestations", "view_obligation"),
    ("attestations", "view_flag"),
    ("attestations", "view_hold"),
]

ROLES = {
    "DPO": [("attestations", "place_hold"), *VIEW],
    "Auditor": VIEW,
}


def add_permissions(apps, schema_editor):
    # Permissions are normally made after all migrations; make them now so roles can use them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, codename in perms:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLES.items():
        group = Group.objects.filter(name=role).first()
        if group:
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label="attestations", codename__in=[c for _, c in perms])
            )


class Migration(migrations.Migration):
    dependencies = [
        ("attestations", "0001_initial"),
        ("groups", "0002_roles"),
    ]

    operations = [migrations.RunPython(add_permissions, remove_permissions)]
