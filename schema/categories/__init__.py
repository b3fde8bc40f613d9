"""Categories with their typed custom fields and relations: types, inputs and payloads, and
the operations."""
