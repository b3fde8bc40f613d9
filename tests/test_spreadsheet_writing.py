"""Exports written as CSV and XLSX, read back with the csv module and openpyxl."""

import codecs
import csv
import io
import math
import tracemalloc
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from openpyxl.worksheet.worksheet import Worksheet

from services.spreadsheets import SheetFormat
from services.spreadsheets.writing import (
    CHUNK_BYTES,
    EXCEL_MAX_CELL_CHARS,
    EXCEL_MAX_COLUMNS,
    EXCEL_MAX_ROWS,
    TRUNCATION_MARKER,
    Cell,
    Column,
    ColumnKind,
    XlsxSheetWriter,
    sheet_name_for_excel,
    sheet_writer,
)

K = ColumnKind
COLUMNS = [
    Column("Name", K.TEXT),
    Column("Employees", K.INTEGER),
    Column("Score", K.NUMBER),
    Column("Revenue (EUR)", K.MONEY),
    Column("Founded", K.DATE),
    Column("Updated", K.DATETIME),
    Column("Active", K.BOOLEAN),
    Column("Notes", K.TEXT),
]
ROW: list[Cell] = [
    "Acme GmbH",
    -5,
    Decimal("1E+3"),
    Decimal("12.50"),
    date(2024, 2, 29),
    datetime(2024, 3, 1, 9, 30, 15, 999_999),
    True,
    None,
]


def export(
    sheet_format: SheetFormat,
    columns: Sequence[Column],
    *batches: Iterable[Sequence[Cell]],
    sheet_name: str = "Customers",
) -> bytes:
    with sheet_writer(sheet_format, sheet_name=sheet_name, columns=columns) as writer:
        parts = [writer.write_rows(batch) for batch in batches]
        parts.extend(writer.finish())
    return b"".join(parts)


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(codecs.BOM_UTF8)
    assert data.count(codecs.BOM_UTF8) == 1
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def read_xlsx(data: bytes) -> list[Worksheet]:
    sheets = openpyxl.load_workbook(io.BytesIO(data)).worksheets
    return [sheet for sheet in sheets if isinstance(sheet, Worksheet)]


def values(sheet: Worksheet) -> list[list[object]]:
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def one_cell(sheet_format: SheetFormat, kind: ColumnKind, value: Cell) -> object:
    """What a single cell of `kind` holding `value` reads back as."""
    data = export(sheet_format, [Column("Value", kind)], [[value]])
    if sheet_format == SheetFormat.CSV:
        return read_csv(data)[1][0]
    return read_xlsx(data)[0]["A2"].value


# ---------------------------------------------------------------------------------------
# CSV


def test_csv_holds_the_header_and_typed_values_as_excel_reads_them() -> None:
    data = export(SheetFormat.CSV, COLUMNS, [ROW], [['Line\nbreak, and "quotes"'] + [None] * 7])

    assert data.startswith(codecs.BOM_UTF8 + b"Name,Employees,Score,Revenue (EUR),")
    assert data.endswith(
        b"\r\nAcme GmbH,-5,1000,12.50,2024-02-29,2024-03-01 09:30:15,TRUE,\r\n"
        b'"Line\nbreak, and ""quotes""",,,,,,,\r\n'
    )
    assert read_csv(data) == [
        [column.title for column in COLUMNS],
        ["Acme GmbH", "-5", "1000", "12.50", "2024-02-29", "2024-03-01 09:30:15", "TRUE", ""],
        ['Line\nbreak, and "quotes"', "", "", "", "", "", "", ""],
    ]


def test_csv_sends_the_bom_and_header_once_with_the_first_rows() -> None:
    columns = [Column("Name"), Column("Active", K.BOOLEAN)]
    with sheet_writer(SheetFormat.CSV, sheet_name="x", columns=columns) as writer:
        first = writer.write_rows([["a", False]])
        second = writer.write_rows([["b", True]])
        empty = writer.write_rows([])
        rest = list(writer.finish())

    assert first == codecs.BOM_UTF8 + b"Name,Active\r\na,FALSE\r\n"
    assert second == b"b,TRUE\r\n"
    assert empty == b""
    assert rest == []


