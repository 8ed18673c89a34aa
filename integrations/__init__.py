"""Open integration: webhooks (SPEC §13) — endpoints, the webhook outbox and its delivery."""
