"""Zoom meetings made by the site: the client, the intents that carry every call out once, and the hooks."""
