"""The mail outbox as admins see it: types, inputs and payloads, and the operations."""