def test_an_empty_csv_export_still_has_its_header() -> None:
    assert export(SheetFormat.CSV, COLUMNS) == codecs.BOM_UTF8 + (
        b"Name,Employees,Score,Revenue (EUR),Founded,Updated,Active,Notes\r\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        "+49 30 123456",
        "-5",
        "@SUM(A1:A2)",
        "\tx",
        "\rx",
        " =HYPERLINK(0)",
        "\n\t-1",
        "\u3000=1",  # after ideographic space
        "\uff1d1+1",  # full-width =
    ],
)
def test_csv_text_that_a_spreadsheet_would_run_starts_with_an_apostrophe(text: str) -> None:
    assert one_cell(SheetFormat.CSV, K.TEXT, text) == "'" + text


@pytest.mark.parametrize("text", ["", "a=b", "Acme", "'quoted", "5-3", "x\t=1", "   "])
def test_csv_text_that_cannot_run_is_unchanged(text: str) -> None:
    assert one_cell(SheetFormat.CSV, K.TEXT, text) == text


def test_csv_neutralises_column_titles_too_but_never_numbers() -> None:
    columns = [Column("=cmd", K.TEXT), Column("-Balance", K.NUMBER), Column("Delta", K.MONEY)]
    rows = read_csv(export(SheetFormat.CSV, columns, [["-5", -5, Decimal("-0.50")]]))

    assert rows == [["'=cmd", "'-Balance", "Delta"], ["'-5", "-5", "-0.50"]]


@pytest.mark.parametrize(
    ("kind", "value", "shown"),
    [
        (K.NUMBER, Decimal("1E+3"), "1000"),
        (K.NUMBER, Decimal("1.5E-7"), "0.00000015"),
        (K.NUMBER, 1e16, "10000000000000000"),
        (K.NUMBER, 1.5e-7, "0.00000015"),
        (K.NUMBER, 0.1, "0.1"),
        (K.NUMBER, 2**64, "18446744073709551616"),
        (K.MONEY, Decimal("12.50"), "12.50"),
        (K.MONEY, Decimal("7"), "7"),
        (K.MONEY, 3, "3"),
        (K.INTEGER, 2**53 + 1, "9007199254740993"),
        (K.DATE, date(1, 1, 1), "0001-01-01"),
        (K.DATETIME, datetime(999, 12, 31, 23, 59, 59, 500_000), "0999-12-31 23:59:59"),
        (K.BOOLEAN, False, "FALSE"),
    ],
)
def test_csv_writes_numbers_in_plain_notation_and_dates_in_iso(
    kind: ColumnKind, value: Cell, shown: str
) -> None:
    assert one_cell(SheetFormat.CSV, kind, value) == shown


# ---------------------------------------------------------------------------------------
# XLSX


def test_xlsx_holds_typed_cells_under_a_bold_frozen_filtered_header() -> None:
    formula_row: list[Cell] = ["=1+1", 0, 0.25, 0, date(1900, 1, 1), None, False, "@SUM(A1)"]
    data = export(SheetFormat.XLSX, COLUMNS, [ROW], [formula_row])
    [sheet] = read_xlsx(data)

    assert sheet.title == "Customers"
    assert values(sheet) == [
        [column.title for column in COLUMNS],
        [
            "Acme GmbH",
            -5,
            1000,
            12.5,
            datetime(2024, 2, 29),
            datetime(2024, 3, 1, 9, 30, 15),
            True,
            None,
        ],
        ["=1+1", 0, 0.25, 0, datetime(1900, 1, 1), None, False, "@SUM(A1)"],
    ]
    header, first, second = sheet.iter_rows()
    assert all(cell.font.b for cell in header)
    assert [cell.data_type for cell in first[:7]] == ["s", "n", "n", "n", "d", "d", "b"]
    assert second[0].data_type == "s"  # text, never a formula
    assert second[7].data_type == "s"
    assert first[1].number_format == "0"
    assert first[3].number_format == "#,##0.00"
    assert first[4].number_format == "yyyy-mm-dd"
    assert first[5].number_format == "yyyy-mm-dd hh:mm:ss"
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:H3"
    widths = [sheet.column_dimensions[letter].width for letter in "ABCDEFGH"]
    assert all(8 <= width <= 51 for width in widths)
    assert widths[3] > widths[0]  # "Revenue (EUR)" is wider than "Name"


