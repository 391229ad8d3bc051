"""Property-based: any sequence of register / cancel / capacity changes keeps the rules."""

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
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(initial_capacity=st.integers(1, 4), actions=steps)
def test_rules_hold_after_every_step(session, initial_capacity, actions):
    event = create_event(capacity=initial_capacity)
    members = [create_user() for _ in range(MEMBERS)]
    # The model: who holds a seat, and who waits in which order.
    seated: set[int] = set()
    line: list[int] = []

    def promote_model():
        while line and (event.capacity is None or len(seated) < event.capacity):
            seated.add(line.pop(0))

    for action, arg in actions:
        now = utcnow()
        if action == "register":
            member = members[arg]
            if member.id not in seated and member.id not in line:
                if event.capacity is None or (len(seated) < event.capacity and not line):
                    seated.add(member.id)
                else:
                    line.append(member.id)
            services.register(session, event.id, member=member, now=now)
        elif action == "cancel":
            member = members[arg]
            registration = services.registration_for_id(session, event.id, member.id)
            if registration is not None:
                seated.discard(member.id)
                if member.id in line:
                    line.remove(member.id)
                services.cancel(session, registration, now=now)
                promote_model()
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
                promote_model()

        regs = list(session.scalars(select(Registration).where(Registration.event_id == event.id)))
        confirmed = {r.user_id for r in regs if r.status == RegistrationStatus.CONFIRMED}
        waiting = sorted(
            (r for r in regs if r.status == RegistrationStatus.WAITLISTED), key=lambda r: r.queue_number
        )
        assert event.capacity is None or len(confirmed) <= event.capacity
        assert not waiting or (event.capacity is not None and len(confirmed) == event.capacity)
        assert event.confirmed_count == len(confirmed) and event.waitlist_count == len(waiting)
        assert confirmed == seated
        assert [r.user_id for r in waiting] == line  # first come, first served
    session.rollback()
