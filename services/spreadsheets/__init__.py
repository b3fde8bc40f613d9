"""Spreadsheets in and out: exports written as CSV or XLSX while their rows are read, and
imported CSV or XLSX files read row by row, neither ever held whole in memory."""

from enum import StrEnum


class SheetFormat(StrEnum):
    CSV = "CSV"
    XLSX = "XLSX"
