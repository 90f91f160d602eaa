"""Projects, members and classes: every endpoint × role, and the pages."""

from __future__ import annotations

import pytest

from labeling.models import LabelClass, Project, ProjectMembership, Role


@pytest.fixture
def people(make_user, member_of):
    return {
        "annotator": member_of(make_user("ann"), Role.ANNOTATOR),
        "viewer": member_of(make_user("vic"), Role.VIEWER),
        "outsider": make_user("oscar"),
    }


@pytest.mark.django_db
def test_new_project_has_its_creator_as_owner_and_a_mouse_class(api_client_for, owner):
    response = api_client_for(owner).post("/api/projects/", {"name": "Home cage"}, format="json")
    assert response.status_code == 201, response.content
    project = Project.objects.get(pk=response.json()["id"])
    assert list(project.classes.values_list("name", "index")) == [("mouse", 0)]
    assert ProjectMembership.objects.get(project=project, user=owner).role == Role.OWNER
    assert response.json()["role"] == "owner"


@pytest.mark.django_db
def test_project_list_never_includes_other_projects(api_client_for, project, people):
    other = api_client_for(people["outsider"]).get("/api/projects/")
    assert other.status_code == 200 and other.json() == []
    mine = api_client_for(people["viewer"]).get("/api/projects/").json()
    assert [p["id"] for p in mine] == [project.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method,path,body",
    [
        ("get", "/api/projects/{p}/", None),
        ("patch", "/api/projects/{p}/", {"description": "x"}),
        ("delete", "/api/projects/{p}/", None),
        ("get", "/api/projects/{p}/members/", None),
        ("post", "/api/projects/{p}/members/", {"username": "oscar", "role": "owner"}),
        ("patch", "/api/projects/{p}/members/{owner}/", {"role": "viewer"}),
        ("delete", "/api/projects/{p}/members/{owner}/", None),
        ("get", "/api/projects/{p}/classes/", None),
        ("post", "/api/projects/{p}/classes/", {"name": "rat"}),
        ("patch", "/api/projects/{p}/classes/{c}/", {"name": "rat"}),
        ("delete", "/api/projects/{p}/classes/{c}/", None),
    ],
)
def test_non_member_gets_404_and_nothing_changes(
    api_client_for, project, owner, people, method, path, body
):
    url = path.format(p=project.pk, owner=owner.pk, c=project.classes.get().pk)
    before = _snapshot(project)
    response = getattr(api_client_for(people["outsider"]), method)(url, body, format="json")
    assert response.status_code == 404
    assert _snapshot(project) == before


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["viewer", "annotator"])
@pytest.mark.parametrize(
    "method,path,body",
    [
        ("patch", "/api/projects/{p}/", {"description": "x"}),
        ("delete", "/api/projects/{p}/", None),
        ("post", "/api/projects/{p}/members/", {"username": "oscar", "role": "owner"}),
        ("patch", "/api/projects/{p}/members/{owner}/", {"role": "viewer"}),
        ("delete", "/api/projects/{p}/members/{owner}/", None),
        ("post", "/api/projects/{p}/classes/", {"name": "rat"}),
        ("delete", "/api/projects/{p}/classes/{c}/", None),
    ],
)
def test_members_below_owner_cannot_manage_the_project(
    api_client_for, project, owner, people, who, method, path, body
):
    url = path.format(p=project.pk, owner=owner.pk, c=project.classes.get().pk)
    before = _snapshot(project)
    response = getattr(api_client_for(people[who]), method)(url, body, format="json")
    assert response.status_code == 403
    assert _snapshot(project) == before


@pytest.mark.django_db
def test_viewer_can_read(api_client_for, project, people):
    client = api_client_for(people["viewer"])
    assert client.get(f"/api/projects/{project.pk}/").status_code == 200
    assert client.get(f"/api/projects/{project.pk}/members/").status_code == 200
    assert client.get(f"/api/projects/{project.pk}/classes/").status_code == 200


@pytest.mark.django_db
def test_anonymous_api_request_is_refused(api_client_for, project):
    assert api_client_for().get("/api/projects/").status_code in (401, 403)
    assert api_client_for().get(f"/api/projects/{project.pk}/").status_code in (401, 403)


