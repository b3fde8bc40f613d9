"""Accounts and credentials: types, inputs and payloads, and the operations."""
