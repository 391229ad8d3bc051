"""The program guidelines: one list that the page, the proposal form and the review all point at.

Each guideline's anchor is part of its address (/guidelines#open-to-all) and is stored with
proposals and reviews: never rename one, only add new ones.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Guideline:
    anchor: str
    title: str
    body: str  # Markdown
    acknowledgement: str | None = None  # what the proposer confirms, for the rules organizers keep


GUIDELINES: tuple[Guideline, ...] = (
    Guideline(
        "what-a-meetup-is",
        "What a Meetup group is",
        "A METRO Meetup group brings together people who do similar work at different institutions "
        "around a topic of interest to our community: instruction, digital preservation, resource "
        "sharing, accessibility, justice in our collections, and much more. Groups are convened by "
        "leaders in our field, not by METRO staff; METRO lends its calendar, its registration, its "
        "Zoom account and, when we can, its rooms.",
    ),
    Guideline(
        "who-may-propose",
        "Who may propose a group",
        "Anyone who works or studies in libraries, archives, museums or a related field in the "
        "METRO region may propose a group: you don’t need to work at a member institution, and "
        "students and people between jobs are welcome. Before you propose, look at the groups we "
        "already have: if one is close to what you have in mind, talk to its organizers first.",
    ),
    Guideline(
        "open-to-all",
        "Free and open to all",
        "Meetup events are free, and anyone may attend. A group may cap the number of seats at an "
        "event, but never choose who sits in them.",
        "Our events will be free and open to all.",
    ),
    Guideline(
        "meet-regularly",
        "Gather regularly: at least two events a year",
        "A group is a community, not a one-off event. Plan to meet regularly, and hold at least two "
        "events a year. Meetings, talks, discussions, workshops, visits and book clubs all count.",
        "We will hold at least two events a year.",
    ),
    Guideline(
        "share-the-load",
        "Share the load with a co-organizer",
        "Every group has at least two organizers, so that nobody carries it alone and a group "
        "survives a busy semester or a new job. Name at least one co-organizer in your proposal; "
        "we’ll invite them to sign in.",
        "I have at least one co-organizer who has agreed to share the work.",
    ),
    Guideline(
        "accessible-events",
        "Accessible events",
        "Plan events that everyone can attend: captions on every online event (Zoom’s automatic "
        "captions at the least), accessible rooms for in-person events, slides shared in advance "
        "where you can, and a way for attendees to tell you what they need.",
        "Our online events will have captions, and we will make our events accessible.",
    ),
    Guideline(
        "code-of-conduct",
        "The community’s code of conduct",
        "Every Meetup follows METRO’s code of conduct: respect for every participant, no harassment "
        "of any kind, and organizers who act when someone is made to feel unwelcome. Organizers "
        "remind attendees of it at their events and tell METRO staff about any incident.",
        "We will follow the community’s code of conduct and ask our attendees to do the same.",
    ),
    Guideline(
        "what-reviewers-look-for",
        "What reviewers look for",
        "Program staff and reviewers read each proposal for: a clear topic and a community that "
        "needs it; how it differs from the groups we already have; a realistic plan for the first "
        "events; at least two organizers; and the commitments above. Where something is missing, "
        "we ask for changes and point at the guideline concerned; you edit and resubmit.",
    ),
    Guideline(
        "how-long-review-takes",
        "How long review takes",
        "We answer every proposal within three weeks, usually sooner, and we never lose one: you "
        "can follow its status and our messages on your proposals page, and we email you at every "
        "step. Once a proposal is approved, the group’s page appears in the directory and you can "
        "start planning your first event with us.",
    ),
)

BY_ANCHOR = {g.anchor: g for g in GUIDELINES}
# The guidelines a proposer must acknowledge, one checkbox each.
COMMITMENTS = tuple(g for g in GUIDELINES if g.acknowledgement)
