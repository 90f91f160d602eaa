"""Label classes added in parallel (real threads, own connections, the configured database):
never a 500, class names unique ignoring case, indexes stay 0..n-1."""

from __future__ import annotations

from collections import Counter

import pytest

from django.db import IntegrityError

from labeling.models import LabelClass
from labeling.services import label_class_add
from tests.labeling.annotations.test_annotation_concurrency import run_in_threads

THREADS = 10


@pytest.mark.django_db(transaction=True)
def test_parallel_adds_of_distinct_names_all_succeed_with_distinct_indexes(
    api_client_for, owner, project
):
    before = project.classes.count()
    url = f"/api/projects/{project.pk}/classes/"

    def add(i: int):
        return api_client_for(owner).post(url, {"name": f"mouse-{i}"}, format="json").status_code

    results = run_in_threads(THREADS, add)
    assert results == [201] * THREADS, results
    indexes = sorted(project.classes.values_list("index", flat=True))
    assert indexes == list(range(before + THREADS))


@pytest.mark.django_db(transaction=True)
def test_parallel_adds_of_one_name_in_any_case_create_it_once(api_client_for, owner, project):
    url = f"/api/projects/{project.pk}/classes/"
    variants = ["rat1", "RAT1", "rAT1", "Rat1", "raT1"]

    def add(i: int):
        response = api_client_for(owner).post(url, {"name": variants[i % 5]}, format="json")
        return response.status_code

    results = run_in_threads(THREADS, add)
    assert Counter(results) == {201: 1, 400: THREADS - 1}, results
    assert project.classes.filter(name__iexact="rat1").count() == 1


@pytest.mark.django_db
def test_the_database_refuses_a_case_variant_of_a_class_name(project):
    label_class_add(project=project, name="rat1")
    with pytest.raises(IntegrityError):
        LabelClass.objects.create(project=project, name="RAT1", index=99)
