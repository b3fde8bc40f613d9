"""Reading uploaded CSV and XLSX files: format, encoding and delimiter detection, line numbers,
the bounds against hostile files, the errors people see, and that rows stream (a 50,000-row
file of each format is read within a few MiB)."""

import codecs
import csv
import io
import os
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from openpyxl import Workbook

from services.spreadsheets import SheetFormat, reading
from services.spreadsheets.reading import (
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    SheetErrorCode,
    SheetReader,
    SheetReadError,
    open_sheet,
)

ROWS = 50_000
STREAMING_PEAK = 16 << 20  # holding 50,000 rows of these files takes well over this


def read(data: bytes, **options: Any) -> tuple[SheetReader, list[tuple[int, tuple[Any, ...]]]]:
    with open_sheet(io.BytesIO(data), **options) as reader:
        return reader, [(row.line, row.cells) for row in reader.rows()]


def rows_of(data: bytes, **options: Any) -> list[tuple[int, tuple[Any, ...]]]:
    return read(data, **options)[1]


def failure(data: bytes, **options: Any) -> SheetReadError:
    with pytest.raises(SheetReadError) as caught:
        read(data, **options)
    return caught.value


def workbook(build: Callable[[Any, Any], None], **options: Any) -> bytes:
    """An XLSX written by xlsxwriter (as Excel writes them: shared strings, cached values)."""
    target = io.BytesIO()
    book = xlsxwriter.Workbook(target, {"in_memory": True, **options})
    build(book, book.add_worksheet("Contacts"))
    book.close()
    return target.getvalue()


def simple_workbook(*rows: list[Any]) -> bytes:
    def build(book: Any, sheet: Any) -> None:
        for index, row in enumerate(rows):
            sheet.write_row(index, 0, row)

    return workbook(build)


def replace_parts(data: bytes, parts: dict[str, bytes], *, level: int = 6) -> bytes:
    """The workbook with some parts' content replaced (or added)."""
    target = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(target, "w") as archive:
        for info in source.infolist():
            if info.filename not in parts:
                archive.writestr(info, source.read(info.filename))
        for name, content in parts.items():
            archive.writestr(name, content, zipfile.ZIP_DEFLATED, compresslevel=level)
    return target.getvalue()


NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def sheet_xml(rows: str, *, before: str = "", after: str = "", doctype: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{doctype}<worksheet {NS}>{before}'
        f"<sheetData>{rows}</sheetData>{after}</worksheet>"
    ).encode()


def with_sheet(xml: bytes) -> bytes:
    return replace_parts(simple_workbook(["Name"]), {"xl/worksheets/sheet1.xml": xml})


def inline(reference: str, text: str) -> str:
    return f'<c r="{reference}" t="inlineStr"><is><t>{text}</t></is></c>'


# Format


def test_format_is_detected_from_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"  # an XLSX named .csv
    path.write_bytes(simple_workbook(["Name"], ["Acme"]))
    with open_sheet(path) as reader:
        assert reader.format == SheetFormat.XLSX
        assert reader.encoding is None
        assert reader.delimiter is None
        assert [row.cells for row in reader.rows()] == [("Acme",)]
    path = tmp_path / "upload"  # no extension at all
    path.write_bytes(b"Name\nAcme\n")
    with open_sheet(path) as reader:
        assert reader.format == SheetFormat.CSV


