"""Exports written as CSV or XLSX while their rows are read: a header of typed columns, then
rows of Python values, turned into a file in constant memory, batch by batch.

    with sheet_writer(SheetFormat.XLSX, sheet_name="Customers", columns=columns) as writer:
        for batch in batches:                 # e.g. 1,000 rows read from the database
            send(writer.write_rows(batch))    # CSV: the batch's bytes; XLSX: b""
        for chunk in writer.finish():         # the rest, in chunks of at most CHUNK_BYTES
            send(chunk)

Every method blocks (CPU, and disk for XLSX) and none is tied to an event loop: an async
caller runs them in a worker thread, one call at a time.

What the files hold, and why:
- CSV is for Excel as much as for scripts: UTF-8 with a BOM (Excel guesses the encoding
  otherwise), the `excel` dialect (comma, CRLF, minimal quoting), dates as YYYY-MM-DD,
  date-times as YYYY-MM-DD HH:MM:SS, booleans as TRUE/FALSE, numbers in plain notation (never
  1E+3) and amounts with the decimals they are stored with ("12.50"). A text that a spreadsheet
  would run as a formula (it begins with = + - @, a tab or a carriage return, also after
  leading white space, or with their full-width forms) gets a leading apostrophe, as OWASP
  advises for CSV injection; numbers are never changed, so -5 stays a number.
- XLSX holds typed cells written through XlsxWriter's typed calls in constant memory mode
  (rows go to temporary files as they come): real dates and date-times, amounts as numbers
  shown with two decimals, booleans, and text that is always text (it never becomes a
  formula; its line breaks are Excel's own LF, as a CR would be kept as an _x000D_ escape
  that only Excel reads). Excel holds numbers as doubles and shows 15 significant digits, so
  a number that cannot be shown exactly that way (2**53 + 1, a 20-digit decimal, 1E+400) is
  written as its exact text rather than rounded. Dates before 1900, which Excel cannot hold,
  are ISO text. The header is bold, frozen and filtered; column widths come from the header
  (the data is not kept, so it cannot size them). A sheet holds 1,048,576 rows: later rows
  continue on further sheets ("Customers (2)", ...), each with the header again.
- In both formats date-times are naive (already in the reader's time zone) and kept to the
  second (microseconds dropped, so both formats show the same); text loses what a file cannot
  hold (control characters other than tab, line feed and carriage return, and lone
  surrogates, each becoming U+FFFD); and a cell holds at most 32,767 characters (Excel's
  limit, counted in UTF-16 units as Excel does): a longer text is cut and ends with
  TRUNCATION_MARKER, so both formats hold the same and no row breaks when Excel opens a CSV.

A bad row (a wrong number of cells, a value of the wrong type for its column, NaN, an aware
date-time) raises ValueError or TypeError naming the row (counted from 1 after the header) and
the column, and leaves the writer closed: an export is whole or not at all.
"""

import codecs
import csv
import io
import math
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self, TypeAlias

import xlsxwriter

from services.spreadsheets import SheetFormat

# What finish() hands out at a time.
CHUNK_BYTES = 256 * 1024
# Excel's limits.
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_CELL_CHARS = 32_767
EXCEL_MAX_SHEET_NAME = 31
# Ends a text cut to EXCEL_MAX_CELL_CHARS (BMP characters only: one UTF-16 unit each).
TRUNCATION_MARKER = "… [truncated]"


class ColumnKind(StrEnum):
    TEXT = "TEXT"  # str
    INTEGER = "INTEGER"  # int
    NUMBER = "NUMBER"  # int, float or Decimal
    MONEY = "MONEY"  # Decimal or int; the currency belongs in the title: "Revenue (EUR)"
    DATE = "DATE"  # date
    DATETIME = "DATETIME"  # naive datetime, in the reader's time zone
    BOOLEAN = "BOOLEAN"  # bool


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    kind: ColumnKind = ColumnKind.TEXT


# None is an empty cell in every column.
Cell: TypeAlias = str | int | float | Decimal | bool | date | datetime | None


