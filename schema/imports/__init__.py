"""Imports of contact cards from CSV or XLSX files."""