def test_an_old_xls_workbook_is_refused_with_what_to_do() -> None:
    error = failure(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    assert error.code == SheetErrorCode.UNSUPPORTED_FORMAT
    assert ".xls" in error.message
    assert "save it as XLSX or CSV" in error.message


def test_a_zip_that_is_not_a_workbook_is_refused() -> None:
    target = io.BytesIO()
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    error = failure(target.getvalue())
    assert error.code == SheetErrorCode.UNSUPPORTED_FORMAT
    assert "not an Excel workbook" in error.message
    xlsb = replace_parts(target.getvalue(), {"xl/workbook.bin": b"\x00"})
    assert "(.xlsb)" in failure(xlsb).message


def test_a_given_format_that_contradicts_the_content_is_an_error() -> None:
    error = failure(simple_workbook(["Name"]), format=SheetFormat.CSV)
    assert error.code == SheetErrorCode.FORMAT_MISMATCH
    assert error.message == "The file is an XLSX workbook, not CSV."
    error = failure(b"Name\nAcme\n", format=SheetFormat.XLSX)
    assert error.code == SheetErrorCode.FORMAT_MISMATCH
    assert error.message == "The file is text, not XLSX."
    rows = rows_of(b"Name\nAcme\n", format=SheetFormat.CSV)
    assert rows == [(2, ("Acme",))]


# CSV encodings


def test_plain_utf8_and_a_utf8_byte_order_mark() -> None:
    reader, rows = read("Name,City\nMüller,Köln\n".encode())
    assert (reader.encoding, reader.header, rows) == (
        "utf-8",
        ("Name", "City"),
        [(2, ("Müller", "Köln"))],
    )
    reader, rows = read(codecs.BOM_UTF8 + "Name,City\nMüller,Köln\n".encode())
    assert (reader.encoding, reader.header, rows) == (
        "utf-8-sig",
        ("Name", "City"),
        [(2, ("Müller", "Köln"))],
    )


def test_a_given_utf8_on_a_file_with_a_byte_order_mark_keeps_the_header_clean() -> None:
    reader, _ = read(codecs.BOM_UTF8 + b"Name,City\n", encoding="UTF-8")
    assert reader.encoding == "utf-8"
    assert reader.header == ("Name", "City")


def test_excel_unicode_text_is_utf16_with_tabs() -> None:
    text = "Name\tCity\tNotes\r\nMüller\tKöln\t„Zitat“, 1,5\r\n"
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        reader, rows = read(bom + text.encode(encoding))
        assert (reader.encoding, reader.delimiter) == (encoding, "\t")
        assert reader.header == ("Name", "City", "Notes")
        assert rows == [(2, ("Müller", "Köln", "„Zitat“, 1,5"))]


def test_utf32_byte_order_mark_is_not_taken_for_utf16() -> None:
    reader, rows = read(codecs.BOM_UTF32_LE + "Name\nÅsa\n".encode("utf-32-le"))
    assert reader.encoding == "utf-32-le"
    assert rows == [(2, ("Åsa",))]


def test_windows_1252_then_latin1_when_utf8_does_not_decode() -> None:
    reader, rows = read("Name;Price\nMüller;5 €\n".encode("cp1252"))
    assert (reader.encoding, rows) == ("cp1252", [(2, ("Müller", "5 €"))])
    # 0x81 is undefined in cp1252: only latin-1 decodes every byte.
    reader, rows = read(b"Name;Code\nM\xfcller;\x81\n")
    assert (reader.encoding, rows) == ("latin-1", [(2, ("Müller", "\x81"))])


def test_a_character_cut_at_the_end_of_the_sample_is_still_utf8() -> None:
    head = b"Name\n"
    filler = b"x" * 99 + b"\n"
    body = head + filler * ((64 * 1024 - len(head)) // len(filler))
    body += b"y" * (64 * 1024 - 1 - len(body))  # "ü" (2 bytes) straddles the 64 KiB sample
    data = body + "ü\nLast\n".encode()
    assert len(body) == 64 * 1024 - 1
    reader, rows = read(data)
    assert reader.encoding == "utf-8"
    assert rows[-2][1][0].endswith("yü")
    assert rows[-1][1] == ("Last",)


def test_bytes_that_do_not_decode_after_the_sample_name_their_line() -> None:
    lines = [b"Name,Notes\n"] + [
        b"Acme %d,plain ascii text to fill the sample\n" % i for i in range(3000)
    ]
    data = b"".join(lines) + b"Bad,\xff here\nNext,ok\n"
    assert len(data) > 100 * 1024
    with open_sheet(io.BytesIO(data)) as reader:
        assert reader.encoding == "utf-8"
        rows = reader.rows()
        for _ in range(3000):
            next(rows)
        with pytest.raises(SheetReadError) as caught:
            next(rows)
    error = caught.value
    assert error.code == SheetErrorCode.BAD_ENCODING
    assert error.line == 3002
    assert error.message.startswith("Line 3002 is not valid utf-8 text (byte 0xFF)")


def test_a_given_encoding_that_does_not_fit_names_the_line_when_opened() -> None:
    data = "Name\nok\nMüller\n".encode("cp1252")
    error = failure(data, encoding="utf-8")
    assert (error.code, error.line) == (SheetErrorCode.BAD_ENCODING, 3)
    assert "byte 0xFC" in error.message
    assert "cp1252" in error.message
    reader, rows = read(data, encoding="windows-1252")
    assert reader.encoding == "cp1252"
    assert rows[-1] == (3, ("Müller",))


def test_a_broken_utf16_file_is_a_bad_encoding() -> None:
    data = (
        codecs.BOM_UTF16_LE
        + "Name\nA\n".encode("utf-16-le")
        + b"\x00\xd8"
        + "\nB\n".encode("utf-16-le")
    )
    error = failure(data)
    assert error.code == SheetErrorCode.BAD_ENCODING
    assert error.line == 3


def test_unknown_and_non_text_encodings_are_named() -> None:
    error = failure(b"Name\n", encoding="klingon")
    assert error.code == SheetErrorCode.UNKNOWN_ENCODING
    assert error.message == "Unknown text encoding: 'klingon'."
    assert failure(b"Name\n", encoding="base64").code == SheetErrorCode.UNKNOWN_ENCODING


def test_nul_characters_name_their_line() -> None:
    error = failure(b"Name\nAcme\nBe\x00ta\n")
    assert (error.code, error.line) == (SheetErrorCode.NUL_CHARACTER, 3)
    assert error.message.startswith("Line 3 contains a NUL character")
    # UTF-16 without its byte order mark is mostly NULs.
    assert failure("Name\n".encode("utf-16-le")).line == 1
    # Past the sample, it is found when reading reaches it.
    data = b"Name\n" + b"x" * 100 + b"\n" + b"y\n" * 40_000 + b"z\x00\n"
    with open_sheet(io.BytesIO(data)) as reader, pytest.raises(SheetReadError) as caught:
        list(reader.rows())
    assert (caught.value.code, caught.value.line) == (SheetErrorCode.NUL_CHARACTER, 40_003)


# CSV delimiters


@pytest.mark.parametrize(
    ("data", "delimiter", "header", "first"),
    [
        (b"Name,Revenue\nAcme,1.5\n", ",", ("Name", "Revenue"), ("Acme", "1.5")),
        (b"Name;Revenue\nAcme;1,5\nBeta;2,25\n", ";", ("Name", "Revenue"), ("Acme", "1,5")),
        (b"Name\tRevenue\nAcme, Inc\t1,5\n", "\t", ("Name", "Revenue"), ("Acme, Inc", "1,5")),
        (b"Name|City\nAcme|Berlin, DE\n", "|", ("Name", "City"), ("Acme", "Berlin, DE")),
        # A header with a comma in a name: semicolons still split every line alike.
        (b"Name;Revenue, EUR\nAcme;1,5\n", ";", ("Name", "Revenue, EUR"), ("Acme", "1,5")),
        (b'Name,Notes\nAcme,"a; b; c"\nBeta,"x;y"\n', ",", ("Name", "Notes"), ("Acme", "a; b; c")),
        # One column and no delimiter at all: a comma.
        (b"Name\nAcme\nBeta\n", ",", ("Name",), ("Acme",)),
        # One column whose values have commas: a delimiter that splits none of them.
        (b"Name\nAcme, Inc\nBeta\n", ";", ("Name",), ("Acme, Inc",)),
    ],
)
def test_delimiter_detection(
    data: bytes, delimiter: str, header: tuple[str, ...], first: tuple[str, ...]
) -> None:
    reader, rows = read(data)
    assert (reader.delimiter, reader.header, rows[0]) == (delimiter, header, (2, first))


def test_a_given_delimiter_is_used_and_checked() -> None:
    rows = rows_of(b"Name;Notes\nAcme;a,b\n", delimiter=";")
    assert rows == [(2, ("Acme", "a,b"))]
    rows = rows_of(b"Name\nAcme, Inc\n", delimiter=",")  # one column: cannot be wrong
    assert rows == [(2, ("Acme", " Inc"))]
    for bad in (";;", "", '"', "\n"):
        error = failure(b"Name,City\n", delimiter=bad)
        assert error.code == SheetErrorCode.BAD_DELIMITER
        assert error.message.startswith("The delimiter must be one character")
    error = failure(b"Name,City\nAcme,Berlin\n", delimiter=";")
    assert error.code == SheetErrorCode.BAD_DELIMITER
    assert (
        error.message
        == "The header row has no semicolons: the file seems to be separated by commas."
    )


def test_excels_sep_line_is_honoured_and_skipped() -> None:
    reader, rows = read(b"sep=;\r\nName;Revenue\r\nAcme;1,5\r\n")
    assert (reader.delimiter, reader.header, reader.header_line) == (";", ("Name", "Revenue"), 2)
    assert rows == [(3, ("Acme", "1,5"))]
    reader, rows = read(b"sep=|\nName|City\nAcme|Berlin\n")
    assert (reader.delimiter, rows) == ("|", [(3, ("Acme", "Berlin"))])
    # A given delimiter wins; the hint line is still not data.
    reader, rows = read(b"sep=;\nName,City\nAcme,Berlin\n", delimiter=",")
    assert (reader.header, rows) == (("Name", "City"), [(3, ("Acme", "Berlin"))])


# CSV records


def test_quoted_fields_and_their_line_numbers() -> None:
    data = (
        b"Name,Notes,City\r\n"
        b'"Acme, Inc","first line\r\nsecond ""quoted"" line\r\n\r\nfourth",Berlin\r\n'
        b"\r\n"
        b'Beta,"a,b",Wien\r\n'
        b'"Gamma\nGmbH",,"Z\xc3\xbcrich"\r\n'
    )
    rows = rows_of(data)
    assert rows == [
        (2, ("Acme, Inc", 'first line\r\nsecond "quoted" line\r\n\r\nfourth', "Berlin")),
        (7, ("Beta", "a,b", "Wien")),
        (8, ("Gamma\nGmbH", None, "Zürich")),
    ]


def test_line_endings_of_every_kind_count_as_lines() -> None:
    rows = rows_of(b"Name\rAcme\rBeta\r")  # old Mac
    assert rows == [(2, ("Acme",)), (3, ("Beta",))]
    rows = rows_of(b"Name\r\r\nAcme\r\r\nBeta")  # doubled CR: no "\r" left in values
    assert rows == [(3, ("Acme",)), (5, ("Beta",))]


def test_header_and_row_shapes() -> None:
    data = b"  Name , ,City,,\n\n , \nAcme, x ,Berlin\nBeta\nGamma,,Wien,,extra,\n,,,\n"
    reader, rows = read(data)
    assert reader.header == ("Name", "", "City")  # stripped; trailing blank names dropped
    assert reader.header_line == 1
    assert rows == [
        (3, (" ", " ", None)),  # whitespace is a value; the caller decides
        (4, ("Acme", " x ", "Berlin")),
        (5, ("Beta", None, None)),  # short rows padded
        (6, ("Gamma", None, "Wien", None, "extra")),  # long rows kept, trailing empties not
    ]


def test_blank_lines_before_the_header_are_skipped() -> None:
    reader, rows = read(b"\n  ,  \n\nName\nAcme\n")
    assert (reader.header, reader.header_line, rows) == (("Name",), 4, [(5, ("Acme",))])


def test_formulas_are_text_and_never_evaluated() -> None:
    rows = rows_of(b'Name,Total\n=1+1,"=SUM(A1:A3)"\n@cmd,=HYPERLINK("http://x")\n')
    assert rows == [(2, ("=1+1", "=SUM(A1:A3)")), (3, ("@cmd", '=HYPERLINK("http://x")'))]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"\n\n\r\n", "The file has no header row: it has no values."),
        (b" , ,\n\t\n", "The file has no header row: it has no values."),
        (codecs.BOM_UTF8, "The file has no header row: it has no values."),
    ],
)
def test_no_header(data: bytes, message: str) -> None:
    error = failure(data)
    assert (error.code, error.message) == (SheetErrorCode.NO_HEADER, message)