class SheetWriter(ABC):
    """One export being written. Use it as a context manager, or call close() when an export
    is abandoned before finish() ran to its end."""

    media_type: ClassVar[str]
    extension: ClassVar[str]

    def __init__(self, columns: Sequence[Column]) -> None:
        if not columns:
            raise ValueError("An export needs at least one column")
        if len(columns) > EXCEL_MAX_COLUMNS:
            raise ValueError(
                f"An export has at most {EXCEL_MAX_COLUMNS:,} columns (Excel's limit), "
                f"got {len(columns):,}"
            )
        for position, column in enumerate(columns, 1):
            if not isinstance(column, Column):
                raise TypeError(f"Column {position} must be a Column, got {column!r}")
            if not isinstance(column.title, str):
                raise TypeError(f"Column {position}'s title must be a str, got {column.title!r}")
            if not isinstance(column.kind, ColumnKind):
                raise TypeError(f"Column {column.title!r} has no ColumnKind: {column.kind!r}")
        self.columns = tuple(columns)
        self.rows_written = 0
        self._closed = False

    def write_rows(self, rows: Iterable[Sequence[Cell]]) -> bytes:
        """Add rows; returns the bytes that can be sent now (CSV: these rows, preceded by the
        BOM and the header on the first call; XLSX: nothing until finish())."""
        self._check_open()
        try:
            return self._write_rows(rows)
        except BaseException:
            self.close()
            raise

    def finish(self) -> Generator[bytes, None, None]:
        """The rest of the file, in chunks of at most CHUNK_BYTES. The writer is closed (its
        temporary files removed) once they are read, or when the generator is closed early."""
        self._check_open()
        return self._finish()

    @abstractmethod
    def close(self) -> None:
        """Discard the export and remove its temporary files; safe to call again."""

    @abstractmethod
    def _write_rows(self, rows: Iterable[Sequence[Cell]]) -> bytes: ...

    @abstractmethod
    def _finish(self) -> Generator[bytes, None, None]: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("This export is closed (finished, discarded or failed)")

    def _cells(self, row: Sequence[Cell]) -> Iterator[tuple[int, Column, Cell]]:
        """The row's cells with their columns, once its length is right; counts the row."""
        self.rows_written += 1
        if isinstance(row, str | bytes) or len(row) != len(self.columns):
            size = "a string" if isinstance(row, str | bytes) else f"{len(row)} cells"
            raise ValueError(
                f"Row {self.rows_written} has {size}, expected {len(self.columns)} cells"
            )
        return zip(range(len(row)), self.columns, row, strict=True)

    def _bad_cell(self, column: Column, error: TypeError | ValueError) -> Exception:
        kind = TypeError if isinstance(error, TypeError) else ValueError
        return kind(f"Row {self.rows_written}, column {column.title!r}: {error}")


def sheet_writer(
    sheet_format: SheetFormat,
    *,
    sheet_name: str,
    columns: Sequence[Column],
    temp_dir: str | Path | None = None,
) -> SheetWriter:
    """A writer for one export. `sheet_name` names the XLSX sheet (made valid for Excel);
    `temp_dir` is where an XLSX export keeps its temporary files (the system's by default)."""
    match sheet_format:
        case SheetFormat.CSV:
            return CsvSheetWriter(columns)
        case SheetFormat.XLSX:
            return XlsxSheetWriter(columns, sheet_name=sheet_name, temp_dir=temp_dir)
    raise ValueError(f"Unknown sheet format {sheet_format!r}")


# ----------------------------------------------------------------------------------------
# Values, checked the same way for both formats.

# XML 1.0 forbids these (XlsxWriter would write them as _xHHHH_ escapes, which only Excel
# reads back); lone surrogates cannot be encoded at all.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_HALF_LIMIT = EXCEL_MAX_CELL_CHARS // 2
# Excel's oldest date is 1900-01-01 (serial 1).
_EXCEL_EPOCH = date(1900, 1, 1)
_EXCEL_EPOCH_TIME = datetime(1900, 1, 1)
# Excel shows 15 significant digits of numbers between these magnitudes.
_EXACT_INTEGERS = 10**15
_SMALLEST_DOUBLE = 2.2250738585072014e-308
_LARGEST_NUMBER = 9.99999999999999e307


def _clean_text(value: Cell) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a str for a TEXT column, got {_described(value)}")
    return _UNWRITABLE.sub("\ufffd", value)


def _cut(text: str) -> str:
    """At most EXCEL_MAX_CELL_CHARS UTF-16 units, ending with the marker when cut."""
    if len(text) <= _HALF_LIMIT:  # fast path: even astral characters cannot reach the limit
        return text
    units = text.encode("utf-16-le")
    if len(units) <= 2 * EXCEL_MAX_CELL_CHARS:
        return text
    kept = units[: 2 * (EXCEL_MAX_CELL_CHARS - len(TRUNCATION_MARKER))]
    # "ignore" drops the half of a surrogate pair the cut may leave.
    return kept.decode("utf-16-le", "ignore") + TRUNCATION_MARKER


