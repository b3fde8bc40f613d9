"""Reading an uploaded CSV or XLSX file one row at a time.

`open_sheet` takes a path or a seekable binary file, works out its format (from its content,
never its name), a CSV file's encoding and delimiter (or takes those it is given), and returns a
`SheetReader` with the header row and an iterator over the rows after it, each with the line
number a person sees in a text editor (CSV) or in Excel (XLSX). The file is never held whole in
memory, what a hostile file may cost is bounded (cells, columns, records, unpacked XLSX parts,
XML per row), and every problem is a `SheetReadError` whose message, meant for the person who
uploaded the file, names it and, where it has one, the line.

CSV values are text as written (formulas too: nothing is evaluated), an empty one None. XLSX
values are what openpyxl reads: str, int, float, bool, datetime (time, timedelta for time and
duration formats), a formula's value as last calculated, an error cell's text ("#N/A").

This layer only reads: mapping columns to fields and validating values is the import's job.

csv's limit on a value's size is process-wide, so it is left alone; a record's size is bounded
here instead (`MAX_RECORD_CHARS`) and a value's checked after parsing (`MAX_CELL_CHARS`).

XML safety, checked for Python 3.11 and openpyxl 3.1.5: openpyxl uses defusedxml only when it is
installed (it is not a dependency here, and openpyxl does not warn without it), so workbooks are
parsed by the standard library's expat. The bundled expat (2.4.0 and later; this Python has
2.5.0) refuses entity expansion ("billion laughs") once the expanded text passes 8 MiB and 100
times the input, raising a ParseError, and ElementTree never fetches external entities (a
reference to one is an "undefined entity" error). Both come back as UNREADABLE_FILE. Zip bombs
are refused from the archive's directory before anything is unpacked (see `_check_archive`).
"""

import codecs
import csv
import io
import os
import re
import zipfile
import zlib
from array import array
from collections.abc import Generator, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from itertools import accumulate
from types import TracebackType
from typing import IO, TypeAlias
from xml.etree.ElementTree import Element, ParseError, iterparse

from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import CellCoordinatesException, InvalidFileException
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS

from services.spreadsheets import SheetFormat

# Bounds against hostile files (the upload's size is bounded by the caller).
MAX_CELL_CHARS = 100_000
MAX_COLUMNS = 500
# A CSV record, all its lines together; an unclosed quote makes the rest of a file one record.
MAX_RECORD_CHARS = 1_000_000
MAX_UNPACKED_BYTES = 1 << 30
# XLSX parts read whole: the shared strings (held packed, about their text's size) and the
# others (workbook, styles, relationships: element trees of about five times their size).
MAX_SHARED_STRINGS_BYTES = 64 << 20
MAX_OTHER_PART_BYTES = 16 << 20
# Sheet XML deflates 10-20 times; a zip bomb about 1000 times.
MAX_COMPRESSION_RATIO = 100
_RATIO_CHECKED_FROM = 1 << 20

# What one sheet row may hold: elements (a cell is two or three; Excel has 16,384 columns),
# their depth (a sheet's is under ten) and bytes of XML.
_MAX_ROW_ELEMENTS = 100_000
_MAX_DEPTH = 64
_MAX_ROW_BYTES = 16 << 20

_SAMPLE_BYTES = 64 << 10
_SNIFFED_RECORDS = 20
_DELIMITERS = (",", ";", "\t", "|")
# When two delimiters split the sample equally well, the one rarer inside values wins:
# decimal commas and addresses put commas into semicolon- and tab-separated files.
_DELIMITER_RANK = {"\t": 3, ";": 2, "|": 1, ",": 0}
_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0"  # the old binary .xls (and .doc)
# Undecodable bytes are read as lone surrogates U+DC00 + byte so that the line holding them
# can be named (decoding never produces these otherwise). Python's own "surrogateescape"
# cannot escape bytes below 0x80, which broken UTF-16 has.
_ESCAPE_ERRORS = "spreadsheets-escape"
_ESCAPED = re.compile("[\udc00-\udcff]")
# What openpyxl and zipfile raise on damaged or malicious workbooks.
_XLSX_ERRORS = (
    ParseError,
    CellCoordinatesException,
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    InvalidFileException,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    OSError,
)

