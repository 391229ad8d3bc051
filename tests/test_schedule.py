"""The scheduler's every entry names a task a worker loads: a task name typed wrong, or a module
missing from `include`, would be silently never run (Celery logs a KeyError in the worker only)."""

from __future__ import annotations

import re
from pathlib import Path

from webapp.config import celery_settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_scheduled_task_is_defined_in_a_module_the_worker_includes(tmp_path):
    settings = celery_settings(None, tmp_path)
    defined = {}
    for module in settings["include"]:
        source = (ROOT / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8")
        defined.update({name: module for name in re.findall(r'@shared_task\(name="([^"]+)"', source)})
    scheduled = {entry["task"] for entry in settings["beat_schedule"].values()}
    assert "tasks.privacy.erase_expired_data" in scheduled
    assert scheduled <= set(defined), scheduled - set(defined)
