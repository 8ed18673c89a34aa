"""Zhida backend: the Flask application and the store-operations domain."""
