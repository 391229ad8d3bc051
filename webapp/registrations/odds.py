"""How far a group's waitlists moved before: what a waitlisted member reads beside their place in line.

Counted only from what was recorded (`waitlist_promotions`, written with each promotion), over the
group's last `WAITLIST_ODDS_EVENTS` full events: past events that had a waitlist (someone joined it),
not cancelled, made since promotions are recorded. Below `WAITLIST_ODDS_MIN_EVENTS` of them there
is no history to tell, and nothing is shown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.display import plural
from webapp.events.models import Event, EventStatus
from webapp.registrations.models import WaitlistPromotion

# What the sentence counts, said once wherever it is shown.
EXPLANATION = ("This counts this group’s past events that had a waitlist (cancelled ones aside) and the seats "
               "that went to people on it, when someone cancelled or the organizers added seats.")


@dataclass(frozen=True)
class WaitlistHistory:
    """Seats that went to the waitlist at each of a group's last full events, the most recent first."""

    seats: tuple[int, ...]

    explanation = EXPLANATION

    @property
    def events(self) -> int:
        return len(self.seats)

    @property
    def typical(self) -> int:
        """The most seats that at least half of the events gave their waitlist."""
        return sorted(self.seats, reverse=True)[(self.events + 1) // 2 - 1]

    @property
    def sentence(self) -> str:
        """One honest sentence: the typical case, and what the other events gave."""
        n, typical = self.events, self.typical
        last = f"this group’s last {n} full events"
        none = sum(1 for seats in self.seats if seats == 0)
        if typical == 0:
            if none == n:
                return f"At none of {last} did a seat go to anyone on the waitlist."
            return f"At {none} of {last}, no seat went to anyone on the waitlist."
        reached = sum(1 for seats in self.seats if seats >= typical)
        if reached == n:
            return f"At each of {last}, at least {plural(typical, 'seat')} went to people on the waitlist."
        head = f"At {reached} of {last}, {plural(typical, 'seat')} or more went to people on the waitlist"
        fewest = min(self.seats)
        if fewest == 0:
            return f"{head}; at {none}, none did."
        return f"{head}; at the other {n - reached}, at least {fewest} did."


def waitlist_histories(session: Session, group_ids, now: datetime) -> dict[int, WaitlistHistory]:
    """Each group's history, for the groups that have enough of it: one query for any number of groups."""
    group_ids = sorted({group_id for group_id in group_ids if group_id is not None})
    if not group_ids:
        return {}
    most = current_app.config["WAITLIST_ODDS_EVENTS"]
    least = max(1, min(current_app.config["WAITLIST_ODDS_MIN_EVENTS"], most))
    full = (
        select(Event.id, Event.group_id,
               func.row_number().over(partition_by=Event.group_id,
                                      order_by=(Event.starts_at.desc(), Event.id.desc())).label("rank"))
        .where(Event.group_id.in_(group_ids), Event.status == EventStatus.SCHEDULED,
               # Promotion stops at the start, so from then on the line's outcome is final.
               Event.starts_at <= now,
               # Queue numbers are handed out only to people joining the waitlist.
               Event.next_queue_number > 1,
               Event.is_waitlist_history_kept)
        .subquery()
    )
    seats = (
        select(WaitlistPromotion.event_id, func.count(WaitlistPromotion.id).label("seats"))
        .group_by(WaitlistPromotion.event_id).subquery()
    )
    rows = session.execute(
        select(full.c.group_id, func.coalesce(seats.c.seats, 0))
        .outerjoin(seats, seats.c.event_id == full.c.id)
        .where(full.c.rank <= most)
        .order_by(full.c.group_id, full.c.rank)
    )
    found: dict[int, list[int]] = defaultdict(list)
    for group_id, count in rows:
        found[group_id].append(count)
    return {group_id: WaitlistHistory(tuple(counts)) for group_id, counts in found.items() if len(counts) >= least}


def waitlist_history(session: Session, group_id: int | None, now: datetime) -> WaitlistHistory | None:
    """The group's waitlist history, or None while it has too little of one to tell."""
    return waitlist_histories(session, [group_id], now).get(group_id)
