"""Two organizers removing each other (or both leaving) at the same moment: one stays (PostgreSQL)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from tests.factories import create_group, create_user
from webapp.accounts.models import User
from webapp.db import db, utcnow
from webapp.groups import services
from webapp.groups.models import GroupOrganizer
from webapp.groups.services import LAST_ORGANIZER, GroupError

ROUNDS = 5  # the race is re-run a few times: without the lock, some round ends with nobody


@pytest.fixture(autouse=True)
def _postgres_only(db_kind):
    if db_kind != "postgres":
        pytest.skip("row locks between threads: PostgreSQL")


def two_organizers(session, n: int):
    group = create_group(slug=f"pair-{n}", organizers=[])
    users = [create_user(email=f"{who}{n}@example.org", display_name=f"{who.title()} {n}") for who in ("ann", "bob")]
    rows = []
    for position, user in enumerate(users):
        row = GroupOrganizer(group_id=group.id, name=user.display_name, user_id=user.id, email=user.email,
                             position=position)
        session.add(row)
        rows.append(row)
    session.flush()
    return group.id, [u.id for u in users], [r.id for r in rows]


def race(app, group_id: int, moves: list[tuple[int, int]]) -> list[object]:
    """Each (actor id, organizer row id) removal in its own thread and session, started together."""
    barrier = threading.Barrier(len(moves))
    outcomes: list[object] = [None] * len(moves)

    def remove(index: int, actor_id: int, organizer_id: int) -> None:
        with app.app_context():
            try:
                actor = db.session.get(User, actor_id)
                barrier.wait(timeout=30)
                services.remove_organizer(db.session, group_id, organizer_id, actor=actor, now=utcnow())
                db.session.commit()
                outcomes[index] = "removed"
            except GroupError as refused:
                db.session.rollback()
                outcomes[index] = refused
            except BaseException as exc:  # noqa: BLE001 - reported by the assertions
                outcomes[index] = SimpleNamespace(unexpected=exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=remove, args=(i, *move)) for i, move in enumerate(moves)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def organizer_count(group_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(GroupOrganizer.id)).where(GroupOrganizer.group_id == group_id))


def one_wins_each_race(app, session, *, each_removes: str) -> list[tuple[int, GroupError]]:
    """In ROUNDS groups of two organizers, Ann and Bob each remove `"the other"` or `"themselves"` at
    once. Exactly one removal goes through in each group; returns each group's id and the refusal."""
    pairs = [two_organizers(session, n) for n in range(ROUNDS)]
    session.commit()
    session.remove()
    refusals = []
    for group_id, (ann, bob), (ann_row, bob_row) in pairs:
        targets = (bob_row, ann_row) if each_removes == "the other" else (ann_row, bob_row)
        outcomes = race(app, group_id, [(ann, targets[0]), (bob, targets[1])])
        assert outcomes.count("removed") == 1, outcomes
        [refused] = [o for o in outcomes if isinstance(o, GroupError)]
        refusals.append((group_id, refused))
    return refusals


def test_two_organizers_removing_each_other_at_once_leave_one(app, session):
    for group_id, refused in one_wins_each_race(app, session, each_removes="the other"):
        # The loser was taken off first, so they may no longer remove anyone.
        assert refused.status == 403
        assert organizer_count(group_id) == 1


def test_two_organizers_leaving_at_once_leave_one(app, session):
    for group_id, refused in one_wins_each_race(app, session, each_removes="themselves"):
        assert refused.status == 409 and refused.message == LAST_ORGANIZER
        assert organizer_count(group_id) == 1
