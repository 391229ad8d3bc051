"""How an event is presented to anyone: add-to-calendar links, link previews, the place once and in
few words. Through the test client where it is a page, on the functions where it is a rule."""

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import create_event, create_group
from webapp.events.calendar import calendar_links, google_calendar_url, outlook_calendar_url
from webapp.events.models import EventStatus
from webapp.events.presentation import address_after_venue, full_place, locality, map_search_url, short_place

# Thursday 10 December 2099 (far ahead: always upcoming), 6–7:30 PM in New York (EST, UTC−5):
# 23:00–00:30 UTC, the next day.
STARTS = datetime(2099, 12, 10, 23, 0, tzinfo=UTC)
ENDS = STARTS + timedelta(minutes=90)
MEETING = "https://zoom.us/j/987654321?pwd=secret"
TRICKY_TITLE = 'Maps & Zines: <b>"Ünïcödé"</b> café'


class _Head(HTMLParser):
    """The page's <meta> tags (property or name → content) and <link rel> hrefs, as a browser reads them."""

    def __init__(self):
        super().__init__()
        self.meta, self.links = {}, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and "content" in attrs:
            self.meta[attrs.get("property") or attrs.get("name")] = attrs["content"]
        elif tag == "link" and "rel" in attrs:
            self.links[attrs["rel"]] = attrs["href"]


def head_of(html: str) -> _Head:
    parser = _Head()
    parser.feed(html)
    return parser


@pytest.fixture(autouse=True)
def in_a_request(app):
    """calendar_links names the .ics file by the page's own address, as on the page."""
    with app.test_request_context():
        yield


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def online(session):
    group = create_group(name="Web Archiving Interest Group", slug="web-archiving")
    event = create_event(group, slug="maps-zines", title=TRICKY_TITLE, summary="Bring a map & a zine.",
                         starts_at=STARTS, ends_at=ENDS, meeting_url=MEETING)
    session.commit()
    return event


@pytest.fixture
def in_person(session):
    event = create_event(None, slug="xfr", title="XFR Collective", is_online=False, venue_name="METRO",
                         venue_address="METRO, 599 Eleventh Avenue, 8th Floor, New York, NY 10036",
                         starts_at=STARTS, ends_at=ENDS, meeting_url=None)
    session.commit()
    return event


# --- Add-to-calendar links ------------------------------------------------------------------------


def test_google_link_gives_the_times_in_utc_and_the_title_whole(online):
    fields = query(google_calendar_url(online))

    assert fields["dates"] == "20991210T230000Z/20991211T003000Z"
    assert fields["text"] == TRICKY_TITLE
    assert "http://meetups.test/events/maps-zines" in fields["details"]


def test_outlook_links_give_the_times_in_utc_for_personal_and_work_accounts(online):
    live, office = outlook_calendar_url(online, "live"), outlook_calendar_url(online, "office")

    assert urlsplit(live).netloc == "outlook.live.com" and urlsplit(office).netloc == "outlook.office.com"
    for url in (live, office):
        fields = query(url)
        assert (fields["startdt"], fields["enddt"]) == ("2099-12-10T23:00:00Z", "2099-12-11T00:30:00Z")
        assert fields["subject"] == TRICKY_TITLE
        assert fields["rru"] == "addevent"


def test_titles_with_ampersands_markup_and_accents_cannot_break_out_of_their_parameter(online):
    for link in calendar_links(online)[1:]:  # the .ics file is the page's own address
        raw_query = urlsplit(link.url).query
        # Every character that could end a parameter or open a tag arrives percent-encoded...
        assert not any(c in raw_query for c in '<>" ')
        assert raw_query.count("&") == len(query(link.url)) - 1
        # ...and the title comes back whole, accents and all.
        assert TRICKY_TITLE in query(link.url).values()


def test_no_calendar_link_ever_carries_the_meeting_link(client, online):
    page = client.get("/events/maps-zines").get_data(as_text=True)
    ics = client.get("/events/maps-zines/calendar.ics").get_data(as_text=True)

    for url in [link.url for link in calendar_links(online)]:
        assert MEETING not in url and "zoom.us" not in url
        assert "zoom.us/j" not in str(query(url))
    assert "zoom.us/j" not in page and "zoom.us/j" not in ics


def test_signed_out_visitors_see_every_add_to_calendar_choice_on_the_page(client, online):
    html = client.get("/events/maps-zines").get_data(as_text=True)

    assert 'href="/events/maps-zines/calendar.ics" download' in html
    for host in ("https://calendar.google.com/calendar/render?", "https://outlook.live.com/calendar/deeplink/compose?",
                 "https://outlook.office.com/calendar/deeplink/compose?"):
        assert f'href="{host}' in html
    assert "Link to this event: <a href=\"http://meetups.test/events/maps-zines\">" in html


def test_a_cancelled_event_offers_no_calendar_links(client, session, online):
    online.status = EventStatus.CANCELLED
    session.commit()

    html = client.get("/events/maps-zines").get_data(as_text=True)

    assert calendar_links(online) == []
    assert "Add to calendar" not in html and "calendar.google.com" not in html


# --- Link previews (Open Graph, Twitter cards) ----------------------------------------------------


