"""Campaigns: HQ's promotions, their task templates, targeting and publishing."""
