"""QR claiming (SPEC §4): signed tokens, images and sheets, the claim service."""
