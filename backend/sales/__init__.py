"""Sales lines imported from the POS: the source of pairings and attach-rate analytics."""
