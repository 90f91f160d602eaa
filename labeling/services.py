"""Every write to projects, members and classes."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from webapp.storage import delete_tree_quietly

from .models import LabelClass, Project, ProjectMembership, Role

DEFAULT_CLASS_NAMES = ("mouse",)
CLASS_COLORS = (
    "#e6194b",
    "#3cb44b",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#42d4f4",
    "#f032e6",
    "#bfef45",
    "#fabed4",
    "#469990",
)


@transaction.atomic
def project_create(*, name: str, owner, description: str = "", class_names=None) -> Project:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A project needs a name."})
    if Project.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": f"A project named “{name}” already exists."})
    project = Project.objects.create(name=name, description=description, created_by=owner)
    ProjectMembership.objects.create(project=project, user=owner, role=Role.OWNER)
    for name_ in class_names or DEFAULT_CLASS_NAMES:
        label_class_add(project=project, name=name_)
    return project


# The folders of media that hold one project's files (``<area>/<project id>/...``): videos,
# thumbnails, frames, uploads being imported, dataset manifests and exports, training
# checkpoints and models, imported models, tracking chunks, trajectories and renders.
PROJECT_MEDIA_AREAS = (
    "videos",
    "thumbnails",
    "frames",
    "imports",
    "datasets",
    "exports",
    "training",
    "models",
    "tracking",
)


def project_delete(*, project: Project) -> None:
    """Delete a project and everything in it, in one transaction.

    Its stored files go once the transaction has committed (a refused or failed deletion
    keeps them all). Registered videos stay where they are on the lab's shared storage. A
    worker still busy with one of its jobs sees the row gone and stops without writing.

    Rows inside a project protect one another (a tracking run its model and video, a model
    its dataset version) so that deleting *one* of them cannot break another; deleting the
    whole project takes them all, so the protecting rows of this project go first. A row
    of another project protecting one of this project's is refused (ValidationError).
    """
    project_id = project.pk
    with transaction.atomic():
        _delete_with_protecting_rows(project, project_id=project_id, depth=0)
        transaction.on_commit(lambda: _delete_project_media(project_id))


def _delete_project_media(project_id: int) -> None:
    for area in PROJECT_MEDIA_AREAS:
        delete_tree_quietly(f"{area}/{project_id}")


def _delete_with_protecting_rows(obj, *, project_id: int, depth: int) -> None:
    for _ in range(100):
        try:
            obj.delete()
            return
        except ProtectedError as exc:
            blockers = list(exc.protected_objects)
        if depth > 20:
            raise ValidationError({"project": "The project's rows refer to each other in a loop."})
        outside = [b for b in blockers if getattr(b, "project_id", project_id) != project_id]
        if outside:
            raise ValidationError(
                {"project": f"{outside[0]} of another project refers to this project's data."}
            )
        for blocker in blockers:
            _delete_with_protecting_rows(blocker, project_id=project_id, depth=depth + 1)
    raise ValidationError({"project": "The project could not be deleted; try again."})


def project_update(*, project: Project, **fields) -> Project:
    allowed = {
        "name",
        "description",
        "split_train",
        "split_val",
        "split_test",
        "split_seed",
        "split_by_video",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({k: "This field cannot be changed here." for k in unknown})
    for key, value in fields.items():
        setattr(project, key, value)
    if "name" in fields:
        project.name = project.name.strip()
        if Project.objects.filter(name__iexact=project.name).exclude(pk=project.pk).exists():
            raise ValidationError({"name": f"A project named “{project.name}” already exists."})
    if {"split_train", "split_val", "split_test"} & set(fields):
        if project.split_train + project.split_val + project.split_test != 100:
            raise ValidationError({"split_train": "Train, val and test must add up to 100."})
    project.save(update_fields=list(fields))
    return project


@transaction.atomic
def member_set(*, project: Project, username: str, role: str) -> ProjectMembership:
    """Add ``username`` to the project or change their role."""
    if role not in Role.values:
        raise ValidationError({"role": f"Role must be one of {', '.join(Role.values)}."})
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError({"username": f"No user named “{username}”."})
    membership, created = ProjectMembership.objects.select_for_update().get_or_create(
        project=project, user=user, defaults={"role": role}
    )
    if not created and membership.role != role:
        _refuse_removing_last_owner(project=project, membership=membership, new_role=role)
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def member_remove(*, project: Project, user_id: int) -> None:
    membership = (
        ProjectMembership.objects.select_for_update()
        .filter(project=project, user_id=user_id)
        .first()
    )
    if membership is None:
        return
    _refuse_removing_last_owner(project=project, membership=membership, new_role=None)
    membership.delete()


def _refuse_removing_last_owner(*, project, membership, new_role) -> None:
    if membership.role == Role.OWNER and new_role != Role.OWNER:
        owners = ProjectMembership.objects.filter(project=project, role=Role.OWNER).count()
        if owners <= 1:
            raise ValidationError({"role": "A project must keep at least one owner."})


_CLASS_ADD_ATTEMPTS = 5


def label_class_add(*, project: Project, name: str, color: str | None = None) -> LabelClass:
    """Add a class at the next index; parallel adds get distinct indexes, one name wins.

    The project row is locked (PostgreSQL; SQLite's IMMEDIATE transactions serialize
    writers anyway) and a unique-constraint race left over is retried, so parallel adds
    answer 201 or 400, never an IntegrityError 500.
    """
    name = name.strip()
    if not name or len(name) > 64:
        raise ValidationError({"name": "A class name needs 1 to 64 characters."})
    for _ in range(_CLASS_ADD_ATTEMPTS):
        try:
            with transaction.atomic():
                list(Project.objects.select_for_update().filter(pk=project.pk).values_list("pk"))
                if project.classes.filter(name__iexact=name).exists():
                    raise ValidationError({"name": f"The class “{name}” already exists."})
                index = project.classes.count()
                return LabelClass.objects.create(
                    project=project,
                    name=name,
                    index=index,
                    color=color or CLASS_COLORS[index % len(CLASS_COLORS)],
                )
        except IntegrityError:
            if project.classes.filter(name__iexact=name).exists():
                raise ValidationError({"name": f"The class “{name}” already exists."}) from None
            # Another add took this index first: count again.
    raise ValidationError({"name": "Classes are being added in parallel; try again."})


def label_class_rename(*, label_class: LabelClass, name: str) -> LabelClass:
    name = name.strip()
    if not name or len(name) > 64:
        raise ValidationError({"name": "A class name needs 1 to 64 characters."})
    clash = label_class.project.classes.filter(name__iexact=name).exclude(pk=label_class.pk)
    if clash.exists():
        raise ValidationError({"name": f"The class “{name}” already exists."})
    label_class.name = name
    try:
        with transaction.atomic():
            label_class.save(update_fields=["name"])
    except IntegrityError:  # a parallel rename or add took the name first
        raise ValidationError({"name": f"The class “{name}” already exists."}) from None
    return label_class


@transaction.atomic
def label_class_delete(*, label_class: LabelClass) -> None:
    """Delete an unused class; later classes move down so YOLO ids stay 0..n-1."""
    if label_class.boxes.exists():
        raise ValidationError({"name": "This class has boxes; it cannot be deleted."})
    project, index = label_class.project, label_class.index
    label_class.delete()
    for later in project.classes.filter(index__gt=index).order_by("index"):
        later.index -= 1
        later.save(update_fields=["index"])
