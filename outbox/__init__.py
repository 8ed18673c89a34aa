"""The one outbox: every message leaving the process (pushes, webhooks) and the loop that sends it."""
