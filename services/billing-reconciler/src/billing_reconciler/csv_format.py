"""CSV in and out: uploads from ERP systems (invoices, consumption records) and the
streamed exports (credits, statement lines, discrepancies, the leakage ledger).

Uploads: one header row names the columns (any order, case-insensitive); comma or semicolon
separated; UTF-8 (a byte-order mark is fine). Cells are trimmed. Decimals are written with a
dot and no thousands separator or exponent (as in JSON: -?digits[.digits]), integers with
digits only, booleans as true or false (any case; empty is false), dates as YYYY-MM-DD.
Errors name the file's line number (the header is line 1) and the column:
`body.line[4].quantity`.

Exports: one header row naming the JSON fields of the resource, in the JSON's order, then
one row per item, each cell the item's JSON value written as text: strings as they are
(decimals are exact strings already), integers in digits, booleans true/false, null as an
empty cell, and an object or list as its compact JSON. Comma-separated, UTF-8, CRLF line
ends; a cell holding a comma, a quote or a line break is quoted (RFC 4180).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ValidationError

from billing_reconciler.invoices.schemas import InvoiceIn
from billing_reconciler.invoices.service import Locator
from crm_events.schemas.consumption import ConsumptionItem
from crm_platform.errors import Unprocessable
from crm_platform.params import parse_bool, parse_int

INVOICE_REQUIRED = (
    "invoice_number",
    "contract_id",
    "period_label",
    "total",
    "item_code",
    "kind",
    "amount",
)
INVOICE_OPTIONAL = (
    "currency",
    "issued_on",
    "correction",
    "line_number",
    "description",
    "quantity",
    "unit_price",
    "line_period",
)
INVOICE_LEVEL = ("contract_id", "period_label", "currency", "issued_on", "total", "correction")
LINE_FIELDS = {  # model field → CSV column
    "line_number": "line_number",
    "item_code": "item_code",
    "kind": "kind",
    "description": "description",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "amount": "amount",
    "period_label": "line_period",
}
CONSUMPTION_REQUIRED = ("record_id", "contract_id", "resource_unit", "period_label", "quantity")
CONSUMPTION_OPTIONAL = ("correction",)
MAX_ROWS = 50_000


def _malformed(line: int, exc: csv.Error) -> Unprocessable:
    return Unprocessable(
        f"the file is not well-formed CSV at line {line}: {exc}",
        details=[{"loc": f"body.line[{line}]", "message": str(exc)}],
    )


def _cells(reader: Any) -> Iterable[list[str]]:
    """The reader's rows, with a malformed row reported as a 422 naming its line."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _malformed(reader.line_num, exc) from None


def _rows(
    raw: bytes, required: Iterable[str], optional: Iterable[str]
) -> list[tuple[int, dict[str, str]]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unprocessable(
            "the file is not UTF-8 text",
            details=[{"loc": "body", "message": f"byte {exc.start} is not UTF-8"}],
        ) from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise Unprocessable(
            "the file is empty", details=[{"loc": "body", "message": "no header row"}]
        ) from None
    except csv.Error as exc:
        raise _malformed(reader.line_num, exc) from None
    required, optional = list(required), list(optional)
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c not in required and c not in optional]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    problems = (
        [{"loc": "body.line[1]", "message": f"missing column {c}"} for c in missing]
        + [
            {
                "loc": "body.line[1]",
                "message": f"unknown column {c!r} (expected {', '.join(required + optional)})",
            }
            for c in unknown
        ]
        + [{"loc": "body.line[1]", "message": f"column {c} appears twice"} for c in duplicated]
    )
    if problems:
        raise Unprocessable("the header row is not usable", details=problems)
    rows: list[tuple[int, dict[str, str]]] = []
    problems = []
    for cells in _cells(reader):
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(
                {
                    "loc": f"body.line[{line}]",
                    "message": f"{len(cells)} cells, the header has {len(header)}",
                }
            )
            continue
        rows.append((line, {h: c.strip() for h, c in zip(header, cells, strict=True)}))
        if len(rows) > MAX_ROWS:
            raise Unprocessable(
                f"more than {MAX_ROWS} rows",
                details=[{"loc": f"body.line[{line}]", "message": "too many rows"}],
            )
    if problems:
        raise Unprocessable(f"{len(problems)} row(s) are malformed", details=problems[:100])
    if not rows:
        raise Unprocessable(
            "the file has no data rows", details=[{"loc": "body", "message": "empty"}]
        )
    return rows


def _bool(value: str, loc: str, problems: list[dict[str, str]]) -> bool:
    try:
        return parse_bool(value) if value else False
    except ValueError as exc:
        problems.append({"loc": loc, "message": str(exc)})
        return False


def _line(row: dict[str, str], loc: str, problems: list[dict[str, str]]) -> dict[str, Any]:
    line: dict[str, Any] = {
        name: row[column] for name, column in LINE_FIELDS.items() if row.get(column, "")
    }
    if "line_number" in line:
        try:
            line["line_number"] = parse_int(line["line_number"])
        except ValueError as exc:
            problems.append({"loc": f"{loc}.line_number", "message": str(exc)})
            del line["line_number"]
    return line


