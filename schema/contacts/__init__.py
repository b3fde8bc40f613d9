"""Contact cards, persons and links: types, filters, inputs and payloads, and the operations."""
