from rest_framework import serializers

from webapp.bounds import DB_INT32_MAX

from .models import LabelClass, Project, ProjectMembership, Role


class LabelClassOutput(serializers.ModelSerializer):
    class Meta:
        model = LabelClass
        fields = ["id", "name", "index", "color"]


class ProjectOutput(serializers.ModelSerializer):
    classes = LabelClassOutput(many=True, read_only=True)
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "classes",
            "split_train",
            "split_val",
            "split_test",
            "split_seed",
            "split_by_video",
            "created_at",
            "role",
        ]

    def get_role(self, project) -> str | None:
        roles = self.context.get("roles", {})
        return roles.get(project.pk)


class ProjectCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    class_names = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=100
    )


class ProjectUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    split_train = serializers.IntegerField(min_value=0, max_value=100, required=False)
    split_val = serializers.IntegerField(min_value=0, max_value=100, required=False)
    split_test = serializers.IntegerField(min_value=0, max_value=100, required=False)
    split_seed = serializers.IntegerField(min_value=0, max_value=DB_INT32_MAX, required=False)
    split_by_video = serializers.BooleanField(required=False)


class MembershipOutput(serializers.ModelSerializer):
    user_id = serializers.IntegerField(source="user.id")
    username = serializers.CharField(source="user.username")

    class Meta:
        model = ProjectMembership
        fields = ["user_id", "username", "role"]


class MemberSetInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MemberRoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class LabelClassInput(serializers.Serializer):
    name = serializers.CharField(max_length=64)


class MemberAccountInput(serializers.Serializer):
    """Only these are read: ``is_staff`` and the like in a request are ignored."""

    username = serializers.CharField(max_length=150, allow_blank=True)
    email = serializers.CharField(max_length=254, allow_blank=True)
    role = serializers.CharField(max_length=16)
    password = serializers.CharField(
        max_length=128,
        required=False,
        allow_blank=True,
        write_only=True,
        style={"input_type": "password"},
        help_text="Empty: a temporary password is generated and answered once.",
    )


class MemberAccountOutput(serializers.Serializer):
    user_id = serializers.IntegerField(source="membership.user.id")
    username = serializers.CharField(source="membership.user.username")
    email = serializers.CharField(source="membership.user.email")
    role = serializers.CharField(source="membership.role")
    temporary_password = serializers.CharField(
        help_text="Generated password, shown only in this answer; empty if the owner set one."
    )
