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