def test_a_header_alone_has_no_rows() -> None:
    reader, rows = read(b"Name,City")
    assert (reader.header, rows) == (("Name", "City"), [])


# CSV bounds


def test_too_many_columns() -> None:
    names = ",".join(f"c{i}" for i in range(MAX_COLUMNS + 1)).encode()
    error = failure(names + b"\n")
    assert (error.code, error.line) == (SheetErrorCode.TOO_MANY_COLUMNS, 1)
    assert error.message == f"Line 1 has more than {MAX_COLUMNS} columns."
    error = failure(b"Name,City\nAcme,Berlin\n" + b"x," * MAX_COLUMNS + b"x\n")
    assert (error.code, error.line) == (SheetErrorCode.TOO_MANY_COLUMNS, 3)
    # Empty cells beyond the header are not columns.
    rows = rows_of(b"Name,City\nAcme,Berlin" + b"," * 5000 + b"\n")
    assert rows == [(2, ("Acme", "Berlin"))]


def test_an_over_long_cell_names_line_and_column() -> None:
    data = b"Name,Notes\nAcme,short\nBeta," + b"x" * (MAX_CELL_CHARS + 1) + b"\n"
    error = failure(data)
    assert (error.code, error.line, error.column) == (SheetErrorCode.CELL_TOO_LONG, 3, 2)
    assert error.message == "Line 3, column 2: the value is longer than 100,000 characters."
    rows = rows_of(b"Name\n" + b"x" * MAX_CELL_CHARS + b"\n")
    assert len(rows[0][1][0]) == MAX_CELL_CHARS


