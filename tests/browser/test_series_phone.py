"""Browser: a series page on a phone. Its sessions table has four columns (date, time, seats, you);
on 390 px they must wrap, never push the page sideways, for a member with a place in each."""

from __future__ import annotations

from tests.browser.conftest import assert_accessible, signed_in_cookie
from tests.factories import create_group, create_user
from tests.series.helpers import series_fields
from webapp.db import utcnow
from webapp.series import services

PHONE = {"width": 390, "height": 844}


def test_the_series_page_fits_a_phone(app, live_server, session, page, problems):
    group = create_group(slug="chat", name="METRO Community Chat")
    member = create_user(email="mel@example.org")
    session.commit()
    now = utcnow()
    series = services.create_series(session, group, series_fields(now, title="Café Cōde night", capacity=3),
                                    actor=None, now=now)
    services.register_for_series(session, series.id, member=member, now=now)
    session.commit()

    page.set_viewport_size(PHONE)
    signed_in_cookie(page, app, live_server, member)
    page.goto(f"{live_server.url}/series/{series.slug}")
    assert page.locator("#series-panel tbody tr").count() >= 2
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "the page scrolls sideways"
    assert_accessible(page, "series page on a phone")
