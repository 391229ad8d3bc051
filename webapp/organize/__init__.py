"""Organizers run their group's events and attendee lists (issue 12)."""