def test_an_unclosed_quote_is_stopped_whatever_csvs_process_wide_limit() -> None:
    data = b'Name,Notes\nAcme,"never closed\n' + b"more text on another line\n" * 60_000
    default = csv.field_size_limit()
    error = failure(data)
    assert (error.code, error.line) == (SheetErrorCode.CELL_TOO_LONG, 2)
    assert "is a quote left open?" in error.message
    csv.field_size_limit(1 << 40)  # as another part of a process may set it
    try:
        error = failure(data)
    finally:
        csv.field_size_limit(default)
    assert (error.code, error.line) == (SheetErrorCode.TOO_LARGE, 2)
    assert error.message == (
        "The record starting on line 2 is longer than 1,000,000 characters: is a quote left open?"
    )


def test_a_huge_line_without_line_breaks_is_bounded() -> None:
    error = failure(b"Name\n" + b"x" * 3_000_000)
    assert (error.code, error.line) == (SheetErrorCode.TOO_LARGE, 2)


# Files


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="counts open files on Linux")
def test_a_path_is_closed_and_a_file_object_is_left_open(tmp_path: Path) -> None:
    for data in (b"Name\nAcme\n", simple_workbook(["Name"], ["Acme"])):
        path = tmp_path / "upload"
        path.write_bytes(data)
        with path.open("rb") as file:
            with open_sheet(file) as reader:
                assert [row.cells for row in reader.rows()] == [("Acme",)]
            assert not file.closed
            file.seek(0)
            assert file.read() == data
        before = open_files()
        reader = open_sheet(path)
        assert open_files() == before + 1
        reader.close()
        assert open_files() == before
        with pytest.raises(SheetReadError):
            open_sheet(path, sheet_name="Missing" if data[:2] == b"PK" else None, delimiter="::")
        assert open_files() == before  # closed when opening fails, too


