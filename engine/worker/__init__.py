"""The worker: the loop that fires timers and sends the outbox, the daily digest, incidents."""