def test_an_online_event_page_previews_with_its_title_date_group_and_site_url(client, online):
    head = head_of(client.get("/events/maps-zines").get_data(as_text=True))

    assert head.meta["og:title"] == TRICKY_TITLE == head.meta["twitter:title"]
    assert head.meta["og:url"] == "http://meetups.test/events/maps-zines" == head.links["canonical"]
    assert head.meta["og:type"] == "website"
    assert head.meta["twitter:card"] == "summary"
    description = head.meta["og:description"]
    assert description.startswith("Thursday, December 10, 2099, 6\u202fPM\u20137:30\u202fPM EST · Online")
    assert "Hosted by Web Archiving Interest Group." in description
    assert "Bring a map & a zine." in description
    assert head.meta["twitter:description"] == description


def test_preview_tags_are_escaped_and_never_name_the_meeting_link(client, online):
    html = client.get("/events/maps-zines").get_data(as_text=True)

    assert '<meta property="og:title" content="Maps &amp; Zines: &lt;b&gt;&#34;Ünïcödé&#34;&lt;/b&gt; café">' in html
    assert "<b>" not in html.split("</head>")[0]
    assert "zoom.us" not in html


def test_an_in_person_event_previews_with_its_place(client, in_person):
    head = head_of(client.get("/events/xfr").get_data(as_text=True))

    assert "In person at METRO, Manhattan · Hosted by METRO." in head.meta["og:description"]
    assert head.meta["og:url"] == "http://meetups.test/events/xfr"


def test_a_group_page_previews_with_its_name_and_next_event(client, online):
    head = head_of(client.get("/groups/web-archiving").get_data(as_text=True))

    assert head.meta["og:title"] == "Web Archiving Interest Group"
    assert head.meta["og:url"] == "http://meetups.test/groups/web-archiving"
    assert head.meta["og:description"].startswith(
        f"Next: Thursday, December 10, 2099, 6\u202fPM\u20137:30\u202fPM EST · {TRICKY_TITLE}.")
    assert "A group for testing." in head.meta["og:description"]
    assert head.meta["twitter:card"] == "summary"


# --- Where: the venue once, the map link, the short place ------------------------------------------


def test_the_venue_is_named_once_when_the_address_repeats_it(client, in_person):
    html = client.get("/events/xfr").get_data(as_text=True)

    assert address_after_venue(in_person) == "599 Eleventh Avenue, 8th Floor, New York, NY 10036"
    assert full_place(in_person) == "METRO, 599 Eleventh Avenue, 8th Floor, New York, NY 10036"
    assert "METRO, 599" not in html
    assert ("https://www.openstreetmap.org/search?query=599%20Eleventh%20Avenue%2C%208th%20Floor%2C%20"
            "New%20York%2C%20NY%2010036") in html
    assert 'rel="noopener noreferrer">599 Eleventh Avenue, 8th Floor, New York, NY 10036' in html


def test_the_calendar_file_names_the_venue_once(client, in_person):
    ics = client.get("/events/xfr/calendar.ics").get_data(as_text=True)

    assert "LOCATION:METRO\\, 599 Eleventh Avenue" in ics
    assert "METRO\\, METRO" not in ics


@pytest.mark.parametrize(("venue", "address", "place"), [
    ("METRO", "METRO, 599 Eleventh Avenue, 8th Floor, New York, NY 10036", "In person · METRO, Manhattan"),
    ("Brooklyn Public Library", "10 Grand Army Plaza, Brooklyn, NY", "In person · Brooklyn Public Library, Brooklyn"),
    ("Queens Central Library", "89-11 Merrick Blvd, Jamaica, NY 11432", "In person · Queens Central Library, Jamaica"),
    ("Library", "1 Main St", "In person · Library"),
    ("Mid-Manhattan Library", "New York, NY 10016", "In person · Mid-Manhattan Library, Manhattan"),
    ("Library", None, "In person · Library"),
    ("Brooklyn", "Brooklyn, NY", "In person · Brooklyn"),
    ("METROpolitan Hall", "METROpolitan Hall, 5 Elm St, Yonkers, NY", "In person · METROpolitan Hall, Yonkers"),
])
def test_the_short_place_on_a_card_is_the_venue_and_its_town(session, venue, address, place):
    event = create_event(is_online=False, venue_name=venue, venue_address=address)

    assert short_place(event) == place


def test_a_venue_name_inside_a_longer_word_is_not_taken_off_the_address(session):
    event = create_event(is_online=False, venue_name="METRO", venue_address="METROtech Center, Brooklyn, NY")

    assert address_after_venue(event) == "METROtech Center, Brooklyn, NY"
    assert locality("5 Elm St, Suite 3") is None
    assert locality("1 Main St, New York") == "Manhattan"


def test_an_online_event_has_no_map_and_says_online(session):
    event = create_event(is_online=True)

    assert short_place(event) == "Online"
    assert map_search_url(event) is None


def test_event_cards_say_where_in_few_words(client, online, in_person):
    html = client.get("/events").get_data(as_text=True)

    assert ">In person · METRO, Manhattan</p>" in html
    assert ">Online</p>" in html


def test_online_times_carry_their_zone_and_offset_for_the_local_time_script(client, online, in_person):
    page = client.get("/events/maps-zines").get_data(as_text=True)
    cards = client.get("/events").get_data(as_text=True)

    marked = ('<time class="event-time" datetime="2099-12-10T23:00:00+00:00" data-ends-at="2099-12-11T00:30:00+00:00"\n'
              '        data-site-zone="America/New_York">6\u202fPM\u20137:30\u202fPM EST</time>')
    assert marked in page and marked in cards
    assert cards.count('class="event-time" datetime=') == 1  # the in-person card is not converted
    assert 'src="/static/event-page.js" defer' in page and 'src="/static/event-page.js" defer' in cards