def test_an_upload_spooled_to_memory_or_disk() -> None:
    for data in (
        b"Name;City\nAcme;Berlin\n",
        simple_workbook(["Name", "City"], ["Acme", "Berlin"]),
    ):
        for threshold in (0, 1 << 20):
            with tempfile.SpooledTemporaryFile(max_size=threshold) as upload:
                upload.write(data)
                with open_sheet(upload) as reader:
                    assert [row.cells for row in reader.rows()] == [("Acme", "Berlin")]


def test_rows_can_be_read_in_parts() -> None:
    with open_sheet(io.BytesIO(b"Name\nA\nB\nC\n")) as reader:
        assert next(reader.rows()).cells == ("A",)
        assert [row.line for row in reader.rows()] == [3, 4]


# XLSX values


def test_xlsx_values_as_typed_and_formulas_as_cached() -> None:
    def build(book: Any, sheet: Any) -> None:
        day = book.add_format({"num_format": "yyyy-mm-dd"})
        hours = book.add_format({"num_format": "hh:mm"})
        sheet.write_row(
            0,
            0,
            [" Name ", "Founded", "Revenue", "Staff", "Active", "Total", "Label", "Check", "Opens"],
        )
        sheet.write_string(1, 0, "Acme")
        sheet.write_datetime(1, 1, datetime(1999, 12, 31), day)
        sheet.write_number(1, 2, 1.5)
        sheet.write_number(1, 3, 12)
        sheet.write_boolean(1, 4, False)
        sheet.write_formula(1, 5, "=C2*2", None, 3)
        sheet.write_formula(1, 6, '="A"&"B"', None, "AB")
        sheet.write_formula(1, 7, "=NA()", None, "#N/A")
        sheet.write_datetime(1, 8, datetime(1900, 1, 1, 8, 30), hours)

    reader, rows = read(workbook(build))
    assert reader.header == (
        "Name",
        "Founded",
        "Revenue",
        "Staff",
        "Active",
        "Total",
        "Label",
        "Check",
        "Opens",
    )
    assert rows == [
        (2, ("Acme", datetime(1999, 12, 31), 1.5, 12, False, 3, "AB", "#N/A", clock(8, 30)))
    ]
    cells = rows[0][1]
    assert type(cells[3]) is int
    assert cells[4] is False


def test_xlsx_times_and_durations() -> None:
    def build(book: Any, sheet: Any) -> None:
        sheet.write_row(0, 0, ["Opens", "Takes"])
        sheet.write_number(1, 0, 0.5, book.add_format({"num_format": "hh:mm"}))
        sheet.write_number(1, 1, 1.25, book.add_format({"num_format": "[h]:mm"}))

    assert read(workbook(build))[1] == [(2, (clock(12, 0), timedelta(days=1, hours=6)))]


