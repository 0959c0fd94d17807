"""Durable domain events: written to the outbox with the change that raised them,
relayed to the queue of each subscription, handled at least once, in order per
aggregate, by handlers in whichever process subscribes.

- :mod:`.codec`: an event as an outbox message and back;
- :mod:`.journal`: the unit of work's commit hooks that write them;
- :mod:`.consumer`: one subscription's consumer (receipts, holds, retries);
- :mod:`.reactions`: the platform's own durable handlers.
"""
