"""The action loop: events from the difference between refreshes, subscriptions, an outbox of deliveries
(in-app inbox, e-mail, webhook) and tasks with outcomes. Tables: `tables.py`; events: `events.py`;
who gets what: `subscriptions.py`; the outbox and its sender: `outbox.py`, `send.py`; tasks: `tasks.py`;
what pages call: `read.py`."""
