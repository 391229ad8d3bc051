"""Series: a recurring meetup whose sessions are ordinary events, made ahead from its rule."""
