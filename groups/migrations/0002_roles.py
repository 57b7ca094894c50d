"""Create the DPO and Auditor roles as auth groups with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "DPO": [
        ("groups", "approve_chatgroup"),
        ("groups", "manage_any_chatgroup"),
        ("groups", "view_register_history"),
        ("groups", "view_chatgroup"),
        ("groups", "view_membership"),
    ],
    "Auditor": [
        ("groups", "view_register_history"),
        ("groups", "view_chatgroup"),
        ("groups", "view_membership"),
    ],
}


def create_roles(apps, schema_editor):
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


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("groups", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