def test_xlsx_gaps_merged_and_empty_cells() -> None:
    def build(book: Any, sheet: Any) -> None:
        sheet.write_row(2, 1, ["Name", None, "City"])  # header at B3, a blank name
        sheet.merge_range("B4:C4", "Merged")
        sheet.write_string(6, 3, "Berlin")  # after two empty rows
        sheet.write_blank(7, 1, None, book.add_format({"bold": True}))  # formatted, empty
        sheet.write_string(8, 5, "beyond")  # a value past the header
        sheet.write_blank(9, 20, None, book.add_format({"bold": True}))

    reader, rows = read(workbook(build))
    assert (reader.header, reader.header_line) == (("", "Name", "", "City"), 3)
    assert rows == [
        (4, (None, "Merged", None, None)),
        (7, (None, None, None, "Berlin")),
        (9, (None, None, None, None, None, "beyond")),
    ]


def test_xlsx_numbers_and_dates_as_headers_are_text() -> None:
    reader, _ = read(simple_workbook(["Name", 2024, 2.5, True]))
    assert reader.header == ("Name", "2024", "2.5", "True")


def test_xlsx_inline_strings_rows_without_references_and_a_wrong_dimension() -> None:
    rows = (
        f'<row r="1">{inline("A1", "Name")}{inline("B1", "City")}</row>'
        '<row><c t="inlineStr"><is><t>Acme</t></is></c><c t="inlineStr"><is><r><t>Ber</t></r><r><t>lin</t></r></is></c></row>'
        f'<row r="5">{inline("A5", "Beta")}<c r="B5"><v>7</v></c></row>'
    )
    reader, found = read(with_sheet(sheet_xml(rows, before='<dimension ref="A1"/>')))
    assert reader.header == ("Name", "City")
    assert found == [(2, ("Acme", "Berlin")), (5, ("Beta", 7))]


def test_xlsx_shared_strings_across_many_blocks() -> None:
    def build(book: Any, sheet: Any) -> None:
        sheet.write_row(0, 0, ["Name", "Rich", "Empty"])
        for row in range(1, 5001):
            sheet.write_string(row, 0, f"Company {row} € Zürich 😀")
        bold = book.add_format({"bold": True})
        sheet.write_rich_string(1, 1, "plain ", bold, "bold", " end")
        sheet.write_string(1, 2, "")

    rows = rows_of(workbook(build))
    assert len(rows) == 5000
    assert rows[0] == (2, ("Company 1 € Zürich 😀", "plain bold end", None))
    assert rows[2047] == (2049, ("Company 2048 € Zürich 😀", None, None))
    assert rows[-1] == (5001, ("Company 5000 € Zürich 😀", None, None))


def test_xlsx_sheets_first_visible_by_name_or_none() -> None:
    def build(book: Any, first: Any) -> None:
        first.write_row(0, 0, ["Code"])
        first.hide()
        second = book.add_worksheet("People")
        second.write_row(0, 0, ["Name"])
        second.write_row(1, 0, ["Ada"])
        second.activate()
        book.add_chartsheet("Chart").set_chart(_chart(book))

    data = workbook(build)
    reader, rows = read(data)
    assert (reader.sheet_name, reader.sheet_names, rows) == (
        "People",
        ("Contacts", "People"),
        [(2, ("Ada",))],
    )
    reader, rows = read(data, sheet_name="Contacts")
    assert (reader.sheet_name, reader.header, rows) == ("Contacts", ("Code",), [])
    error = failure(data, sheet_name="Chart")
    assert error.code == SheetErrorCode.NO_SUCH_SHEET
    assert (
        error.message
        == 'The workbook has no sheet named "Chart"; its sheets are "Contacts", "People".'
    )


def _chart(book: Any) -> Any:
    chart = book.add_chart({"type": "line"})
    chart.add_series({"values": "=People!$A$2:$A$2"})
    return chart


def test_an_empty_workbook_has_no_header() -> None:
    error = failure(simple_workbook())
    assert (error.code, error.message) == (
        SheetErrorCode.NO_HEADER,
        "The file has no header row: it has no values.",
    )


def test_xlsx_too_many_columns_and_an_over_long_cell() -> None:
    error = failure(simple_workbook(["Name"], ["Acme"] + [None] * (MAX_COLUMNS - 1) + ["far"]))
    assert (error.code, error.line) == (SheetErrorCode.TOO_MANY_COLUMNS, 2)
    assert error.message == "Row 2 has more than 500 columns."
    long_text = "x" * (MAX_CELL_CHARS + 1)  # more than Excel allows; other writers do not care
    data = with_sheet(
        sheet_xml(
            f'<row r="1">{inline("A1", "Name")}{inline("B1", "Notes")}</row><row r="2">{inline("B2", long_text)}</row>'
        )
    )
    error = failure(data)
    assert (error.code, error.line, error.column) == (SheetErrorCode.CELL_TOO_LONG, 2, 2)
    assert error.message == "Row 2, column B: the value is longer than 100,000 characters."


