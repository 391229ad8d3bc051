"""A member's private calendar feed over HTTP, read back with vobject (icalendar wrote it): what it lists,
the join link inside the reminder window only, its 304s, its secret address and resetting it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import vobject
from bs4 import BeautifulSoup
from sqlalchemy import select

from tests.conftest import post_form
from tests.factories import create_event, create_group, create_user
from webapp.events import changes as event_changes
from webapp.feeds.private import private_calendar_secret
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration
from webapp.registrations.tokens import join_url

pytestmark = pytest.mark.usefixtures("fresh_request_globals")

ZOOM = "https://zoom.us/j/7770001234"
T0 = datetime(2027, 5, 3, 16, tzinfo=UTC)  # the clock the tests register at


@pytest.fixture
def freeze(monkeypatch, app):
    """freeze(datetime): every feed request (and join link) after it sees that instant."""
    def set_now(now: datetime):
        monkeypatch.setattr("webapp.feeds.views.utcnow", lambda: now)
        monkeypatch.setattr("webapp.reminders.views.utcnow", lambda: now)
    set_now(T0)
    return set_now


@pytest.fixture
def calendar_client(app):
    """A calendar app: a client of its own that never signed in and sends no cookie."""
    return app.test_client(use_cookies=False)


def feed_path(session, member) -> str:
    secret = private_calendar_secret(session, member, now=T0)
    session.commit()
    return f"/my/calendar/{secret}.ics"


def read(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/calendar"
    return vobject.readOne(response.get_data(as_text=True))


def entries(response) -> dict[str, object]:
    return {str(v.summary.value): v for v in getattr(read(response), "vevent_list", [])}


def status_of(vevent) -> str | None:
    return vevent.status.value if hasattr(vevent, "status") else None


def register(session, event, member, *, now=T0):
    outcome = registrations.register(session, event.id, member=member, now=now)
    session.commit()
    return outcome.registration


def soon(**fields):
    """An online event three days after T0, with a meeting link."""
    starts = fields.pop("starts_at", T0 + timedelta(days=3))
    return create_event(fields.pop("group", None), starts_at=starts, ends_at=starts + timedelta(hours=1),
                        meeting_url=fields.pop("meeting_url", ZOOM), **fields)


def test_lists_the_events_the_member_is_confirmed_for_and_no_one_elses(session, calendar_client, freeze):
    member, other = create_user(), create_user()
    seat = soon(title="Got a seat", sequence=2)
    full = soon(title="Full up", capacity=1)
    left = soon(title="Left the line", capacity=1)
    theirs = soon(title="Someone else's")
    register(session, full, other)
    register(session, left, other)
    register(session, theirs, other)
    register(session, seat, member)
    register(session, full, member)  # waitlisted
    waiting = register(session, left, member)
    registrations.cancel(session, waiting, now=T0)  # left the waitlist: never had a seat
    session.commit()

    response = calendar_client.get(feed_path(session, member))

    listed = entries(response)
    assert set(listed) == {"Got a seat"}
    assert status_of(listed["Got a seat"]) is None
    # The same UID and SEQUENCE as the mails' calendar files and the group feeds.
    assert listed["Got a seat"].uid.value.startswith(f"event-{seat.id}@")
    assert listed["Got a seat"].sequence.value == "2"
    assert read(response).x_wr_calname.value == "My events · METRO Meetups"


def test_a_waitlisted_member_sees_the_event_appear_once_promoted(session, calendar_client, freeze):
    first, second = create_user(), create_user()
    event = soon(title="One seat", capacity=1)
    seated = register(session, event, first)
    register(session, event, second)
    path = feed_path(session, second)
    before = calendar_client.get(path)
    assert entries(before) == {}

    registrations.cancel(session, seated, now=T0 + timedelta(hours=1))  # the seat goes to `second`
    session.commit()

    after = calendar_client.get(path, headers={"If-None-Match": before.headers["ETag"]})
    assert set(entries(after)) == {"One seat"}
    assert status_of(entries(after)["One seat"]) is None


def test_a_cancelled_registration_stays_as_cancelled_then_goes(session, calendar_client, freeze, app):
    member = create_user()
    event = soon(title="Changed my mind", starts_at=T0 + timedelta(days=60))
    registration = register(session, event, member)
    path = feed_path(session, member)
    assert status_of(entries(calendar_client.get(path))["Changed my mind"]) is None

    cancelled_at = T0 + timedelta(hours=2)
    registrations.cancel(session, registration, now=cancelled_at)
    session.commit()
    days = app.config["FEED_CANCELLED_DAYS"]

    freeze(cancelled_at + timedelta(days=days - 1))
    kept = entries(calendar_client.get(path))["Changed my mind"]
    assert status_of(kept) == "CANCELLED"
    assert kept.uid.value.startswith(f"event-{event.id}@")
    assert kept.dtstamp.value >= cancelled_at  # revised when the member cancelled
    freeze(cancelled_at + timedelta(days=days + 1))
    assert entries(calendar_client.get(path)) == {}


def test_a_cancelled_event_stays_as_cancelled_with_its_new_sequence(session, calendar_client, freeze):
    member = create_user()
    event = soon(title="Called off", sequence=1)
    register(session, event, member)
    event_changes.cancel_event(session, event.id, now=T0 + timedelta(hours=1))
    session.commit()

    called_off = entries(calendar_client.get(feed_path(session, member)))["Called off"]
    assert status_of(called_off) == "CANCELLED"
    assert called_off.sequence.value == "2"


class TestJoinLink:
    def test_absent_before_the_window_then_the_members_own_link_inside_it(self, session, calendar_client,
                                                                          freeze, app):
        member, other = create_user(), create_user()
        event = soon(title="On Zoom")
        registration = register(session, event, member)
        register(session, event, other)
        path = feed_path(session, member)
        window = timedelta(hours=app.config["REMINDER_WINDOW_HOURS"])

        freeze(event.starts_at - window - timedelta(seconds=1))
        before = calendar_client.get(path)
        body = before.get_data(as_text=True)
        assert "/join/" not in body and "zoom.us" not in body and "7770001234" not in body
        assert entries(before)["On Zoom"].location.value.startswith("Online (Zoom)")

        freeze(event.starts_at - window)
        inside = calendar_client.get(path, headers={"If-None-Match": before.headers["ETag"]})
        body = inside.get_data(as_text=True)
        assert "zoom.us" not in body and "7770001234" not in body  # never the raw meeting URL
        own_link = join_url(registration)
        assert entries(inside)["On Zoom"].location.value == own_link
        theirs = session.scalar(select(Registration).where(Registration.user_id == other.id))
        assert join_url(theirs) not in body
        # It is the member's working /join/ link: it lets them through to the meeting.
        joined = calendar_client.get(urlsplit(own_link).path)
        assert joined.status_code == 303 and joined.headers["Location"] == ZOOM

        freeze(event.ends_at)
        after = calendar_client.get(path, headers={"If-None-Match": inside.headers["ETag"]})
        assert "/join/" not in after.get_data(as_text=True)

    def test_a_client_polling_by_date_gets_the_link_when_the_window_opens(self, session, calendar_client,
                                                                           freeze, app):
        member = create_user()
        event = soon(title="On Zoom")
        register(session, event, member)
        path = feed_path(session, member)
        opens = event.starts_at - timedelta(hours=app.config["REMINDER_WINDOW_HOURS"])

        freeze(opens - timedelta(minutes=5))
        before = calendar_client.get(path)
        assert calendar_client.get(path, headers={"If-Modified-Since": before.headers["Last-Modified"]}
                                   ).status_code == 304
        freeze(opens + timedelta(minutes=5))
        later = calendar_client.get(path, headers={"If-Modified-Since": before.headers["Last-Modified"]})
        assert later.status_code == 200 and "/join/" in later.get_data(as_text=True)

    def test_never_in_the_group_or_site_feeds_even_for_a_confirmed_member_inside_the_window(
            self, session, client, signed_in_client, freeze, app):
        member = create_user()
        group = create_group(slug="zoomers")
        event = soon(group=group, title="On Zoom")
        register(session, event, member)
        freeze(event.starts_at - timedelta(hours=1))
        signed_in_client(member)
        for path in ("/groups/zoomers/calendar.ics", "/calendar.ics"):
            body = client.get(path).get_data(as_text=True)
            assert "On Zoom" in body
            assert "/join/" not in body and "zoom.us" not in body


class TestConditional:
    def test_304_for_the_same_etag_and_nothing_rendered(self, session, calendar_client, freeze, monkeypatch):
        from tests.support.queries import count_queries

        member = create_user()
        register(session, soon(), member)
        path = feed_path(session, member)
        first = calendar_client.get(path)
        etag = first.headers["ETag"]
        assert etag and first.headers["Last-Modified"]

        monkeypatch.setattr("webapp.feeds.private.calendar_feed_ics",
                            lambda *a, **k: pytest.fail("rendered for a 304"))
        with count_queries() as statements:
            again = calendar_client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == etag
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2, statements

    def test_the_etag_changes_with_the_members_registrations_and_the_events(self, session, calendar_client,
                                                                            freeze):
        member = create_user()
        event = soon(title="Before")
        registration = register(session, event, member)
        path = feed_path(session, member)
        etag = calendar_client.get(path).headers["ETag"]

        event.title = "After"
        session.commit()
        edited = calendar_client.get(path, headers={"If-None-Match": etag})
        assert edited.status_code == 200 and set(entries(edited)) == {"After"}

        registrations.cancel(session, registration, now=T0 + timedelta(hours=1))
        session.commit()
        cancelled = calendar_client.get(path, headers={"If-None-Match": edited.headers["ETag"]})
        assert cancelled.status_code == 200 and status_of(entries(cancelled)["After"]) == "CANCELLED"

    def test_another_members_registration_elsewhere_changes_nothing(self, session, calendar_client, freeze):
        member, other = create_user(), create_user()
        register(session, soon(), member)
        path = feed_path(session, member)
        etag = calendar_client.get(path).headers["ETag"]
        register(session, soon(), other)
        assert calendar_client.get(path, headers={"If-None-Match": etag}).status_code == 304


class TestAddress:
    def test_private_headers_no_cookie_and_never_in_the_page_cache(self, session, calendar_client, freeze, app):
        member = create_user()
        register(session, soon(), member)
        path = feed_path(session, member)
        cache = app.extensions["pagecache"]
        stored = len(cache)

        response = calendar_client.get(path)

        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "private, no-cache"
        assert response.headers["X-Robots-Tag"] == "noindex"
        assert "Set-Cookie" not in response.headers
        calendar_client.get(path)
        assert len(cache) == stored

    def test_each_member_has_their_own_address(self, session, calendar_client, freeze):
        one, two = create_user(), create_user()
        register(session, soon(title="One's"), one)
        register(session, soon(title="Two's"), two)
        assert feed_path(session, one) != feed_path(session, two)
        assert feed_path(session, one) == feed_path(session, one)  # the same every time it is asked for
        assert set(entries(calendar_client.get(feed_path(session, one)))) == {"One's"}
        assert set(entries(calendar_client.get(feed_path(session, two)))) == {"Two's"}

    @pytest.mark.parametrize("secret", [
        "A" * 43,  # the right shape, nobody's
        "x",
        "é" * 43,
        "<b>" + "a" * 40,
        "a" * 5000,
        "%ff" * 15,
        "' OR 1=1 --" + "a" * 32,
    ], ids=["nobodys", "short", "non-ascii", "markup", "huge", "bad-utf8", "sql"])
    def test_a_wrong_or_garbled_secret_is_404_and_says_nothing_more(self, session, calendar_client, freeze,
                                                                    secret):
        member = create_user()
        register(session, soon(title="Private business"), member)
        feed_path(session, member)
        nobody = "/my/calendar/" + "B" * 43 + ".ics"
        path = f"/my/calendar/{secret}.ics"
        response = calendar_client.get(path)
        assert response.status_code == 404
        html = response.get_data(as_text=True)

        def said(page: str) -> str:
            return BeautifulSoup(page, "html.parser").select_one("main").get_text(" ", strip=True)
        assert said(html) == said(calendar_client.get(nobody).get_data(as_text=True))  # whatever was wrong
        assert "Private business" not in html

    def test_a_nul_byte_is_refused_by_the_site_wide_rule_not_a_500(self, session, calendar_client):
        response = calendar_client.get("/my/calendar/%00" + "a" * 42 + ".ics")
        assert response.status_code == 400  # webapp/requests.py refuses NUL in any URL

    def test_reset_ends_the_old_address_at_once_and_nothing_else(self, session, client, signed_in_client, app,
                                                                freeze):
        member = create_user()
        register(session, soon(title="Mine"), member)
        old = feed_path(session, member)
        elsewhere = app.test_client()  # the member's other browser, signed in too
        signed_in_client(member)
        from tests.conftest import sign_in_as

        sign_in_as(elsewhere, member)
        calendar = app.test_client(use_cookies=False)
        assert calendar.get(old).status_code == 200  # and so a stored copy, if anything kept one

        from webapp.pagecache import read_content_version

        version = read_content_version()
        response = post_form(client, "/account/calendar/reset")

        # No public page shows it, but My events (kept per member by the page cache) does: a new number.
        assert read_content_version() != version
        assert response.status_code == 303
        assert response.headers["Location"].endswith("/account?calendar=reset#private-calendar")
        assert calendar.get(old).status_code == 404
        new = feed_path(session, member)
        assert new != old and set(entries(calendar.get(new))) == {"Mine"}
        page = client.get("/account")
        assert page.status_code == 200  # still signed in here...
        assert elsewhere.get("/account").status_code == 200  # ...and on the other browser
        html = client.get("/account?calendar=reset").get_data(as_text=True)
        assert "The old one has stopped working" in html
        assert new in html and old not in html

    def test_reset_by_htmx_answers_with_the_new_address_in_place(self, session, client, signed_in_client, freeze):
        member = create_user()
        old = feed_path(session, member)
        signed_in_client(member)
        response = post_form(client, "/account/calendar/reset", headers={"HX-Request": "true"})
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
        assert soup.select_one("section")["id"] == "private-calendar"
        assert soup.select_one("#private-calendar-url")["value"].endswith(feed_path(session, member))
        assert old not in response.get_data(as_text=True)
        assert "The old one has stopped working" in soup.get_text()

    def test_reset_needs_the_csrf_token_and_a_member(self, session, client, signed_in_client, freeze):
        member = create_user()
        old = feed_path(session, member)
        assert client.post("/account/calendar/reset").status_code in (302, 303, 400)
        signed_in_client(member)
        assert client.post("/account/calendar/reset").status_code == 400  # no CSRF token
        assert feed_path(session, member) == old


class TestPages:
    def test_account_page_shows_the_address_with_subscribe_links(self, session, client, signed_in_client, app):
        member = create_user()
        signed_in_client(member)
        soup = BeautifulSoup(client.get("/account").get_data(as_text=True), "html.parser")

        box = soup.select_one("#private-calendar")
        address = box.select_one("#private-calendar-url")["value"]
        site = urlsplit(app.config["SITE_URL"])
        assert address == f"{site.scheme}://{site.netloc}{feed_path(session, member)}"
        assert box.find("label", attrs={"for": "private-calendar-url"}) is not None
        links = {a.get_text(strip=True): a["href"] for a in box.select("a")}
        webcal = address.replace(f"{site.scheme}://", "webcal://", 1)
        assert links["Apple Calendar and other apps"] == webcal
        assert parse_qs(urlsplit(links["Google Calendar"]).query) == {"cid": [webcal]}
        assert parse_qs(urlsplit(links["Outlook.com"]).query)["url"] == [address]
        assert box.select_one("button[data-copy-from=private-calendar-url]") is not None
        reset = box.select_one("form[action='/account/calendar/reset']")
        assert reset["method"] == "post" and reset.select_one("input[name=csrf_token]")["value"]
        assert "stops working at once" in box.get_text()
        assert client.get(urlsplit(address).path).status_code == 200

    def test_my_events_subscribes_to_the_same_private_feed(self, session, client, signed_in_client, app):
        member = create_user()
        signed_in_client(member)
        account = BeautifulSoup(client.get("/account").get_data(as_text=True), "html.parser")
        mine = BeautifulSoup(client.get("/my/events").get_data(as_text=True), "html.parser")

        box = mine.select_one("section.private-subscribe")
        assert box.find("h2").get_text(strip=True) == "Subscribe"
        address = account.select_one("#private-calendar-url")["value"]
        assert box.select_one("#private-calendar-url")["value"] == address
        links = {a.get_text(strip=True): a["href"] for a in box.select("a")}
        assert parse_qs(urlsplit(links["Outlook.com"]).query)["url"] == [address]
        assert links["reset it on your account page"] == "/account#private-calendar"

    def test_a_first_sign_in_welcome_makes_no_address(self, session, client, signed_in_client):
        from webapp.feeds.models import PrivateCalendar

        member = create_user(display_name=None)
        signed_in_client(member)
        page = client.get("/account?welcome=1").get_data(as_text=True)
        assert "private-calendar" not in page
        assert session.query(PrivateCalendar).count() == 0
