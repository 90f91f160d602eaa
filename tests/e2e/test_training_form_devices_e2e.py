"""In real Chromium: the training form's device list is what the worker reports, the
"Auto" option is not cut off and the note under the button says what will happen."""

from __future__ import annotations

import pytest

from tests.conftest import login, screenshot, wait_for

pytestmark = pytest.mark.e2e


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_device_list_comes_from_the_worker_and_fits(page, celery_worker, owner, project):
    from django.core.cache import cache

    from webapp.worker_devices import workers_report

    def probed():
        cache.clear()
        report = workers_report(timeout=2.0)
        return report if report.workers and all(w.probed for w in report.workers) else None

    report = wait_for(probed, timeout=120, what="the worker's device probe")
    gpus = [g for w in report.consuming("gpu") for g in w.gpus]
    login(page, owner)
    page.goto(f"/projects/{project.pk}/training/new/")
    options = page.eval_on_selector_all("#id_device option", "els => els.map(e => e.textContent)")
    assert options[:2] == ["Auto (first GPU, else CPU)", "CPU"]
    assert len(options) == 2 + len({g["index"] for g in gpus})
    # The selected option's text fits in the select (its arrow takes about 2.25rem).
    room = page.evaluate(
        """() => {
          const s = document.querySelector('#id_device');
          const c = document.createElement('canvas').getContext('2d');
          c.font = getComputedStyle(s).font;
          return s.clientWidth - 36 - c.measureText(s.options[s.selectedIndex].text).width;
        }"""
    )
    assert room > 0, room
    note = page.text_content("#queue-note")
    assert "waits for a GPU worker" not in note
    if not gpus:
        assert "CPU-only worker" in note
    page.locator("#id_device").scroll_into_view_if_needed()
    screenshot(page, "training-form-devices")
    assert not page.js_errors, page.js_errors
