from datetime import timedelta

from tests.factories import create_event, create_group
from webapp.db import utcnow


def test_directory_lists_active_groups_then_resting_ones(client, session):
    create_group(name="Code4LibNYC", organizers=["Esther Jackson"])
    create_group(name="Web Archiving Interest Group", is_active=False)
    session.commit()

    html = client.get("/groups").get_data(as_text=True)

    assert "Esther Jackson" in html
    assert html.index("Code4LibNYC") < html.index("Groups not meeting at the moment")
    assert html.index("Groups not meeting at the moment") < html.index("Web Archiving Interest Group")


def test_directory_counts_upcoming_events(client, session):
    group = create_group(name="UX in Libraries")
    create_event(group)
    create_event(group)
    create_event(group, starts_at=utcnow() - timedelta(days=3))
    session.commit()
    assert "2 upcoming events" in client.get("/groups").get_data(as_text=True)


def test_group_page_shows_organizers_link_and_its_events(client, session):
    group = create_group(
        name="Code4LibNYC", slug="code4libnyc", organizers=["Esther Jackson", "Stephen Klein"],
        external_url="https://www.meetup.com/code4libnyc/",
    )
    other = create_group(name="Other group")
    create_event(group, title="Upcoming hack night")
    create_event(group, title="Last year's hack night", starts_at=utcnow() - timedelta(days=300))
    create_event(other, title="Not ours")
    session.commit()

    html = client.get("/groups/code4libnyc").get_data(as_text=True)

    assert "Esther Jackson" in html and "Stephen Klein" in html
    assert 'href="https://www.meetup.com/code4libnyc/"' in html
    assert html.index("Upcoming hack night") < html.index("Last year&#39;s hack night")
    assert "Not ours" not in html


def test_unknown_group_is_404(client):
    assert client.get("/groups/nope").status_code == 404