def _integer(value: Cell) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an int for an INTEGER column, got {_described(value)}")
    return int(value)


def _number(value: Cell) -> int | float | Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(
            f"expected an int, a float or a Decimal for a NUMBER column, got {_described(value)}"
        )
    _check_finite(value)
    return value


def _money(value: Cell) -> int | Decimal:
    # A float amount has already lost its cents' exactness; refuse it rather than hide that.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise TypeError(f"expected a Decimal or an int for a MONEY column, got {_described(value)}")
    _check_finite(value)
    return value


def _check_finite(value: int | float | Decimal) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"a spreadsheet cannot hold {value!r}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"a spreadsheet cannot hold {value!r}")


def _date(value: Cell) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"expected a date for a DATE column, got {_described(value)}")
    return value


def _datetime(value: Cell) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime for a DATETIME column, got {_described(value)}")
    if value.tzinfo is not None:
        raise ValueError(
            f"expected a naive datetime in the reader's time zone, got {value.isoformat()}"
        )
    return value.replace(microsecond=0)


def _boolean(value: Cell) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a bool for a BOOLEAN column, got {_described(value)}")
    return value


def _described(value: object) -> str:
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{type(value).__name__} {shown}"


def _plain(value: int | float | Decimal) -> str:
    """A number in plain notation: 1000, never 1E+3; a Decimal keeps its exponent (12.50)."""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        shown = repr(value)
        # repr is the shortest exact form; Decimal spells it without its exponent.
        return format(Decimal(shown), "f") if "e" in shown else shown
    return format(value, "f")


def _double(value: int | float | Decimal) -> float | None:
    """The value as a double when Excel shows it exactly (15 significant digits, within its
    range); None when only text keeps every digit."""
    if isinstance(value, float):
        magnitude = abs(value)
        if magnitude == 0 or _SMALLEST_DOUBLE <= magnitude <= _LARGEST_NUMBER:
            return value
        return None
    if isinstance(value, int):
        if -_EXACT_INTEGERS < value < _EXACT_INTEGERS:
            return float(value)
        value = Decimal(value)
    if value.is_zero():
        return 0.0
    digits = value.as_tuple().digits
    significant = len(digits)
    while significant > 1 and digits[significant - 1] == 0:
        significant -= 1
    if significant <= 15 and -307 <= value.adjusted() <= 307:
        return float(value)
    return None


# ----------------------------------------------------------------------------------------
# CSV

# = + - @, tab, carriage return, and the full-width = + - @ (East Asian input).
_FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")


def _csv_text(value: Cell) -> str:
    text = _clean_text(value)
    # Spreadsheets run a cell that starts like a formula; some trim white space first.
    if text and (text[0] in _FORMULA_STARTS or text.lstrip()[:1] in _FORMULA_STARTS):
        text = "'" + text
    return _cut(text)


def _csv_integer(value: Cell) -> str:
    return str(_integer(value))


def _csv_number(value: Cell) -> str:
    return _plain(_number(value))


def _csv_money(value: Cell) -> str:
    return _plain(_money(value))


def _csv_date(value: Cell) -> str:
    return _date(value).isoformat()


def _csv_datetime(value: Cell) -> str:
    return _datetime(value).isoformat(sep=" ")


def _csv_boolean(value: Cell) -> str:
    return "TRUE" if _boolean(value) else "FALSE"


_CSV_CELLS: dict[ColumnKind, Callable[[Cell], str]] = {
    ColumnKind.TEXT: _csv_text,
    ColumnKind.INTEGER: _csv_integer,
    ColumnKind.NUMBER: _csv_number,
    ColumnKind.MONEY: _csv_money,
    ColumnKind.DATE: _csv_date,
    ColumnKind.DATETIME: _csv_datetime,
    ColumnKind.BOOLEAN: _csv_boolean,
}


