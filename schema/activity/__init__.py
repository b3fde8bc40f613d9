"""The history of cards as the API shows it."""
