"""Pieces shared by every resource package: schema fields, pagination."""
