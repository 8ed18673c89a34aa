"""Organisation: regions, stores and the people who work in them."""