def test_an_empty_xlsx_export_still_has_its_header() -> None:
    [sheet] = read_xlsx(export(SheetFormat.XLSX, COLUMNS))

    assert values(sheet) == [[column.title for column in COLUMNS]]


@pytest.mark.parametrize(
    "text",
    [
        "<r><t>plain</t></r>",
        '<r><t>x</t></r></is></c><c r="C2"><f>1+1</f><v>2</v></c><c r="D2" t="inlineStr">'
        "<is><r><t>y</t></r>",
        "<r></r>",
    ],
)
def test_xlsx_text_that_looks_like_rich_text_xml_stays_one_text_cell(text: str) -> None:
    """XlsxWriter's constant memory mode writes a string of the form <r>...</r> into the XML
    unescaped; here it must stay the text it is, in its own cell, with no formula anywhere."""
    columns = [Column(text, K.TEXT), Column("Next", K.TEXT)]
    data = export(SheetFormat.XLSX, columns, [[text, "after"]])
    [sheet] = read_xlsx(data)

    assert values(sheet) == [[text, "Next"], [text, "after"]]
    assert all(cell.data_type == "s" for row in sheet.iter_rows() for cell in row)
    assert b"<f>" not in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        # Excel shows 15 significant digits: beyond them a number is exact only as text.
        (K.INTEGER, 10**15 - 1, 10**15 - 1),
        (K.INTEGER, -(10**15) + 1, -(10**15) + 1),
        (K.INTEGER, 10**20, 10**20),
        (K.INTEGER, 2**53, "9007199254740992"),
        (K.INTEGER, 2**53 + 1, "9007199254740993"),
        (K.INTEGER, -(10**30) - 7, "-1000000000000000000000000000007"),
        (K.NUMBER, Decimal("123456789012345"), 123456789012345),
        (K.NUMBER, Decimal("1234567890.12345000000"), 1234567890.12345),
        (K.NUMBER, Decimal("12345678901234567.89"), "12345678901234567.89"),
        (K.NUMBER, Decimal("1E+400"), "1" + "0" * 400),
        (K.NUMBER, Decimal("-0E-500"), 0),
        (K.NUMBER, 1e308, "1" + "0" * 308),
        (K.NUMBER, 0.1, 0.1),
        (K.MONEY, Decimal("9999999999999.99"), 9999999999999.99),
        (K.MONEY, Decimal("12345678901234567.50"), "12345678901234567.50"),
    ],
)
def test_xlsx_numbers_a_double_cannot_show_exactly_are_written_as_text(
    kind: ColumnKind, value: Cell, expected: object
) -> None:
    read = one_cell(SheetFormat.XLSX, kind, value)

    assert read == expected
    assert isinstance(read, str) == isinstance(expected, str)


def test_xlsx_dates_before_1900_are_iso_text_and_later_ones_real_dates() -> None:
    assert one_cell(SheetFormat.XLSX, K.DATE, date(1899, 12, 31)) == "1899-12-31"
    assert one_cell(SheetFormat.XLSX, K.DATE, date(1, 1, 1)) == "0001-01-01"
    assert one_cell(SheetFormat.XLSX, K.DATE, date(1900, 2, 28)) == datetime(1900, 2, 28)
    assert one_cell(SheetFormat.XLSX, K.DATE, date(9999, 12, 31)) == datetime(9999, 12, 31)
    moment = datetime(1899, 12, 31, 23, 59, 59, 1)
    assert one_cell(SheetFormat.XLSX, K.DATETIME, moment) == "1899-12-31 23:59:59"


def test_xlsx_rows_beyond_a_sheet_continue_on_new_sheets_with_the_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(XlsxSheetWriter, "rows_per_sheet", 3)
    columns = [Column("N", K.INTEGER)]
    sheets = read_xlsx(export(SheetFormat.XLSX, columns, [[n] for n in range(5)]))

    assert [sheet.title for sheet in sheets] == ["Customers", "Customers (2)", "Customers (3)"]
    assert [values(sheet) for sheet in sheets] == [
        [["N"], [0], [1]],
        [["N"], [2], [3]],
        [["N"], [4]],
    ]
    assert [sheet.freeze_panes for sheet in sheets] == ["A2"] * 3
    assert [sheet.auto_filter.ref for sheet in sheets] == ["A1:A3", "A1:A3", "A1:A2"]


