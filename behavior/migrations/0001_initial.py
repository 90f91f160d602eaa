"""The behaviour models, moved from the tracking app: created in Django's state only.

Their tables already exist (made by ``tracking.0001_initial`` as ``tracking_*``; each
model keeps its ``db_table``), with their rows. ``tracking.0002_behavior_models_moved``
then removes the models from the tracking app's state. Hand-written around what
``makemigrations`` generated; never regenerate it (see docs/DEVELOPING.md).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('labeling', '0001_initial'),
        ('tracking', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay as they are: only Django's idea of which app owns
            # the models changes.
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='AnalysisSettings',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('start_s', models.FloatField(blank=True, null=True)),
                        ('end_s', models.FloatField(blank=True, null=True)),
                        ('bin_s', models.FloatField(blank=True, null=True)),
                        ('immobile_speed', models.FloatField(default=2.0)),
                        ('min_immobile_s', models.FloatField(default=1.0)),
                        ('max_gap_s', models.FloatField(default=0.5)),
                        ('smoothing', models.CharField(blank=True, choices=[('', 'None'), ('median', 'Rolling median'), ('savgol', 'Savitzky–Golay')], max_length=8)),
                        ('smoothing_window', models.PositiveIntegerField(default=5)),
                        ('savgol_polyorder', models.PositiveIntegerField(default=2)),
                        ('count_initial_entry', models.BooleanField(default=False)),
                        ('box_overlap', models.FloatField(default=0.5)),
                        ('min_bout_s', models.FloatField(default=0.2)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('project', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='analysis_settings', to='labeling.project')),
                    ],
                    options={
                        'verbose_name_plural': 'analysis settings',
                        'db_table': 'tracking_analysissettings',
                    },
                ),
                migrations.CreateModel(
                    name='ArenaTemplate',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('calibration_method', models.CharField(choices=[('none', 'Not calibrated (pixels)'), ('ruler', 'Ruler over an object of known length'), ('arena', 'Arena outline and its real size')], default='none', max_length=8)),
                        ('ruler', models.JSONField(blank=True, null=True)),
                        ('arena', models.JSONField(blank=True, null=True)),
                        ('px_per_cm', models.FloatField(blank=True, null=True)),
                        ('zones', models.JSONField(blank=True, default=list)),
                        ('unions', models.JSONField(blank=True, default=dict)),
                        ('preset', models.CharField(blank=True, choices=[('', 'None (drawn by hand)'), ('open_field', 'Open field'), ('elevated_plus_maze', 'Elevated plus maze'), ('light_dark_box', 'Light/dark box'), ('novel_object_recognition', 'Novel object recognition')], max_length=32)),
                        ('preset_params', models.JSONField(blank=True, default=dict)),
                        ('membership', models.CharField(choices=[('centre', 'Centre point in the zone'), ('box', 'Share of the box inside the zone')], default='centre', max_length=8)),
                        ('name', models.CharField(max_length=120)),
                        ('frame_width', models.PositiveIntegerField()),
                        ('frame_height', models.PositiveIntegerField()),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='arena_templates', to='labeling.project')),
                    ],
                    options={
                        'db_table': 'tracking_arenatemplate',
                        'ordering': ['project', 'name'],
                    },
                ),
                migrations.CreateModel(
                    name='ArenaSetup',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('calibration_method', models.CharField(choices=[('none', 'Not calibrated (pixels)'), ('ruler', 'Ruler over an object of known length'), ('arena', 'Arena outline and its real size')], default='none', max_length=8)),
                        ('ruler', models.JSONField(blank=True, null=True)),
                        ('arena', models.JSONField(blank=True, null=True)),
                        ('px_per_cm', models.FloatField(blank=True, null=True)),
                        ('zones', models.JSONField(blank=True, default=list)),
                        ('unions', models.JSONField(blank=True, default=dict)),
                        ('preset', models.CharField(blank=True, choices=[('', 'None (drawn by hand)'), ('open_field', 'Open field'), ('elevated_plus_maze', 'Elevated plus maze'), ('light_dark_box', 'Light/dark box'), ('novel_object_recognition', 'Novel object recognition')], max_length=32)),
                        ('preset_params', models.JSONField(blank=True, default=dict)),
                        ('membership', models.CharField(choices=[('centre', 'Centre point in the zone'), ('box', 'Share of the box inside the zone')], default='centre', max_length=8)),
                        ('nudge', models.JSONField(blank=True, null=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('updated_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('video', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='arena_setup', to='labeling.video')),
                        ('template', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='setups', to='behavior.arenatemplate')),
                    ],
                    options={
                        'db_table': 'tracking_arenasetup',
                        'ordering': ['video'],
                    },
                ),
                migrations.CreateModel(
                    name='ExperimentRunChoice',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('chosen_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tracking.trackingrun')),
                        ('video', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='experiment_run', to='labeling.video')),
                    ],
                    options={
                        'db_table': 'tracking_experimentrunchoice',
                        'ordering': ['video'],
                    },
                ),
                migrations.CreateModel(
                    name='FreezingJob',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('cancelled', 'Cancelled'), ('timed_out', 'Timed out')], db_index=True, default='queued', max_length=16)),
                        ('progress', models.FloatField(default=0.0)),
                        ('message', models.CharField(blank=True, max_length=500)),
                        ('error', models.TextField(blank=True)),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('attempt_history', models.JSONField(blank=True, default=list)),
                        ('cancel_requested', models.BooleanField(default=False)),
                        ('celery_task_id', models.CharField(blank=True, max_length=64)),
                        ('worker', models.CharField(blank=True, max_length=255)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('heartbeat_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('key', models.CharField(db_index=True, max_length=64)),
                        ('params', models.JSONField(default=dict)),
                        ('motion', models.FileField(blank=True, max_length=500, upload_to='')),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='freezing_jobs', to='tracking.trackingrun')),
                    ],
                    options={
                        'db_table': 'tracking_freezingjob',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='SubjectInfo',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('subject_id', models.CharField(blank=True, max_length=100)),
                        ('group', models.CharField(blank=True, max_length=100)),
                        ('session', models.CharField(blank=True, max_length=100)),
                        ('notes', models.TextField(blank=True, max_length=2000)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('video', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='subject_info', to='labeling.video')),
                    ],
                    options={
                        'db_table': 'tracking_subjectinfo',
                        'ordering': ['video'],
                    },
                ),
                migrations.CreateModel(
                    name='AnimalSubject',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('animal', models.PositiveSmallIntegerField()),
                        ('subject_id', models.CharField(blank=True, max_length=100)),
                        ('group', models.CharField(blank=True, max_length=100)),
                        ('session', models.CharField(blank=True, max_length=100)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('video', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='animal_subjects', to='labeling.video')),
                    ],
                    options={
                        'db_table': 'tracking_animalsubject',
                        'ordering': ['video', 'animal'],
                        'constraints': [models.UniqueConstraint(fields=('video', 'animal'), name='animal_subject_unique')],
                    },
                ),
                migrations.AddConstraint(
                    model_name='arenatemplate',
                    constraint=models.UniqueConstraint(fields=('project', 'name'), name='arena_template_name_unique'),
                ),
            ],
        ),
    ]