_ROW = f"{{{SHEET_MAIN_NS}}}row"
_CELL = f"{{{SHEET_MAIN_NS}}}c"
_SHEET_DATA = f"{{{SHEET_MAIN_NS}}}sheetData"
_STRING_ITEM = f"{{{SHEET_MAIN_NS}}}si"
_TEXT = f"{{{SHEET_MAIN_NS}}}t"
_RUN_TEXT = f"{{{SHEET_MAIN_NS}}}r/{{{SHEET_MAIN_NS}}}t"

Cell: TypeAlias = str | int | float | bool | datetime | date | time | timedelta | None
_PLAIN = (int, float, datetime, date, time, timedelta)  # bool is an int


class SheetErrorCode(StrEnum):
    UNREADABLE_FILE = "UNREADABLE_FILE"
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    FORMAT_MISMATCH = "FORMAT_MISMATCH"
    UNKNOWN_ENCODING = "UNKNOWN_ENCODING"
    BAD_ENCODING = "BAD_ENCODING"
    NUL_CHARACTER = "NUL_CHARACTER"
    BAD_DELIMITER = "BAD_DELIMITER"
    NO_HEADER = "NO_HEADER"
    NO_SUCH_SHEET = "NO_SUCH_SHEET"
    TOO_LARGE = "TOO_LARGE"
    TOO_MANY_COLUMNS = "TOO_MANY_COLUMNS"
    CELL_TOO_LONG = "CELL_TOO_LONG"


