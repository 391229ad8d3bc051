"""Reminders the day before, personal join links, and telling attendees about moved or cancelled events."""
