"""To-dos on cards: types, inputs and payloads, and the operations."""
