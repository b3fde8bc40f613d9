"""Exports of a category's cards and reports as CSV or XLSX."""
