"""The behaviour models left this app for ``behavior`` (``behavior.0001_initial``): they
are removed from the tracking app's state only; their ``tracking_*`` tables and rows
stay, now owned by the behaviour app's models (``db_table``). Hand-written around what
``makemigrations`` generated; never regenerate it (see docs/DEVELOPING.md).
"""

from django.db import migrations


MOVED = (
    "analysissettings",
    "animalsubject",
    "arenasetup",
    "arenatemplate",
    "experimentrunchoice",
    "freezingjob",
    "subjectinfo",
)


def _relabel(apps, old: str, new: str) -> None:
    """Move the models' content types (and so their permissions) to the other app, so
    permission grants survive; where the new one already exists the old one is dropped."""
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        row = content_type.objects.filter(app_label=old, model=model).first()
        if row is None:
            continue
        if content_type.objects.filter(app_label=new, model=model).exists():
            row.delete()
        else:
            row.app_label = new
            row.save(update_fields=["app_label"])


def forwards(apps, schema_editor) -> None:
    _relabel(apps, "tracking", "behavior")


def backwards(apps, schema_editor) -> None:
    _relabel(apps, "behavior", "tracking")


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('tracking', '0001_initial'),
        ('behavior', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay as they are: only Django's idea of which app owns
            # the models changes.
            database_operations=[],
            state_operations=[
                migrations.RemoveField(
                    model_name='animalsubject',
                    name='video',
                ),
                migrations.RemoveField(
                    model_name='arenasetup',
                    name='template',
                ),
                migrations.RemoveField(
                    model_name='arenasetup',
                    name='updated_by',
                ),
                migrations.RemoveField(
                    model_name='arenasetup',
                    name='video',
                ),
                migrations.RemoveField(
                    model_name='arenatemplate',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='arenatemplate',
                    name='project',
                ),
                migrations.RemoveField(
                    model_name='experimentrunchoice',
                    name='chosen_by',
                ),
                migrations.RemoveField(
                    model_name='experimentrunchoice',
                    name='run',
                ),
                migrations.RemoveField(
                    model_name='experimentrunchoice',
                    name='video',
                ),
                migrations.RemoveField(
                    model_name='freezingjob',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='freezingjob',
                    name='run',
                ),
                migrations.RemoveField(
                    model_name='subjectinfo',
                    name='video',
                ),
                migrations.DeleteModel(
                    name='AnalysisSettings',
                ),
                migrations.DeleteModel(
                    name='AnimalSubject',
                ),
                migrations.DeleteModel(
                    name='ArenaSetup',
                ),
                migrations.DeleteModel(
                    name='ArenaTemplate',
                ),
                migrations.DeleteModel(
                    name='ExperimentRunChoice',
                ),
                migrations.DeleteModel(
                    name='FreezingJob',
                ),
                migrations.DeleteModel(
                    name='SubjectInfo',
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