def test_continued_sheets_get_names_of_their_own_when_a_name_is_cut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(XlsxSheetWriter, "rows_per_sheet", 2)
    name = "x" * 27 + " (2)"  # 31 characters: cut to make room, it meets "... (2)" again
    sheets = read_xlsx(
        export(SheetFormat.XLSX, [Column("N", K.INTEGER)], [[1], [2]], sheet_name=name)
    )

    assert [sheet.title for sheet in sheets] == [name, "x" * 27 + " (3)"]


def test_a_sheet_holds_as_many_rows_as_xlsxwriter_and_excel_allow(tmp_path: Path) -> None:
    book = xlsxwriter.Workbook(str(tmp_path / "limit.xlsx"), {"constant_memory": True})
    sheet = book.add_worksheet()

    assert sheet.write_number(EXCEL_MAX_ROWS - 1, 0, 1) == 0
    assert sheet.write_number(EXCEL_MAX_ROWS, 0, 1) == -1
    book.close()
    assert XlsxSheetWriter.rows_per_sheet == EXCEL_MAX_ROWS


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Customers", "Customers"),
        ("Kunden [2024]: A/B? *\\", "Kunden _2024__ A_B_ __"),
        ("x" * 40, "x" * 31),
        ("\U0001f600" * 20, "\U0001f600" * 15),  # two UTF-16 units each
        ("'quoted'", "quoted"),
        ("'' 'odd' ''", "odd"),
        ("   ", "Sheet"),
        ("", "Sheet"),
        ("tab\tand\nline", "tab and line"),
        ("History", "History sheet"),
        ("history", "history sheet"),
    ],
)
def test_sheet_names_are_made_valid_for_excel(name: str, expected: str) -> None:
    assert sheet_name_for_excel(name) == expected
    [sheet] = read_xlsx(export(SheetFormat.XLSX, [Column("A")], sheet_name=name))
    assert sheet.title == expected


# ---------------------------------------------------------------------------------------
# Text in both formats


@pytest.mark.parametrize("sheet_format", list(SheetFormat))
def test_control_characters_and_lone_surrogates_become_replacement_characters(
    sheet_format: SheetFormat,
) -> None:
    text = "a\x00b\x01c\x1fd\ud800e\udfffg\ufffeh\uffffi\tj\nk\x7fl\U0001f600"
    expected = "a\ufffdb\ufffdc\ufffdd\ufffde\ufffdg\ufffdh\ufffdi\tj\nk\x7fl\U0001f600"
    columns = [Column("Ti\x00tle\ud83d"), Column("Other")]
    data = export(sheet_format, columns, [[text, "x"]])

    if sheet_format == SheetFormat.CSV:
        assert read_csv(data) == [["Ti\ufffdtle\ufffd", "Other"], [expected, "x"]]
    else:
        [sheet] = read_xlsx(data)
        assert values(sheet) == [["Ti\ufffdtle\ufffd", "Other"], [expected, "x"]]


def test_line_breaks_stay_as_they_are_in_csv_and_become_excels_own_in_xlsx() -> None:
    text = "one\r\ntwo\rthree\nfour"

    assert one_cell(SheetFormat.CSV, K.TEXT, text) == text
    assert one_cell(SheetFormat.XLSX, K.TEXT, text) == "one\ntwo\nthree\nfour"


@pytest.mark.parametrize("sheet_format", list(SheetFormat))
@pytest.mark.parametrize("unit", ["x", "\U0001f600", "\u00e9"])
def test_text_longer_than_a_cell_holds_is_cut_with_a_marker(
    sheet_format: SheetFormat, unit: str
) -> None:
    whole = unit * (EXCEL_MAX_CELL_CHARS + 1)
    read = one_cell(sheet_format, K.TEXT, whole)

    assert isinstance(read, str)
    assert read.endswith(TRUNCATION_MARKER)
    assert len(read.encode("utf-16-le")) // 2 in (EXCEL_MAX_CELL_CHARS - 1, EXCEL_MAX_CELL_CHARS)
    assert whole.startswith(read.removesuffix(TRUNCATION_MARKER))