def test_a_row_with_a_huge_number_is_read_without_filling_the_gap() -> None:
    rows = f'<row r="1">{inline("A1", "Name")}</row><row r="1000000000">{inline("A1000000000", "Far")}</row>'
    started = time.perf_counter()
    found = rows_of(with_sheet(sheet_xml(rows)))
    assert found == [(1_000_000_000, ("Far",))]
    assert time.perf_counter() - started < 5


def test_what_one_row_holds_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "MAX_COMPRESSION_RATIO", 100_000)  # these deflate well
    header = f'<row r="1">{inline("A1", "Name")}</row>'
    cases = {
        "100,000 XML elements": f'<row r="2">{"<c/>" * 1_000_000}</row>',
        "64 levels of XML": f'<row r="2"><c>{"<x>" * 10_000}',
        "16 MiB of XML": f'<row r="2"><c r="A2" t="inlineStr"><is><t>{"x" * (20 << 20)}',
    }
    for what, rows in cases.items():
        started = time.perf_counter()
        error = failure(with_sheet(sheet_xml(header + rows)))
        assert (error.code, error.line) == (SheetErrorCode.TOO_LARGE, 2)
        assert error.message == f"Row 2 holds more than {what}: it is too large to read."
        assert time.perf_counter() - started < 5


def test_what_follows_the_rows_is_never_parsed() -> None:
    # Broken XML after the rows: the hyperlinks of a real sheet would be built there.
    rows = f'<row r="1">{inline("A1", "Name")}</row><row r="2">{inline("A2", "Acme")}</row>'
    xml = sheet_xml(rows).replace(b"</worksheet>", b"<hyperlinks><oops></worksheet>")
    assert read(with_sheet(xml))[1] == [(2, ("Acme",))]


# Damaged and hostile workbooks