class CsvSheetWriter(SheetWriter):
    """CSV as Excel opens it; nothing is kept between batches but the header's state."""

    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    def __init__(self, columns: Sequence[Column]) -> None:
        super().__init__(columns)
        self._convert = [_CSV_CELLS[column.kind] for column in self.columns]
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, dialect="excel")
        self._header_sent = False

    def _write_rows(self, rows: Iterable[Sequence[Cell]]) -> bytes:
        start = self._start()
        convert = self._convert
        for row in rows:
            line: list[str] = []
            for position, column, value in self._cells(row):
                if value is None:
                    line.append("")
                    continue
                try:
                    line.append(convert[position](value))
                except (TypeError, ValueError) as error:
                    raise self._bad_cell(column, error) from None
            self._csv.writerow(line)
        return start + self._drain()

    def _finish(self) -> Generator[bytes, None, None]:
        try:
            start = self._start()
            if start:
                yield start
        finally:
            self.close()

    def close(self) -> None:
        self._closed = True

    def _start(self) -> bytes:
        """The BOM and the header, the first time only."""
        if self._header_sent:
            return b""
        self._header_sent = True
        self._csv.writerow([_csv_text(column.title) for column in self.columns])
        return codecs.BOM_UTF8 + self._drain()

    def _drain(self) -> bytes:
        data = self._buffer.getvalue().encode("utf-8")
        self._buffer.seek(0)
        self._buffer.truncate()
        return data


# ----------------------------------------------------------------------------------------
# XLSX

_WIDTHS = {  # in characters: (at least, at most)
    ColumnKind.TEXT: (12, 50),
    ColumnKind.INTEGER: (10, 30),
    ColumnKind.NUMBER: (12, 30),
    ColumnKind.MONEY: (14, 30),
    ColumnKind.DATE: (12, 30),
    ColumnKind.DATETIME: (20, 30),
    ColumnKind.BOOLEAN: (8, 30),
}
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f\ud800-\udfff\ufffe\uffff]")


def sheet_name_for_excel(name: str, suffix: str = "") -> str:
    """`name` as Excel accepts it, ending with `suffix`: forbidden characters replaced, at
    most 31 characters, no apostrophe at either end, not blank, not Excel's reserved
    "History"."""
    name = _SHEET_NAME_FORBIDDEN.sub("_", " ".join(name.split())).strip(" '")
    if not name:
        name = "Sheet"
    elif name.casefold() == "history":
        name += " sheet"
    room = EXCEL_MAX_SHEET_NAME - len(suffix)
    name = name[:room]
    # Excel counts UTF-16 units: a character beyond the BMP takes two.
    while len(name.encode("utf-16-le")) // 2 > room:
        name = name[:-1]
    return name.rstrip(" '") + suffix


