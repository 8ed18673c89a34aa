"""Catalog: the products campaigns feature."""
