"""Statistics of a category."""