class XlsxSheetWriter(SheetWriter):
    """XLSX through XlsxWriter in constant memory mode, every file in one temporary folder."""

    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    extension = "xlsx"
    # The header included; rows beyond go on to a new sheet.
    rows_per_sheet = EXCEL_MAX_ROWS

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        sheet_name: str,
        temp_dir: str | Path | None = None,
    ) -> None:
        super().__init__(columns)
        self._folder = Path(tempfile.mkdtemp(prefix="export-", dir=temp_dir))
        try:
            self._path = self._folder / "export.xlsx"
            self._book = xlsxwriter.Workbook(
                str(self._path),
                {
                    "constant_memory": True,
                    "tmpdir": str(self._folder),
                    # Typed calls only, but never let a string turn into anything else.
                    "strings_to_formulas": False,
                    "strings_to_urls": False,
                    "strings_to_numbers": False,
                },
            )
            book = self._book
            self._header = book.add_format({"bold": True})
            self._date = book.add_format({"num_format": "yyyy-mm-dd"})
            self._datetime = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
            self._money = book.add_format({"num_format": "#,##0.00"})
            self._integer = book.add_format({"num_format": "0"})
            self._write: list[Callable[[Any, int, int, Cell], None]] = [
                self._writers()[column.kind] for column in self.columns
            ]
            self._sheet_name = sheet_name
            self._sheet_names: set[str] = set()
            self._sheet: Any = None
            self._row = 0  # where the next row goes on the current sheet
            self._new_sheet()
        except BaseException:
            shutil.rmtree(self._folder, ignore_errors=True)
            raise

    def _write_rows(self, rows: Iterable[Sequence[Cell]]) -> bytes:
        write = self._write
        for row in rows:
            cells = self._cells(row)
            if self._row == self.rows_per_sheet:
                self._new_sheet()
            sheet, index = self._sheet, self._row
            for position, column, value in cells:
                if value is None:
                    continue
                try:
                    write[position](sheet, index, position, value)
                except (TypeError, ValueError) as error:
                    raise self._bad_cell(column, error) from None
            self._row += 1
        return b""

    def _finish(self) -> Generator[bytes, None, None]:
        try:
            self._end_sheet()
            self._book.close()
            with self._path.open("rb") as file:
                while chunk := file.read(CHUNK_BYTES):
                    yield chunk
        finally:
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._book.fileclosed:
            # Discarded: close the sheets' row files without assembling a workbook.
            for sheet in self._book.worksheets():
                sheet._opt_close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def _new_sheet(self) -> None:
        if self._sheet is not None:
            self._end_sheet()
        number = len(self._sheet_names) + 1
        name = sheet_name_for_excel(self._sheet_name, f" ({number})" if number > 1 else "")
        while name.casefold() in self._sheet_names:  # a cut name may meet an earlier one
            number += 1
            name = sheet_name_for_excel(self._sheet_name, f" ({number})")
        self._sheet_names.add(name.casefold())
        sheet = self._sheet = self._book.add_worksheet(name)
        for position, column in enumerate(self.columns):
            self._text(sheet, 0, position, _clean_text(column.title), self._header)
            least, most = _WIDTHS[column.kind]
            sheet.set_column(position, position, min(max(len(column.title) + 3, least), most))
        sheet.freeze_panes(1, 0)
        self._row = 1

    def _end_sheet(self) -> None:
        self._sheet.autofilter(0, 0, self._row - 1, len(self.columns) - 1)

    @staticmethod
    def _text(sheet: Any, row: int, col: int, text: str, cell_format: Any = None) -> None:
        if "\r" in text:
            # Excel breaks lines in a cell with LF; a CR would be stored as an _x000D_ escape
            # that other readers show as it is.
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = _cut(text)
        if text.startswith("<r>") and text.endswith("</r>"):
            # XlsxWriter's constant memory mode copies such a string into the sheet's XML
            # unescaped, taking it for rich text it built: user text could add cells, even
            # formulas. Written as rich text in three runs, it is escaped and reads the same.
            runs = (text[0], text[1], text[2:]) + ((cell_format,) if cell_format else ())
            status = sheet.write_rich_string(row, col, *runs)
        else:
            status = sheet.write_string(row, col, text, cell_format)
        _check(status)

    def _writers(self) -> dict[ColumnKind, Callable[[Any, int, int, Cell], None]]:
        text, number = self._text, self._number

        def write_text(sheet: Any, row: int, col: int, value: Cell) -> None:
            text(sheet, row, col, _clean_text(value))

        def write_integer(sheet: Any, row: int, col: int, value: Cell) -> None:
            number(sheet, row, col, _integer(value), self._integer)

        def write_number(sheet: Any, row: int, col: int, value: Cell) -> None:
            number(sheet, row, col, _number(value), None)

        def write_money(sheet: Any, row: int, col: int, value: Cell) -> None:
            number(sheet, row, col, _money(value), self._money)

        def write_date(sheet: Any, row: int, col: int, value: Cell) -> None:
            day = _date(value)
            if day < _EXCEL_EPOCH:
                text(sheet, row, col, day.isoformat())
            else:
                _check(sheet.write_datetime(row, col, day, self._date))

        def write_datetime(sheet: Any, row: int, col: int, value: Cell) -> None:
            moment = _datetime(value)
            if moment < _EXCEL_EPOCH_TIME:
                text(sheet, row, col, moment.isoformat(sep=" "))
            else:
                _check(sheet.write_datetime(row, col, moment, self._datetime))

        def write_boolean(sheet: Any, row: int, col: int, value: Cell) -> None:
            _check(sheet.write_boolean(row, col, _boolean(value)))

        return {
            ColumnKind.TEXT: write_text,
            ColumnKind.INTEGER: write_integer,
            ColumnKind.NUMBER: write_number,
            ColumnKind.MONEY: write_money,
            ColumnKind.DATE: write_date,
            ColumnKind.DATETIME: write_datetime,
            ColumnKind.BOOLEAN: write_boolean,
        }

    def _number(
        self, sheet: Any, row: int, col: int, value: int | float | Decimal, cell_format: Any
    ) -> None:
        double = _double(value)
        if double is None:
            self._text(sheet, row, col, _plain(value))
        else:
            _check(sheet.write_number(row, col, double, cell_format))


def _check(status: int) -> None:
    # XlsxWriter reports what it could not write by returning a code, not by raising.
    if status != 0:
        raise RuntimeError(f"XlsxWriter could not write a cell (status {status})")
