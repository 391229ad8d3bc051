"""Proposing a new Meetup group, and the reviewers' queue that decides on proposals."""