@pytest.mark.django_db
def test_owner_manages_members_and_classes(api_client_for, project, owner, people):
    client = api_client_for(owner)
    added = client.post(
        f"/api/projects/{project.pk}/members/",
        {"username": "oscar", "role": "viewer"},
        format="json",
    )
    assert added.status_code == 201 and added.json()["role"] == "viewer"
    promoted = client.patch(
        f"/api/projects/{project.pk}/members/{people['outsider'].pk}/",
        {"role": "annotator"},
        format="json",
    )
    assert promoted.json()["role"] == "annotator"
    rat = client.post(f"/api/projects/{project.pk}/classes/", {"name": "rat"}, format="json")
    assert rat.json()["index"] == 1
    # Removing the first class re-indexes the rest so YOLO class ids stay contiguous.
    client.delete(f"/api/projects/{project.pk}/classes/{project.classes.get(name='mouse').pk}/")
    assert list(LabelClass.objects.filter(project=project).values_list("name", "index")) == [
        ("rat", 0)
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload,field",
    [
        ({"username": "nobody", "role": "viewer"}, "username"),
        ({"username": "ann", "role": "admin"}, "role"),
    ],
)
def test_bad_member_input_is_a_400_naming_the_field(
    api_client_for, project, owner, people, payload, field
):
    response = api_client_for(owner).post(
        f"/api/projects/{project.pk}/members/", payload, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.django_db
def test_the_last_owner_cannot_be_demoted_or_removed(api_client_for, project, owner):
    client = api_client_for(owner)
    demote = client.patch(
        f"/api/projects/{project.pk}/members/{owner.pk}/", {"role": "viewer"}, format="json"
    )
    assert demote.status_code == 400 and "owner" in str(demote.json())
    assert client.delete(f"/api/projects/{project.pk}/members/{owner.pk}/").status_code == 400
    assert ProjectMembership.objects.get(project=project, user=owner).role == Role.OWNER


@pytest.mark.django_db
def test_duplicate_project_and_class_names_are_refused(api_client_for, project, owner):
    client = api_client_for(owner)
    dup = client.post("/api/projects/", {"name": "open FIELD"}, format="json")
    assert dup.status_code == 400 and "name" in dup.json()
    cls = client.post(f"/api/projects/{project.pk}/classes/", {"name": "Mouse"}, format="json")
    assert cls.status_code == 400 and "name" in cls.json()


@pytest.mark.django_db
def test_split_ratios_must_add_up_to_100(api_client_for, project, owner):
    response = api_client_for(owner).patch(
        f"/api/projects/{project.pk}/", {"split_train": 80, "split_val": 30}, format="json"
    )
    assert response.status_code == 400
    project.refresh_from_db()
    assert (project.split_train, project.split_val) == (50, 25)


@pytest.mark.django_db
def test_role_cannot_be_mass_assigned_on_project_creation(api_client_for, owner, people):
    response = api_client_for(people["outsider"]).post(
        "/api/projects/", {"name": "Mine", "members": [owner.pk], "is_staff": True}, format="json"
    )
    assert response.status_code == 201
    assert not people["outsider"].__class__.objects.get(pk=people["outsider"].pk).is_staff
    assert ProjectMembership.objects.filter(project_id=response.json()["id"]).count() == 1


# --- pages ------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "suffix", ["", "videos/", "label/", "training/", "evaluation/", "tracking/"]
)
def test_project_pages_are_404_for_non_members(client, project, people, suffix):
    client.force_login(people["outsider"])
    assert client.get(f"/projects/{project.pk}/{suffix}").status_code == 404
    client.force_login(people["viewer"])
    assert client.get(f"/projects/{project.pk}/{suffix}").status_code == 200


@pytest.mark.django_db
def test_pages_need_login(client, project):
    response = client.get(f"/projects/{project.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_viewer_cannot_post_member_changes_through_the_page(client, project, people):
    client.force_login(people["viewer"])
    response = client.post(
        f"/projects/{project.pk}/members/", {"username": "oscar", "role": "owner"}
    )
    assert response.status_code == 403
    assert not ProjectMembership.objects.filter(user=people["outsider"]).exists()


@pytest.mark.django_db
def test_user_text_is_escaped_in_pages(client, owner):
    from labeling.services import project_create

    project = project_create(
        name="<script>alert(1)</script>", owner=owner, description="<img src=x onerror=alert(2)>"
    )
    client.force_login(owner)
    for url in ("/projects/", f"/projects/{project.pk}/"):
        html = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<img src=x" not in html


@pytest.mark.django_db
def test_pages_send_a_strict_content_security_policy(client, owner):
    client.force_login(owner)
    response = client.get("/projects/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response["X-Content-Type-Options"] == "nosniff"


def _snapshot(project):
    project = Project.objects.filter(pk=project.pk).first()
    if project is None:
        return None
    return (
        project.description,
        sorted(project.memberships.values_list("user__username", "role")),
        sorted(project.classes.values_list("name", "index")),
    )
