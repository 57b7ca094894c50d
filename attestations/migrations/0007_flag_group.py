# The group of each flag, copied from its cycle, for the dashboard's per-group flag counts.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('attestations', '0006_cycle_counts'),
        ('groups', '0002_roles'),
    ]

    operations = [
        migrations.AddField(
            model_name='flag',
            name='group',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='groups.chatgroup'),
        ),
        migrations.AddField(
            model_name='historicalflag',
            name='group',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='groups.chatgroup'),
        ),
        migrations.RunSQL(
            "UPDATE attestations_flag SET group_id = "
            "(SELECT c.group_id FROM attestations_cycle c WHERE c.id = attestations_flag.cycle_id)",
            migrations.RunSQL.noop,
        ),
        migrations.RunSQL(
            "UPDATE attestations_historicalflag SET group_id = "
            "(SELECT c.group_id FROM attestations_cycle c WHERE c.id = attestations_historicalflag.cycle_id)",
            migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name='flag',
            name='group',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='groups.chatgroup'),
        ),
        migrations.AddIndex(
            model_name='flag',
            index=models.Index(condition=models.Q(('resolved_at__isnull', True)), fields=['group', 'kind'], name='flag_group_open_idx'),
        ),
    ]
