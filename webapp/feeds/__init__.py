"""Calendar and Atom feeds of a group's (or the whole site's) events, and the links to subscribe to them."""
