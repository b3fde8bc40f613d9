"""Project rooms in the API."""
