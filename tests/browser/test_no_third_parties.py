"""Browser: no page asks another host for anything (no trackers, fonts, scripts or images from
elsewhere), for a visitor and for a signed-in organizer and admin who sees the most pages; the
privacy page that says so is axe-clean on a desktop and on a phone."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tests.browser.conftest import assert_accessible, signed_in_cookie
from tests.factories import create_user
from webapp.accounts.models import Role
from webapp.groups.models import Group, GroupOrganizer

SKIP = re.compile(r"\.(ics|csv|atom|json)$|/sign-out|/join/|/unsubscribe|/dev/mail")
PAGE_LIMIT = 80  # route shapes: a guard against a crawl that never ends, well above the ~35 there are
MEMBER_PAGES = ("/", "/my/events", "/my/groups", "/account", "/staff/groups", "/outbox", "/review", "/proposals")


def _shape(path: str, literals: set[str]) -> str:
    """/events/zine-fair/attendees -> /events/*/attendees: one page per route, whatever the slug."""
    return "/".join(part if part in literals else "*" for part in path.split("/"))


def _crawl(page, base: str, start: tuple[str, ...], literals: set[str]) -> tuple[set[str], list[str], list[str]]:
    """Every page reachable from `start`, one per path shape (/events/a and /events/b are one): the
    shapes, the requests any of them made to another host, and any link that answered an error."""
    own = urlsplit(base).netloc
    elsewhere: list[str] = []
    page.on("request", lambda request: urlsplit(request.url).netloc not in (own, "") and
            not request.url.startswith("data:") and elsewhere.append(f"{page.url} -> {request.url}"))
    todo = [base + path for path in start]
    seen: set[str] = set()
    broken: list[str] = []
    while todo and len(seen) < PAGE_LIMIT:
        url = todo.pop(0)
        shape = _shape(urlsplit(url).path, literals)
        if shape in seen:
            continue
        seen.add(shape)
        response = page.goto(url)
        if response.status >= 400:
            broken.append(f"{response.status} {url}")
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            parts = urlsplit(href)
            if parts.netloc == own and not SKIP.search(parts.path):
                todo.append(href.split("#")[0])
    return seen, elsewhere, broken


def test_no_page_requests_another_host(app, live_server, session, seeded, page, problems):
    # The fixed words of the site's routes; every other path segment is a slug, an id or a token.
    literals = {part for rule in app.url_map.iter_rules() for part in rule.rule.split("/") if "<" not in part}
    visited, elsewhere, broken = _crawl(page, live_server.url, ("/",), literals)
    assert len(visited) >= 8 and elsewhere == [] and broken == []

    admin = create_user(email="staff@example.org", roles=[Role.ADMIN, Role.STAFF, Role.REVIEWER])
    group = session.query(Group).filter_by(slug="code4libnyc").one()
    group.organizers.append(GroupOrganizer(name="Sam Staff", role="Organizer", user_id=admin.id, position=9))
    session.commit()
    signed_in_cookie(page, app, live_server, admin)
    visited, elsewhere, broken = _crawl(page, live_server.url, MEMBER_PAGES, literals)
    assert len(visited) > 20 and elsewhere == [] and broken == []


def test_the_privacy_page_is_accessible_and_fits_a_phone(live_server, page, problems):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name=re.compile("^Privacy")).click()
    assert page.get_by_role("heading", name="Privacy", level=1).is_visible()
    assert_accessible(page, "privacy page")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert_accessible(page, "privacy page on a phone")
