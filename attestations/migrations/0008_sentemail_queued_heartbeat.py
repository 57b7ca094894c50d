# When each email was last queued and whether a later sweep makes it again; the heartbeats of worker and sweep.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('attestations', '0007_flag_group'),
    ]

    operations = [
        migrations.CreateModel(
            name='Heartbeat',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=20, unique=True)),
                ('seen_at', models.DateTimeField()),
            ],
        ),
        migrations.AddField(
            model_name='historicalsentemail',
            name='queued_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='historicalsentemail',
            name='retry_later',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='sentemail',
            name='queued_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='sentemail',
            name='retry_later',
            field=models.BooleanField(default=False),
        ),
    ]
