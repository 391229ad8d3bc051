"""Reminders the day before, and the personal join links they carry."""