@pytest.mark.parametrize("sheet_format", list(SheetFormat))
def test_text_that_just_fits_a_cell_is_kept_whole(sheet_format: SheetFormat) -> None:
    fits = "y" * (EXCEL_MAX_CELL_CHARS - 2) + "\U0001f600"
    assert one_cell(sheet_format, K.TEXT, fits) == fits


def test_a_cut_csv_cell_keeps_its_apostrophe_within_the_limit() -> None:
    read = one_cell(SheetFormat.CSV, K.TEXT, "=" * 50_000)

    assert isinstance(read, str)
    assert read.startswith("'=")
    assert len(read) == EXCEL_MAX_CELL_CHARS


# ---------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("sheet_format", list(SheetFormat))
def test_a_row_with_the_wrong_number_of_cells_names_the_row(sheet_format: SheetFormat) -> None:
    columns = [Column("A"), Column("B")]
    with sheet_writer(sheet_format, sheet_name="x", columns=columns) as writer:
        writer.write_rows([["a", "b"]])
        with pytest.raises(ValueError, match=r"^Row 3 has 3 cells, expected 2 cells$"):
            writer.write_rows([["c", "d"], ["e", "f", "g"]])


@pytest.mark.parametrize("sheet_format", list(SheetFormat))
def test_a_string_is_not_a_row(sheet_format: SheetFormat) -> None:
    with (
        sheet_writer(sheet_format, sheet_name="x", columns=[Column("A"), Column("B")]) as writer,
        pytest.raises(ValueError, match=r"^Row 1 has a string, expected 2 cells$"),
    ):
        writer.write_rows(["ab"])


@pytest.mark.parametrize("sheet_format", list(SheetFormat))
@pytest.mark.parametrize(
    ("kind", "value", "error", "message"),
    [
        (K.TEXT, 5, TypeError, "expected a str for a TEXT column, got int 5"),
        (K.INTEGER, True, TypeError, "expected an int for an INTEGER column, got bool True"),
        (K.INTEGER, 1.0, TypeError, "expected an int for an INTEGER column, got float 1.0"),
        (K.NUMBER, "1", TypeError, "expected an int, a float or a Decimal for a NUMBER column"),
        (K.NUMBER, math.nan, ValueError, "a spreadsheet cannot hold nan"),
        (K.NUMBER, -math.inf, ValueError, "a spreadsheet cannot hold -inf"),
        (K.NUMBER, Decimal("NaN"), ValueError, "a spreadsheet cannot hold Decimal('NaN')"),
        (K.MONEY, Decimal("Infinity"), ValueError, "cannot hold Decimal('Infinity')"),
        (K.MONEY, 1.5, TypeError, "expected a Decimal or an int for a MONEY column, got float"),
        (K.DATE, datetime(2024, 1, 1), TypeError, "expected a date for a DATE column"),
        (K.DATE, "2024-01-01", TypeError, "expected a date for a DATE column, got str"),
        (K.DATETIME, date(2024, 1, 1), TypeError, "expected a datetime for a DATETIME column"),
        (
            K.DATETIME,
            datetime(2024, 1, 1, tzinfo=UTC),
            ValueError,
            "expected a naive datetime in the reader's time zone, got 2024-01-01T00:00:00+00:00",
        ),
        (K.BOOLEAN, 1, TypeError, "expected a bool for a BOOLEAN column, got int 1"),
    ],
)
def test_a_value_of_the_wrong_kind_names_the_row_and_column(
    sheet_format: SheetFormat,
    kind: ColumnKind,
    value: Cell,
    error: type[Exception],
    message: str,
) -> None:
    columns = [Column("Name"), Column("Revenue (EUR)", kind)]
    with sheet_writer(sheet_format, sheet_name="x", columns=columns) as writer:
        writer.write_rows([["ok", None]])
        with pytest.raises(error) as raised:
            writer.write_rows([["fine", None], ["bad", value]])

    assert str(raised.value).startswith("Row 3, column 'Revenue (EUR)': ")
    assert message in str(raised.value)


