"""Authentication (passwords, tokens) and the authorization policy."""
