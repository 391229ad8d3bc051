"""Property-based: any sequence of register / cancel / capacity changes / an organizer removing someone or
giving a seat by hand (with the capacity their page showed, or a stale one) keeps the rules."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.factories import create_event, create_user
from webapp.db import utcnow
from webapp.registrations import services
from webapp.registrations.models import Registration, RegistrationStatus

MEMBERS = 6
steps = st.lists(
    st.one_of(
        st.tuples(st.just("register"), st.integers(0, MEMBERS - 1)),
        st.tuples(st.just("cancel"), st.integers(0, MEMBERS - 1)),
        st.tuples(st.just("capacity"), st.one_of(st.none(), st.integers(1, 5))),
        st.tuples(st.just("remove"), st.integers(0, MEMBERS - 1)),
        # (the n-th in line, or a member when nobody waits; whether the organizer's page was stale)
        st.tuples(st.just("promote"), st.tuples(st.integers(0, MEMBERS - 1), st.booleans())),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(initial_capacity=st.integers(1, 4), registered_first=st.integers(0, MEMBERS), actions=steps)
def test_rules_hold_after_every_step(session, initial_capacity, registered_first, actions):
    event = create_event(capacity=initial_capacity)
    members = [create_user() for _ in range(MEMBERS)]
    # The model: who holds a seat, and who waits in which order.
    seated: set[int] = set()
    line: list[int] = []
    capacity = initial_capacity
    organizer = create_user()

    def promote_model():
        while line and (capacity is None or len(seated) < capacity):
            seated.add(line.pop(0))

    # Often a line already, so removals and seats given by hand meet people waiting.
    for action, arg in [("register", i) for i in range(registered_first)] + actions:
        now = utcnow()
        if action == "register":
            member = members[arg]
            if member.id not in seated and member.id not in line:
                if capacity is None or (len(seated) < capacity and not line):
                    seated.add(member.id)
                else:
                    line.append(member.id)
            services.register(session, event.id, member=member, now=now)
        elif action in ("cancel", "remove"):
            member = members[arg]
            registration = services.registration_for_id(session, event.id, member.id)
            if registration is not None:
                seated.discard(member.id)
                if member.id in line:
                    line.remove(member.id)
                if action == "cancel":
                    services.cancel(session, registration, now=now)
                else:
                    services.remove(session, event.id, registration.id, actor=organizer, now=now)
                promote_model()
        elif action == "promote":
            by_id = {m.id: m for m in members}
            member, stale = (by_id[line[arg[0] % len(line)]] if line and arg[0] < 4 else members[arg[0]]), arg[1]
            registration = services.registration_for_id(session, event.id, member.id)
            needs_a_raise = capacity is not None and len(seated) >= capacity
            waiting, has_seat = member.id in line, member.id in seated
            refused = not (waiting or has_seat) or (waiting and needs_a_raise and stale)
            if registration is not None:
                shown = capacity + 1 if stale and capacity is not None else capacity
                try:
                    outcome = services.promote_by_hand(session, event.id, registration.id,
                                                       expected_capacity=shown, now=now)
                except services.RegistrationError:
                    assert refused, "a seat given by hand was refused"
                else:
                    assert not refused, "a seat was given to someone not waiting, or on a stale page"
                    assert outcome.changed == waiting
                    if waiting:
                        line.remove(member.id)
                        seated.add(member.id)
                        if needs_a_raise:
                            capacity += 1
                        assert outcome.capacity_raised == ((capacity - 1, capacity) if needs_a_raise else None)
        else:
            if arg is not None and arg < len(seated):
                try:
                    services.change_capacity(session, event.id, arg, now=now)
                except services.RegistrationError:
                    pass
                else:
                    raise AssertionError("lowering capacity below the confirmed count was allowed")
            else:
                services.change_capacity(session, event.id, arg, now=now)
                capacity = arg
                promote_model()

        regs = list(session.scalars(select(Registration).where(Registration.event_id == event.id)))
        confirmed = {r.user_id for r in regs if r.status == RegistrationStatus.CONFIRMED}
        waiting = sorted(
            (r for r in regs if r.status == RegistrationStatus.WAITLISTED), key=lambda r: r.queue_number
        )
        assert event.capacity == capacity
        assert event.capacity is None or len(confirmed) <= event.capacity
        assert not waiting or (event.capacity is not None and len(confirmed) == event.capacity)
        assert event.confirmed_count == len(confirmed) and event.waitlist_count == len(waiting)
        assert confirmed == seated
        assert [r.user_id for r in waiting] == line  # first come, first served
    session.rollback()