class SheetReadError(Exception):
    """A file that cannot be read as a sheet; `message` is meant for the person who uploaded it.
    `line` and `column` (1-based) say where, when the problem has a place."""

    def __init__(
        self,
        code: SheetErrorCode,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class SheetRow:
    line: int
    """CSV: the physical line the record starts on; XLSX: the sheet's row number."""
    cells: tuple[Cell, ...]
    """As many as the header has names, more when the row has values beyond them."""


_Record: TypeAlias = tuple[int, list[Cell]]


class SheetReader(AbstractContextManager["SheetReader"]):
    """An open sheet: what was detected or given, its header, and its rows. Close it (or use it
    as a context manager) to release the file; a file object passed in stays open."""

    def __init__(
        self,
        *,
        format: SheetFormat,
        header: tuple[str, ...],
        header_line: int,
        records: Generator[_Record],
        resources: ExitStack,
        encoding: str | None = None,
        delimiter: str | None = None,
        sheet_name: str | None = None,
        sheet_names: tuple[str, ...] = (),
    ) -> None:
        self.format = format
        self.encoding = encoding
        self.delimiter = delimiter
        self.sheet_name = sheet_name
        self.sheet_names = sheet_names
        self.header = header
        """Stripped names up to the last non-blank one; a blank name in between is ""."""
        self.header_line = header_line
        self._records = records
        self._resources = resources

    def rows(self) -> Iterator[SheetRow]:
        """The rows after the header not read yet, wholly empty ones skipped. Short rows are
        padded with None; values beyond the header are kept (trailing empty cells are not)."""
        width = len(self.header)
        for line, cells in self._records:
            end = len(cells)
            while end > width and cells[end - 1] is None:
                end -= 1
            if end > MAX_COLUMNS:
                raise _too_many_columns(self.format, line)
            if end < width:
                cells.extend([None] * (width - end))
            else:
                del cells[end:]
            yield SheetRow(line, tuple(cells))

    def close(self) -> None:
        self._resources.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def open_sheet(
    source: str | os.PathLike[str] | IO[bytes],
    *,
    format: SheetFormat | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet_name: str | None = None,
) -> SheetReader:
    """Open a CSV or XLSX file (read from its start) and read its header.

    `encoding` and `delimiter` apply to CSV, `sheet_name` to XLSX (else the first visible
    worksheet). Raises SheetReadError; a path that cannot be opened raises OSError."""
    resources = ExitStack()  # handed to the reader, which closes it
    try:
        if isinstance(source, str | os.PathLike):
            file: IO[bytes] = resources.enter_context(open(source, "rb"))  # noqa: SIM115
        else:
            file = source
            if not file.seekable():
                raise ValueError("open_sheet needs a seekable file")
        file.seek(0)
        found = _sniff_format(file.read(8))
        if format is not None and format != found:
            raise SheetReadError(
                SheetErrorCode.FORMAT_MISMATCH,
                f"The file is {'an XLSX workbook' if found == SheetFormat.XLSX else 'text'}, "
                f"not {format}.",
            )
        if found == SheetFormat.XLSX:
            return _open_xlsx(file, sheet_name, resources)
        return _open_csv(file, encoding, delimiter, resources)
    except BaseException:
        resources.close()
        raise


def _sniff_format(start: bytes) -> SheetFormat:
    if start.startswith(_ZIP):
        return SheetFormat.XLSX
    if start.startswith(_OLE):
        raise SheetReadError(
            SheetErrorCode.UNSUPPORTED_FORMAT,
            "The file is an old Excel workbook (.xls), which cannot be read: "
            "open it in Excel and save it as XLSX or CSV.",
        )
    return SheetFormat.CSV


def _read_header(
    records: Iterator[_Record], format: SheetFormat, *, empty: bool = False
) -> tuple[int, tuple[str, ...]]:
    for line, cells in records:
        names = [_header_name(cell) for cell in cells]
        while names and not names[-1]:
            names.pop()
        if names:
            if len(names) > MAX_COLUMNS:
                raise _too_many_columns(format, line)
            return line, tuple(names)
    raise SheetReadError(
        SheetErrorCode.NO_HEADER,
        "The file is empty." if empty else "The file has no header row: it has no values.",
    )


def _header_name(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime | date | time):
        return cell.isoformat()
    # A byte order mark left by an encoding given as "utf-8" for a "utf-8-sig" file.
    return str(cell).lstrip("\ufeff").strip()


def _place(format: SheetFormat, line: int, column: int | None = None) -> str:
    """Where, in the words of the program that shows the file: a text editor, or Excel."""
    if format == SheetFormat.XLSX:
        return f"Row {line}" + (f", column {get_column_letter(column)}" if column else "")
    return f"Line {line}" + (f", column {column}" if column else "")


def _too_many_columns(format: SheetFormat, line: int) -> SheetReadError:
    return SheetReadError(
        SheetErrorCode.TOO_MANY_COLUMNS,
        f"{_place(format, line)} has more than {MAX_COLUMNS} columns.",
        line=line,
    )


def _cell_too_long(format: SheetFormat, line: int, column: int) -> SheetReadError:
    return SheetReadError(
        SheetErrorCode.CELL_TOO_LONG,
        f"{_place(format, line, column)}: the value is longer than {MAX_CELL_CHARS:,} characters.",
        line=line,
        column=column,
    )


# CSV


def _open_csv(
    file: IO[bytes], encoding: str | None, delimiter: str | None, resources: ExitStack
) -> SheetReader:
    file.seek(0)
    sample = file.read(_SAMPLE_BYTES)
    complete = len(sample) < _SAMPLE_BYTES
    if encoding is None:
        encoding, skip = _detect_encoding(sample, complete)
    else:
        encoding, skip = _checked_encoding(encoding), 0
    lines = io.StringIO(_decode_sample(sample[skip:], encoding, complete), newline="")
    sample_lines = lines.readlines()
    for number, line in enumerate(sample_lines, 1):
        _check_line(line, number, encoding)
    if not complete and sample_lines:
        sample_lines.pop()  # it may be cut short
    hint = _delimiter_hint(sample_lines[0]) if sample_lines else None
    if hint is not None:
        del sample_lines[0]
    if delimiter is None:
        delimiter = hint if hint is not None else _detect_delimiter(sample_lines)
    else:
        _check_delimiter(delimiter, sample_lines)

    file.seek(skip)
    text = io.TextIOWrapper(file, encoding=encoding, errors=_ESCAPE_ERRORS, newline="")
    # Closing the text would close the file, which is the caller's when it was passed in.
    resources.callback(text.detach)
    source = _Lines(text, encoding)
    physical = iter(source)
    if hint is not None:
        next(physical)
    reader = csv.reader(physical, delimiter=delimiter, strict=False)
    records = _csv_records(reader, source)
    resources.callback(records.close)
    header_line, header = _read_header(records, SheetFormat.CSV, empty=not sample)
    return SheetReader(
        format=SheetFormat.CSV,
        encoding=encoding,
        delimiter=delimiter,
        header=header,
        header_line=header_line,
        records=records,
        resources=resources,
    )


def _detect_encoding(sample: bytes, complete: bool) -> tuple[str, int]:
    """The encoding and the length of its byte order mark, which is skipped."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name, len(bom)
    try:
        # Incremental, so that a character cut at the sample's end is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8", 0
    try:
        sample.decode("cp1252")  # what Excel writes in western Europe
    except UnicodeDecodeError:
        return "latin-1", 0  # cp1252 leaves five bytes undefined; latin-1 decodes any byte
    return "cp1252", 0


def _checked_encoding(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
        b"-".decode(name, "replace")  # refuses codecs that are not text ones (base64, zlib)
    except LookupError:
        raise SheetReadError(
            SheetErrorCode.UNKNOWN_ENCODING, f"Unknown text encoding: {encoding!r}."
        ) from None
    return name


def _escape_bytes(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(chr(0xDC00 + byte) for byte in bad), error.end


codecs.register_error(_ESCAPE_ERRORS, _escape_bytes)  # a name, registered once per process


def _decode_sample(sample: bytes, encoding: str, complete: bool) -> str:
    decoder = codecs.getincrementaldecoder(encoding)(errors=_ESCAPE_ERRORS)
    return str(decoder.decode(sample, final=complete))


def _check_line(line: str, number: int, encoding: str) -> None:
    if "\x00" in line:
        raise SheetReadError(
            SheetErrorCode.NUL_CHARACTER,
            f"Line {number} contains a NUL character, which CSV text never has: the file may "
            "not be a CSV file (or be UTF-16 without a byte order mark). Save it as CSV or XLSX.",
            line=number,
        )
    if not line.isascii() and (escaped := _ESCAPED.search(line)):
        byte = ord(escaped.group()) - 0xDC00
        raise SheetReadError(
            SheetErrorCode.BAD_ENCODING,
            f"Line {number} is not valid {encoding} text (byte 0x{byte:02X}): choose the file's "
            "encoding (Excel in western Europe saves cp1252) or save it as CSV UTF-8.",
            line=number,
        )


def _delimiter_hint(first_line: str) -> str | None:
    """Excel writes and honours a first line "sep=;" naming the delimiter."""
    line = first_line.rstrip("\r\n")
    if len(line) == 5 and line[:4].lower() == "sep=":
        return line[4]
    return None


def _field_counts(lines: list[str], delimiter: str) -> list[int]:
    """Fields per non-blank record of the first few, quotes respected."""
    counts: list[int] = []
    try:
        for record in csv.reader(lines, delimiter=delimiter, strict=False):
            if any(record):
                counts.append(len(record))
                if len(counts) == _SNIFFED_RECORDS:
                    break
    except csv.Error:
        pass  # a sample that csv refuses says nothing more; reading will report it
    return counts


def _splitting_delimiter(lines: list[str]) -> str | None:
    """The candidate that splits the header into several names and the most records into as
    many; csv.Sniffer is fooled by decimal commas ("Acme;1,5") and one-column files."""
    best, best_score = None, (0.0, 0, 0)
    for delimiter in _DELIMITERS:
        counts = _field_counts(lines, delimiter)
        if not counts or counts[0] < 2:
            continue  # a header names every column, so the delimiter must be in it
        consistent = sum(count == counts[0] for count in counts) / len(counts)
        score = (consistent, counts[0], _DELIMITER_RANK[delimiter])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _detect_delimiter(lines: list[str]) -> str:
    if (delimiter := _splitting_delimiter(lines)) is not None:
        return delimiter
    # One column: a delimiter that splits none of its values, a comma if there is none.
    for delimiter in _DELIMITERS:
        if all(count == 1 for count in _field_counts(lines, delimiter)):
            return delimiter
    return ","


def _check_delimiter(delimiter: str, lines: list[str]) -> None:
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise SheetReadError(
            SheetErrorCode.BAD_DELIMITER,
            "The delimiter must be one character other than a quote or a line break, "
            f"not {delimiter!r}.",
        )
    # A delimiter absent from a header that another one splits is a wrong choice.
    counts = _field_counts(lines, delimiter)
    if counts and counts[0] == 1 and (splitting := _splitting_delimiter(lines)) is not None:
        raise SheetReadError(
            SheetErrorCode.BAD_DELIMITER,
            f"The header row has no {_delimiter_name(delimiter)}: the file seems to be "
            f"separated by {_delimiter_name(splitting)}.",
        )


def _delimiter_name(delimiter: str) -> str:
    return {"\t": "tabs", ",": "commas", ";": "semicolons", "|": "vertical bars"}.get(
        delimiter, repr(delimiter)
    )


class _Lines:
    """A CSV text's physical lines, checked as csv reads them: counted (csv's own count cannot
    be reset and starts after a skipped "sep=" line), bounded, and free of NUL characters and
    undecodable bytes. csv reads exactly the lines of one record at a time."""

    def __init__(self, text: io.TextIOWrapper, encoding: str) -> None:
        self._text = text
        self._encoding = encoding
        self.count = 0
        self.record_start = 1
        self.record_chars = 0

    def __iter__(self) -> Iterator[str]:
        readline = self._text.readline
        while True:
            try:
                line = readline(MAX_RECORD_CHARS + 1)
            except UnicodeDecodeError as error:  # a codec that ignores the error handler
                raise SheetReadError(
                    SheetErrorCode.BAD_ENCODING,
                    f"The file is not valid {self._encoding} text after line {self.count} "
                    f"({error.reason}).",
                    line=self.count + 1,
                ) from None
            if not line:
                return
            self.count += 1
            self.record_chars += len(line)
            if self.record_chars > MAX_RECORD_CHARS:
                raise SheetReadError(
                    SheetErrorCode.TOO_LARGE,
                    f"The record starting on line {self.record_start} is longer than "
                    f"{MAX_RECORD_CHARS:,} characters: is a quote left open?",
                    line=self.record_start,
                )
            _check_line(line, self.count, self._encoding)
            yield line


def _csv_records(reader: Iterator[list[str]], lines: _Lines) -> Generator[_Record]:
    """Non-empty records with the line each starts on; an empty value is None."""
    while True:
        lines.record_start = lines.count + 1
        lines.record_chars = 0
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # csv's own limit on a value (131,072 characters unless something in the process
            # changed it: it is process-wide, so left alone) most often stops a quote left open.
            if "field limit" in str(error):
                raise SheetReadError(
                    SheetErrorCode.CELL_TOO_LONG,
                    f"Line {lines.record_start}: a value is longer than {MAX_CELL_CHARS:,} "
                    "characters; is a quote left open?",
                    line=lines.record_start,
                ) from None
            raise SheetReadError(
                SheetErrorCode.UNREADABLE_FILE,
                f"Line {lines.record_start} cannot be read as CSV ({error}).",
                line=lines.record_start,
            ) from None
        cells: list[Cell] = [value or None for value in record]
        if cells.count(None) == len(cells):
            continue
        if lines.record_chars > MAX_CELL_CHARS:
            for index, value in enumerate(record, 1):
                if len(value) > MAX_CELL_CHARS:
                    raise _cell_too_long(SheetFormat.CSV, lines.record_start, index)
        yield lines.record_start, cells


# XLSX
#
# openpyxl reads the workbook's structure and styles and parses each cell, but its read-only
# mode does not stream all the rest: it holds the shared strings as one Python str each (two
# to three times their XML), parses every sheet's relationships (one per hyperlink) when the
# workbook opens, and builds whatever follows a sheet's rows (one element per hyperlink) when
# its rows run out: 73 MiB at its peak for 50,000 rows of 10 columns, one of them links. So
# `_Workbook` runs only the steps of openpyxl's reader that rows need, with a packed string
# table, and `_sheet_rows` walks the sheet's XML itself, dropping each row once read and
# stopping at the end of the rows (7 MiB for the same file). Tested with openpyxl 3.1.5.


class _StringTable:
    """Shared strings packed into blocks of one str each: a str per string costs 50 to 80
    bytes beyond its text, most of the memory of a sheet of unique names."""

    _BLOCK = 1024

    def __init__(self) -> None:
        self._blocks: list[str] = []
        self._ends: list[array[int]] = []
        self._pending: list[str] = []

    def append(self, text: str) -> None:
        self._pending.append(text)
        if len(self._pending) == self._BLOCK:
            self.pack()

    def pack(self) -> None:
        if self._pending:
            self._ends.append(array("q", accumulate(map(len, self._pending))))
            self._blocks.append("".join(self._pending))
            self._pending.clear()

    def __getitem__(self, index: int) -> str:
        if index < 0:
            raise IndexError(index)
        block, offset = divmod(index, self._BLOCK)
        ends = self._ends[block]
        return self._blocks[block][ends[offset - 1] if offset else 0 : ends[offset]]


def _read_strings(source: IO[bytes]) -> _StringTable:
    table = _StringTable()
    root = None
    # expat refuses entity expansion bombs (see the module's docstring).
    for event, element in iterparse(source, events=("start", "end")):  # noqa: S314
        if root is None:
            root = element
        elif event == "end" and element.tag == _STRING_ITEM:
            # As openpyxl reads them: plain text, or the text of its runs without phonetics.
            texts = element.findall(_TEXT) + element.findall(_RUN_TEXT)
            table.append("".join(text.text or "" for text in texts).replace("x005F_", ""))
            root.clear()
    table.pack()
    return table


class _Workbook(ExcelReader):
    """openpyxl's workbook reader, run for what reading rows needs: the sheets, the date
    system and which styles are dates; the shared strings are read into a `_StringTable`."""

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file, read_only=True, data_only=True, keep_links=False)
        self.strings = _StringTable()
        self.sheets: list[tuple[str, str | None, str]] = []  # name, visibility, part

    def read(self) -> None:
        self.read_manifest()
        part = self.package.find(SHARED_STRINGS)  # type: ignore[no-untyped-call]
        if part is not None:
            with self.archive.open(part.PartName[1:]) as source:
                self.strings = _read_strings(source)
        self.read_workbook()
        apply_stylesheet(self.archive, self.wb)
        self.sheets = [
            (sheet.name, sheet.state, rel.target)
            for sheet, rel in self.parser.find_sheets()
            if "chartsheet" not in rel.Type and rel.target in self.valid_files
        ]

    def cell_parser(self, source: IO[bytes]) -> WorkSheetParser:
        return WorkSheetParser(
            source,
            self.strings,
            data_only=True,  # a formula's value as last calculated, never its text
            epoch=self.wb.epoch,
            date_formats=self.wb._date_formats,  # type: ignore[attr-defined]
            timedelta_formats=self.wb._timedelta_formats,  # type: ignore[attr-defined]
        )


def _open_xlsx(file: IO[bytes], sheet_name: str | None, resources: ExitStack) -> SheetReader:
    file.seek(0)
    try:
        book = _Workbook(file)  # reads the archive's directory only
    except _XLSX_ERRORS as error:
        raise _unreadable_workbook(error) from None
    resources.callback(book.archive.close)  # leaves a file passed in open
    _check_archive(book.archive)
    try:
        book.read()
    except _XLSX_ERRORS as error:
        raise _unreadable_workbook(error) from None

    names = tuple(name for name, _, _ in book.sheets)
    if sheet_name is not None:
        chosen = [sheet for sheet in book.sheets if sheet[0] == sheet_name]
    else:  # the first sheet a person sees
        visible = [sheet for sheet in book.sheets if sheet[1] not in ("hidden", "veryHidden")]
        chosen = visible or book.sheets
    if not chosen:
        shown = ", ".join(f'"{name}"' for name in names[:20]) + (", ..." if names[20:] else "")
        raise SheetReadError(
            SheetErrorCode.NO_SUCH_SHEET,
            f'The workbook has no sheet named "{sheet_name}"; its sheets are {shown}.'
            if names
            else "The workbook has no worksheet.",
        )
    name, _, part = chosen[0]
    source = resources.enter_context(book.archive.open(part))
    records = _xlsx_records(source, book.cell_parser(source))
    resources.callback(records.close)
    header_line, header = _read_header(records, SheetFormat.XLSX)
    return SheetReader(
        format=SheetFormat.XLSX,
        sheet_name=name,
        sheet_names=names,
        header=header,
        header_line=header_line,
        records=records,
        resources=resources,
    )


def _check_archive(archive: zipfile.ZipFile) -> None:
    """Refuse a workbook that unpacks to too much before unpacking any of it. zipfile never
    unpacks a part beyond the size its directory states, so these sizes hold."""
    names = set(archive.namelist())
    if "[Content_Types].xml" not in names or not any(name.startswith("xl/") for name in names):
        raise SheetReadError(
            SheetErrorCode.UNSUPPORTED_FORMAT,
            "The file is a ZIP archive but not an Excel workbook: save it as XLSX or CSV.",
        )
    if "xl/workbook.bin" in names:
        raise SheetReadError(
            SheetErrorCode.UNSUPPORTED_FORMAT,
            "The file is a binary Excel workbook (.xlsb), which cannot be read: "
            "open it in Excel and save it as XLSX or CSV.",
        )
    total = 0
    for part in archive.infolist():
        total += part.file_size
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > _RATIO_CHECKED_FROM and ratio > MAX_COMPRESSION_RATIO:
            raise _too_large(
                f"its part {part.filename} unpacks to {ratio:,.0f} times its packed size, "
                "which no spreadsheet does"
            )
        if part.filename.startswith("xl/worksheets/"):
            continue  # read as a stream
        limit = (
            MAX_SHARED_STRINGS_BYTES
            if part.filename.endswith("sharedStrings.xml")
            else MAX_OTHER_PART_BYTES
        )
        if part.filename.endswith((".xml", ".rels")) and part.file_size > limit:
            raise _too_large(f"its part {part.filename} unpacks to more than {_mib(limit)}")
    if total > MAX_UNPACKED_BYTES:
        raise _too_large(f"it unpacks to more than {_mib(MAX_UNPACKED_BYTES)}")


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MiB"


def _too_large(reason: str) -> SheetReadError:
    return SheetReadError(
        SheetErrorCode.TOO_LARGE,
        f"The workbook is too large to read: {reason}. Split it, or save it as CSV.",
    )


def _unreadable_workbook(error: BaseException, line: int | None = None) -> SheetReadError:
    where = f" at row {line}" if line is not None else ""
    return SheetReadError(
        SheetErrorCode.UNREADABLE_FILE,
        f"The workbook is damaged or not a valid XLSX file{where}, and cannot be read "
        f"({error}). Open it in Excel and save it again.",
        line=line,
    )


def _xlsx_records(source: IO[bytes], parser: WorkSheetParser) -> Generator[_Record]:
    rows = _sheet_rows(_Metered(source), parser)
    line = 0
    while True:
        try:
            row = next(rows, None)
        except _XLSX_ERRORS as error:
            raise _unreadable_workbook(error, line + 1) from None
        if row is None:
            return
        line = row[0]
        yield row


class _Metered:
    """A sheet's XML as the parser reads it, refused past `limit`: an element gives no event
    while it is read, so the size of one (a cell's text) can only be bounded here."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self.row = 1
        self.size = 0
        self.limit = _MAX_ROW_BYTES

    def allow_row(self, row: int) -> None:
        self.row = row
        self.limit = self.size + _MAX_ROW_BYTES

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        self.size += len(data)
        if self.size > self.limit:
            raise _row_too_large(self.row, f"{_mib(_MAX_ROW_BYTES)} of XML")
        return data


def _sheet_rows(source: _Metered, parser: WorkSheetParser) -> Iterator[_Record]:
    """The sheet's non-empty rows with their numbers, up to their last value. Each element is
    dropped once read, as soon as no open one needs it, so what is held is one row's; its
    elements, their depth and its bytes are bounded."""
    open_elements: list[Element] = []
    held = 0  # elements kept since the last drop
    number = 0
    for event, element in iterparse(source, events=("start", "end")):  # noqa: S314
        if event == "start":
            open_elements.append(element)
            if len(open_elements) > _MAX_DEPTH:
                raise _row_too_large(number + 1, f"{_MAX_DEPTH} levels of XML")
            continue
        open_elements.pop()
        if element.tag == _ROW:
            number = int(element.get("r") or number + 1)
            cells = _row_cells(element, parser, number)
            if cells:
                yield number, cells
        elif element.tag == _SHEET_DATA:
            return  # links, merged cells and the like follow the rows and are not needed
        if len(open_elements) in (1, 2):  # a child of the sheet or of its rows: drop it
            open_elements[-1].clear()
            held = 0
            source.allow_row(number + 1)
        else:
            held += 1
            if held > _MAX_ROW_ELEMENTS:
                raise _row_too_large(number + 1, f"{_MAX_ROW_ELEMENTS:,} XML elements")


def _row_too_large(row: int, what: str) -> SheetReadError:
    return SheetReadError(
        SheetErrorCode.TOO_LARGE,
        f"Row {row} holds more than {what}: it is too large to read.",
        line=row,
    )


def _row_cells(row: Element, parser: WorkSheetParser, number: int) -> list[Cell]:
    parser.row_counter, parser.col_counter = number, 0  # for cells without a reference
    cells: list[Cell] = []
    for element in row:
        if element.tag != _CELL:
            continue
        cell = parser.parse_cell(element)
        value = _xlsx_cell(cell["value"])
        if value is None:
            continue
        column: int = cell["column"]
        if column > MAX_COLUMNS:
            raise _too_many_columns(SheetFormat.XLSX, number)
        if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
            raise _cell_too_long(SheetFormat.XLSX, number, column)
        if column > len(cells):
            cells.extend([None] * (column - len(cells)))
        cells[column - 1] = value
    return cells


def _xlsx_cell(value: object) -> Cell:
    if isinstance(value, str):
        return value or None
    if value is None or isinstance(value, _PLAIN):
        return value
    # Rich text, array formulas, decimals: not produced with data_only and without rich_text.
    return str(value)
