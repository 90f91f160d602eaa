"""In real Chromium: log in, create a project, add a member."""

from __future__ import annotations

import pytest

from labeling.models import Project, ProjectMembership, Role
from tests.conftest import login, screenshot

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_log_in_create_a_project_and_add_a_member(page, make_user):
    pi = make_user("pi")
    make_user("student")
    page.goto("/accounts/login/")
    screenshot(page, "login")
    login(page, pi)
    assert page.url.endswith("/projects/")

    page.fill("#id_name", "Social defeat, open field")
    page.fill("#id_description", "640×480 top view, 2 mice")
    page.click("#project-create-form button[type=submit]")
    page.wait_for_selector("text=Members")
    project = Project.objects.get(name="Social defeat, open field")
    assert page.url.endswith(f"/projects/{project.pk}/")

    page.fill("#member-form #id_username", "student")
    page.select_option("#member-form #id_role", "annotator")
    page.click("#member-form button[type=submit]")
    page.wait_for_selector("#members >> text=student")
    assert ProjectMembership.objects.get(project=project, user__username="student").role == (
        Role.ANNOTATOR
    )
    # A name that does not exist is a form error, not a crash.
    page.fill("#member-form #id_username", "nobody")
    page.click("#member-form button[type=submit]")
    page.wait_for_selector("text=No user named")
    screenshot(page, "project-detail")
    assert not page.js_errors, page.js_errors

    page.goto("/projects/")
    assert page.locator("text=Social defeat, open field").is_visible()
    screenshot(page, "project-list")