def test_a_long_wrong_value_is_shortened_in_the_message() -> None:
    with (
        sheet_writer(SheetFormat.CSV, sheet_name="x", columns=[Column("N", K.INTEGER)]) as writer,
        pytest.raises(TypeError) as raised,
    ):
        writer.write_rows([["9" * 1000]])

    assert (
        str(raised.value)
        == "Row 1, column 'N': expected an int for an INTEGER column, got str '" + "9" * 36 + "..."
    )


@pytest.mark.parametrize("sheet_format", list(SheetFormat))
def test_a_failed_export_is_closed_and_leaves_nothing_behind(
    sheet_format: SheetFormat, tmp_path: Path
) -> None:
    writer = sheet_writer(
        sheet_format, sheet_name="x", columns=[Column("N", K.INTEGER)], temp_dir=tmp_path
    )
    writer.write_rows([[1]])
    with pytest.raises(TypeError):
        writer.write_rows([[2], ["three"]])

    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="closed"):
        writer.write_rows([[4]])
    with pytest.raises(RuntimeError, match="closed"):
        writer.finish()


@pytest.mark.parametrize(
    ("columns", "error", "message"),
    [
        ([], ValueError, "An export needs at least one column"),
        ([Column("A"), "B"], TypeError, "Column 2 must be a Column, got 'B'"),
        ([Column(5, K.TEXT)], TypeError, "Column 1's title must be a str, got 5"),  # type: ignore[arg-type]
        ([Column("A", "TEXTS")], TypeError, "Column 'A' has no ColumnKind: 'TEXTS'"),  # type: ignore[arg-type]
        (
            [Column("A")] * (EXCEL_MAX_COLUMNS + 1),
            ValueError,
            "An export has at most 16,384 columns (Excel's limit), got 16,385",
        ),
    ],
)
@pytest.mark.parametrize("sheet_format", list(SheetFormat))
def test_bad_columns_are_refused(
    sheet_format: SheetFormat, columns: list[Column], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        sheet_writer(sheet_format, sheet_name="x", columns=columns)

    assert str(raised.value) == message


# ---------------------------------------------------------------------------------------
# Temporary files and the writer's life


def test_xlsx_keeps_its_temporary_files_in_one_folder_and_finish_removes_it(
    tmp_path: Path,
) -> None:
    writer = sheet_writer(SheetFormat.XLSX, sheet_name="x", columns=COLUMNS, temp_dir=tmp_path)
    assert writer.write_rows([ROW] * 10) == b""
    [folder] = tmp_path.iterdir()
    assert list(folder.iterdir())  # the sheet's rows

    chunks = writer.finish()
    first = next(chunks)
    assert first.startswith(b"PK")
    assert list(tmp_path.iterdir()) == [folder]  # still reading the workbook
    rest = list(chunks)

    assert list(tmp_path.iterdir()) == []
    assert len(read_xlsx(b"".join([first, *rest]))[0]["A"]) == 11
    writer.close()  # after finish: nothing to do


def test_closing_a_partly_written_xlsx_export_removes_its_files(tmp_path: Path) -> None:
    writer = sheet_writer(SheetFormat.XLSX, sheet_name="x", columns=COLUMNS, temp_dir=tmp_path)
    writer.write_rows([ROW] * 10)
    writer.close()
    writer.close()

    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="closed"):
        writer.finish()


def test_stopping_to_read_a_finished_xlsx_export_removes_its_files(tmp_path: Path) -> None:
    writer = sheet_writer(SheetFormat.XLSX, sheet_name="x", columns=COLUMNS, temp_dir=tmp_path)
    writer.write_rows(rows(20_000))
    chunks = writer.finish()
    next(chunks)
    chunks.close()  # the client went away

    assert list(tmp_path.iterdir()) == []


def test_leaving_the_context_removes_the_files(tmp_path: Path) -> None:
    def fail_midway() -> None:
        with sheet_writer(
            SheetFormat.XLSX, sheet_name="x", columns=COLUMNS, temp_dir=tmp_path
        ) as writer:
            writer.write_rows([ROW])
            raise KeyError("the database went away")

    with pytest.raises(KeyError):
        fail_midway()

    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sheet_format", list(SheetFormat))