def test_a_truncated_workbook_is_unreadable() -> None:
    data = simple_workbook(["Name"], ["Acme"])
    error = failure(data[: len(data) // 2])
    assert error.code == SheetErrorCode.UNREADABLE_FILE
    assert error.message.startswith("The workbook is damaged or not a valid XLSX file")


def test_damaged_sheet_data_is_unreadable_at_its_row() -> None:
    def build(book: Any, sheet: Any) -> None:
        for row in range(3000):
            sheet.write_row(row, 0, [f"name {row}", row * 7919 % 10007, f"{row * 31:x}"])

    data = workbook(build)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    start = data.index(b"xl/worksheets/sheet1.xml") + len("xl/worksheets/sheet1.xml")
    middle = start + info.compress_size // 2
    damaged = data[:middle] + bytes(200) + data[middle + 200 :]
    with open_sheet(io.BytesIO(damaged)) as reader, pytest.raises(SheetReadError) as caught:
        list(reader.rows())
    assert caught.value.code == SheetErrorCode.UNREADABLE_FILE
    assert caught.value.line is not None
    assert 1 < caught.value.line < 3000


def test_malformed_xml_is_unreadable() -> None:
    error = failure(with_sheet(b"<worksheet><sheetData><row>"))
    assert error.code == SheetErrorCode.UNREADABLE_FILE
    data = replace_parts(simple_workbook(["Name"]), {"xl/workbook.xml": b"<workbook"})
    assert failure(data).code == SheetErrorCode.UNREADABLE_FILE


def test_a_zip_bomb_is_refused_before_it_is_unpacked() -> None:
    bomb = sheet_xml(" " * (64 << 20))  # 64 MiB of spaces deflate about a thousand times
    data = replace_parts(simple_workbook(["Name"]), {"xl/worksheets/sheet1.xml": bomb}, level=9)
    assert len(data) < 200_000
    error = failure(data)
    assert error.code == SheetErrorCode.TOO_LARGE
    assert "xl/worksheets/sheet1.xml unpacks to" in error.message
    assert "times its packed size" in error.message


def test_parts_read_whole_and_the_whole_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    data = simple_workbook(["Name"], ["Acme"])
    monkeypatch.setattr(reading, "MAX_OTHER_PART_BYTES", 500)
    error = failure(data)
    assert error.code == SheetErrorCode.TOO_LARGE
    assert "unpacks to more than" in error.message
    monkeypatch.setattr(reading, "MAX_OTHER_PART_BYTES", 16 << 20)
    monkeypatch.setattr(reading, "MAX_UNPACKED_BYTES", 2000)
    error = failure(data)
    assert error.code == SheetErrorCode.TOO_LARGE
    assert error.message.startswith("The workbook is too large to read: it unpacks to more than")


BILLION_LAUGHS = (
    '<!DOCTYPE worksheet [<!ENTITY lol "lollollollollollollollollollol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)


@pytest.mark.parametrize(
    "part", ["xl/worksheets/sheet1.xml", "xl/sharedStrings.xml", "xl/workbook.xml"]
)
def test_entity_expansion_is_refused_not_run(part: str) -> None:
    data = simple_workbook(["Name"], ["Acme"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read(part).decode()
    declaration_end = xml.index("?>") + 2
    root_end = xml.index(">", declaration_end) + 1
    # The bomb is set off inside the first element, before anything else is read.
    bombed = (
        xml[:declaration_end]
        + BILLION_LAUGHS
        + xml[declaration_end:root_end]
        + "<x>&lol9;</x>"
        + xml[root_end:]
    )
    started = time.perf_counter()
    with pytest.raises(SheetReadError) as caught:
        read(replace_parts(data, {part: bombed.encode()}))
    assert time.perf_counter() - started < 5
    assert caught.value.code == SheetErrorCode.UNREADABLE_FILE
    assert "amplification" in caught.value.message


def test_external_entities_are_not_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    doctype = f'<!DOCTYPE worksheet [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
    xml = sheet_xml(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&x;</t></is></c></row>', doctype=doctype
    )
    error = failure(with_sheet(xml))
    assert error.code == SheetErrorCode.UNREADABLE_FILE
    assert "undefined entity" in error.message
    assert "TOP SECRET" not in error.message


# Streaming


def contact(index: int) -> list[Any]:
    return [
        f"Company {index} GmbH",
        f"Hauptstraße {index % 300}",
        f"{10000 + index * 7 % 89999}",
        ("Berlin", "Köln", "Wien", "Zürich")[index % 4],
        f"+49 30 {index * 7919 % 9999999:07d}",
        f"info{index}@company{index}.example",
        index * 1.25,
        datetime(1950, 1, 1) + timedelta(days=index % 25000),
    ]


HEADER = ["Name", "Street", "Postcode", "City", "Phone", "Email", "Revenue", "Founded"]


@pytest.fixture(scope="module")
def big_files(tmp_path_factory: pytest.TempPathFactory) -> dict[SheetFormat, Path]:
    folder = tmp_path_factory.mktemp("big")
    csv_path, xlsx_path = folder / "contacts.csv", folder / "contacts.xlsx"
    with csv_path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(HEADER)
        for index in range(ROWS):
            writer.writerow(contact(index))
    # Shared strings and cached hyperlinks (emails), as Excel writes them.
    book = xlsxwriter.Workbook(str(xlsx_path))
    sheet = book.add_worksheet("Contacts")
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, HEADER)
    for index in range(ROWS):
        values = contact(index)
        sheet.write_row(index + 1, 0, values[:7])
        sheet.write_url(index + 1, 5, f"mailto:{values[5]}", string=values[5])
        sheet.write_datetime(index + 1, 7, values[7], day)
    book.close()
    return {SheetFormat.CSV: csv_path, SheetFormat.XLSX: xlsx_path}


@pytest.mark.parametrize("format", [SheetFormat.CSV, SheetFormat.XLSX])
def test_50000_rows_stream_in_little_memory(
    big_files: dict[SheetFormat, Path], format: SheetFormat
) -> None:
    tracemalloc.start()
    try:
        count, last = 0, None
        with open_sheet(big_files[format]) as reader:
            assert reader.format == format
            assert reader.header == tuple(HEADER)
            for row in reader.rows():
                count, last = count + 1, row
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == ROWS
    assert last is not None
    assert last.line == ROWS + 1
    expected = contact(ROWS - 1)
    assert last.cells[0] == expected[0]
    assert last.cells[5] == expected[5]
    if format == SheetFormat.XLSX:
        assert last.cells[6] == expected[6]
        assert last.cells[7] == expected[7]
    assert peak < STREAMING_PEAK, f"{format}: peak {peak / 2**20:.1f} MiB"


def test_xlsx_dates_are_datetimes_even_without_time() -> None:
    def build(book: Any, sheet: Any) -> None:
        sheet.write_row(0, 0, ["Day"])
        sheet.write_datetime(1, 0, date(2024, 2, 29), book.add_format({"num_format": "dd.mm.yyyy"}))

    assert read(workbook(build))[1] == [(2, (datetime(2024, 2, 29),))]


def test_workbooks_written_by_openpyxl_are_read_too() -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Data")
    sheet.append(["Name", "When"])
    sheet.append(["Acme", datetime(2020, 1, 2, 3, 4)])
    target = io.BytesIO()
    book.save(target)
    reader, rows = read(target.getvalue())
    assert (reader.sheet_name, rows) == ("Data", [(2, ("Acme", datetime(2020, 1, 2, 3, 4)))])
