"""`make screenshots` keeps up with the site: its page list names the pages the README shows, and
every committed picture is one the script writes (a renamed page leaves no stale PNG behind)."""

from __future__ import annotations

import re
from pathlib import Path

from scripts import screenshots

ROOT = Path(__file__).resolve().parent.parent


def test_the_script_photographs_the_main_pages_and_two_mails():
    assert screenshots.SHOT_NAMES == ["home", "events", "event", "group", "my-events", "attendees",
                                      "proposal-form", "mail-confirmation", "mail-reminder"]
    assert {shot.who for shot in screenshots.PAGES} == {None, "member", "organizer"}
    assert screenshots.SIZES == {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def test_the_committed_pictures_are_the_ones_the_script_writes():
    expected = {f"{name}-{size}.png" for name in screenshots.SHOT_NAMES for size in screenshots.SIZES}
    committed = {path.name for path in (ROOT / "docs" / "screenshots").glob("*.png")}
    assert committed == expected


def test_the_readme_shows_pictures_that_exist():
    shown = re.findall(r"\]\((docs/screenshots/[^)]+\.png)\)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert 3 <= len(shown) <= 8
    for path in shown:
        assert (ROOT / path).is_file(), path
