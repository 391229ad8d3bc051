"""The busy pages make the same number of queries whatever the number of events and groups."""


import pytest

from tests.factories import create_event, create_group
from tests.support.queries import count_queries
from webapp.db import db


def populate(groups: int, events_per_group: int) -> dict[str, str]:
    slugs: dict[str, str] = {}
    for _ in range(groups):
        group = create_group(organizers=["One", "Two"])
        slugs.setdefault("slug", group.slug)
        for _event in range(events_per_group):
            slugs.setdefault("event", create_event(group).slug)
    db.session.commit()
    return slugs


@pytest.mark.parametrize(
    "path", ["/", "/events", "/groups", "/groups/{slug}", "/events?q=Test", "/events/{event}"]
)
def test_query_count_does_not_grow_with_data(client, session, path):
    slugs = populate(groups=2, events_per_group=2)
    with count_queries() as few:
        assert client.get(path.format(**slugs)).status_code == 200
    populate(groups=10, events_per_group=4)
    with count_queries() as many:
        assert client.get(path.format(**slugs)).status_code == 200
    assert len(many) == len(few), many
    assert len(few) <= 6
