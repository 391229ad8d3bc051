"""Following a group: who follows which group, how each follower wants to hear of its new events,
and the one-click way out of those mails."""