def test_rows_that_fail_to_arrive_close_the_export(
    sheet_format: SheetFormat, tmp_path: Path
) -> None:
    def from_the_database() -> Iterator[list[Cell]]:
        yield ROW
        raise ConnectionError("the database went away")

    writer = sheet_writer(sheet_format, sheet_name="x", columns=COLUMNS, temp_dir=tmp_path)
    with pytest.raises(ConnectionError):
        writer.write_rows(from_the_database())

    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="closed"):
        writer.finish()


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown sheet format 'ODS'"):
        sheet_writer("ODS", sheet_name="x", columns=COLUMNS)  # type: ignore[arg-type]


def test_the_writers_say_what_they_write() -> None:
    csv_writer = sheet_writer(SheetFormat.CSV, sheet_name="x", columns=COLUMNS)
    xlsx_writer = sheet_writer(SheetFormat.XLSX, sheet_name="x", columns=COLUMNS)
    xlsx_writer.close()

    assert (csv_writer.media_type, csv_writer.extension) == ("text/csv; charset=utf-8", "csv")
    assert xlsx_writer.media_type == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert xlsx_writer.extension == "xlsx"


@pytest.mark.parametrize("sheet_format", list(SheetFormat))
def test_batches_may_come_from_different_threads(sheet_format: SheetFormat) -> None:
    columns = [Column("N", K.INTEGER)]
    with (
        ThreadPoolExecutor(max_workers=3) as pool,
        sheet_writer(sheet_format, sheet_name="x", columns=columns) as writer,
    ):
        parts = [pool.submit(writer.write_rows, [[n]]).result() for n in range(6)]
        parts.extend(pool.submit(list, writer.finish()).result())
    data = b"".join(parts)

    if sheet_format == SheetFormat.CSV:
        assert read_csv(data) == [["N"], *[[str(n)] for n in range(6)]]
    else:
        assert values(read_xlsx(data)[0]) == [["N"], *[[n] for n in range(6)]]


# ---------------------------------------------------------------------------------------
# Constant memory


def rows(count: int) -> Iterator[list[Cell]]:
    """Mixed rows made one at a time, as a database cursor hands them out."""
    start = datetime(2024, 1, 1, 8, 30)
    for n in range(count):
        yield [
            f"Company {n} GmbH",
            n * 3,
            n / 7,
            Decimal(n * 1234) / 100,
            date(2000, 1, 1) + timedelta(days=n % 9000),
            start + timedelta(minutes=n),
            n % 2 == 0,
            None if n % 5 else f"=Note about company {n}, with a comma",
        ]


def batches(count: int, size: int = 1000) -> Iterator[list[list[Cell]]]:
    source = rows(count)
    while batch := [row for _, row in zip(range(size), source, strict=False)]:
        yield batch


@pytest.mark.parametrize("sheet_format", list(SheetFormat))
def test_a_large_export_is_written_in_constant_memory(
    sheet_format: SheetFormat, tmp_path: Path
) -> None:
    count = 100_000
    largest = 0
    target = tmp_path / f"export.{sheet_format.lower()}"
    tracemalloc.start()
    try:
        with (
            target.open("wb") as file,
            sheet_writer(sheet_format, sheet_name="Big", columns=COLUMNS) as writer,
        ):
            for batch in batches(count):
                data = writer.write_rows(batch)
                largest = max(largest, len(data))
                file.write(data)
            for chunk in writer.finish():
                assert len(chunk) <= CHUNK_BYTES
                file.write(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    # Holding the rows would take far more: one row of these objects is about 1 KiB.
    assert peak < 8 * 2**20
    assert largest < 2**20  # a batch's CSV, for a thousand rows
    if sheet_format == SheetFormat.CSV:
        with target.open(newline="", encoding="utf-8-sig") as file:
            read = csv.reader(file)
            assert next(read) == [column.title for column in COLUMNS]
            assert next(read)[7] == "'=Note about company 0, with a comma"
            assert sum(1 for _ in read) == count - 1
    else:
        book = openpyxl.load_workbook(target, read_only=True)
        sheet = book.worksheets[0]
        assert sheet.max_row == count + 1
        assert [cell.value for cell in next(sheet.iter_rows(min_row=2, max_row=2))][:3] == [
            "Company 0 GmbH",
            0,
            0,
        ]
        book.close()