def parse_invoices(raw: bytes) -> list[tuple[InvoiceIn, Locator]]:
    """One or more invoices; rows of one invoice share its invoice_number (and repeat the
    invoice-level columns, which must agree)."""
    rows = _rows(raw, INVOICE_REQUIRED, INVOICE_OPTIONAL)
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, row in rows:
        groups.setdefault(row["invoice_number"], []).append((line, row))
    problems: list[dict[str, str]] = []
    out: list[tuple[InvoiceIn, Locator]] = []
    for number, group in groups.items():
        first_line, head = group[0]
        if not number:
            problems.append(
                {"loc": f"body.line[{first_line}].invoice_number", "message": "required"}
            )
            continue
        for line, row in group[1:]:
            for column in INVOICE_LEVEL:
                if row.get(column, "") not in ("", head.get(column, "")):
                    problems.append(
                        {
                            "loc": f"body.line[{line}].{column}",
                            "message": f"differs from line {first_line} of invoice {number}",
                        }
                    )
        doc: dict[str, Any] = {"invoice_number": number}
        for column in INVOICE_LEVEL:
            value = head.get(column, "")
            if column == "correction":
                doc[column] = _bool(value, f"body.line[{first_line}].correction", problems)
            elif value:
                doc[column] = value
        line_locs = [f"body.line[{line}]" for line, _ in group]
        doc["lines"] = [
            _line(row, loc, problems) for (_, row), loc in zip(group, line_locs, strict=True)
        ]
        try:
            invoice = InvoiceIn.model_validate(doc)
        except ValidationError as exc:
            for err in exc.errors():
                loc = err["loc"]
                if loc and loc[0] == "lines" and len(loc) >= 2 and isinstance(loc[1], int):
                    column = LINE_FIELDS.get(str(loc[2]), str(loc[2])) if len(loc) > 2 else ""
                    where = f"{line_locs[loc[1]]}.{column}" if column else line_locs[loc[1]]
                else:
                    where = f"body.line[{first_line}].{loc[0] if loc else ''}"
                message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
                problems.append({"loc": where, "message": message})
            continue
        out.append((invoice, Locator(line_locs=line_locs, field_loc=f"body.line[{first_line}]")))
    if problems:
        first = problems[0]
        raise Unprocessable(
            f"the file is invalid: {first['loc']}: {first['message']}", details=problems[:100]
        )
    return out


def parse_consumption(raw: bytes) -> tuple[list[ConsumptionItem], list[int]]:
    """Consumption records, one per row; returns the items and their file line numbers."""
    rows = _rows(raw, CONSUMPTION_REQUIRED, CONSUMPTION_OPTIONAL)
    problems: list[dict[str, str]] = []
    items: list[ConsumptionItem] = []
    lines: list[int] = []
    for line, row in rows:
        data: dict[str, Any] = {c: row[c] for c in CONSUMPTION_REQUIRED}
        data["correction"] = _bool(
            row.get("correction", ""), f"body.line[{line}].correction", problems
        )
        try:
            items.append(ConsumptionItem.model_validate(data))
            lines.append(line)
        except ValidationError as exc:
            for err in exc.errors():
                column = str(err["loc"][0]) if err["loc"] else ""
                message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
                problems.append({"loc": f"body.line[{line}].{column}", "message": message})
    if problems:
        first = problems[0]
        raise Unprocessable(
            f"the file is invalid: {first['loc']}: {first['message']}", details=problems[:100]
        )
    if len(items) > 10_000:
        raise Unprocessable(
            "more than 10,000 consumption records in one file",
            details=[{"loc": "body", "message": "split the file"}],
        )
    return items, lines


# Exports ------------------------------------------------------------------------------------

CSV_MEDIA_TYPE = "text/csv; charset=utf-8; header=present"
# Rows are written to the response in chunks of about this size.
CHUNK_BYTES = 64 * 1024


class CsvResponse(StreamingResponse):
    """A streamed CSV file (and `text/csv` in the OpenAPI document)."""

    media_type = "text/csv"


def cell(value: Any) -> str:
    """A JSON value (as `model_dump(mode="json")` gives it) as the text of a CSV cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


@dataclass(frozen=True)
class CsvTable:
    """How a resource's JSON becomes CSV rows: the columns are its fields, in order. With
    `expand`, one row per item of that list field, the item's fields in its place (the
    other fields repeated on each row); `drop` leaves out fields that are not the row's."""

    model: type[BaseModel]
    expand: tuple[str, type[BaseModel]] | None = None
    drop: tuple[str, ...] = ()
    columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        columns: list[str] = []
        for name in self.model.model_fields:
            if self.expand is not None and name == self.expand[0]:
                columns += self.expand[1].model_fields
            elif name not in self.drop:
                columns.append(name)
        assert len(set(columns)) == len(columns), f"a column name repeats: {columns}"
        object.__setattr__(self, "columns", tuple(columns))

    def rows(self, item: BaseModel) -> list[list[str]]:
        doc = item.model_dump(mode="json")
        if self.expand is None:
            return [[cell(doc[c]) for c in self.columns]]
        return [
            [cell(merged[c]) for c in self.columns]
            for merged in ({**doc, **line} for line in doc[self.expand[0]])
        ]

    def render(self, items: Iterable[BaseModel]) -> str:
        """The whole file in memory: for examples, not for responses."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(self.columns)
        for item in items:
            writer.writerows(self.rows(item))
        return out.getvalue()


async def csv_chunks(table: CsvTable, items: AsyncIterable[BaseModel]) -> AsyncIterator[bytes]:
    """The header row, then the items' rows as they come, in chunks of about CHUNK_BYTES:
    never more than one chunk (and what the source holds) in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.columns)
    async for item in items:
        writer.writerows(table.rows(item))
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def csv_response(table: CsvTable, items: AsyncIterable[BaseModel], filename: str) -> CsvResponse:
    return CsvResponse(
        csv_chunks(table, items),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
