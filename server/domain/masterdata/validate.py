"""Reading and checking the import files: every problem found, each named by file, line and
column (``products.csv:5:standard_cost: ...``), never just the first.

Pure: text in, typed rows and :class:`Issue` s out. What the database already holds comes in as
:class:`Known` (plain keys and BOM lines), so that a file may name a product stored by an
earlier import. Three layers, each run on everything before the importer writes anything:

1. the header: exactly the file's columns (any order); a missing, unknown or repeated column is
   named; a file whose header is wrong is not read further (its rows would only echo the fault);
2. each row: the cell count, required cells, each cell's type and range, the key not repeated
   within the file, and the rules within one row or one file (a lot rule needs a lot size, the
   lines of one order agree on its customer...);
3. across files and the database: every reference names a row that exists in a file or is stored,
   only made products have a BOM, the BOM has no cycle, no two products share a barcode.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Any

from server.domain.masterdata.specs import SPECS, CellError, FileSpec
from server.domain.planning.lowlevel import find_cycle
from server.domain.planning.model import BomLine

__all__ = [
    "Issue",
    "Known",
    "ParsedFile",
    "Row",
    "check_across",
    "decode",
    "read_csv",
    "read_records",
]

_ONE = Decimal(1)
MAX_CYCLES = 50  # cycles named per import; each one found is cut before looking for the next
_NOUN = {"products.csv": "product", "warehouses.csv": "warehouse", "customers.csv": "customer",
         "suppliers.csv": "supplier"}


@dataclass(frozen=True, order=True)
class Issue:
    """One problem, at a file's line (1 is the header) and column."""

    file: str
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


@dataclass
class Row:
    line: int  # where the row starts in its file (for API rows: its index in the list)
    values: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


@dataclass
class ParsedFile:
    spec: FileSpec
    rows: list[Row] = field(default_factory=list)
    broken: bool = False  # the header was wrong: rows were not read, references into it not checked
    # keys of rows left out for a problem: other files may still name them without an echo of it
    bad_keys: set[str] = field(default_factory=set)
    # rows left out for a problem, with the cells that were right: their references are checked too
    partial: list[Row] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name

    def keys(self) -> set[Any]:
        """The file's key values (single-column keys: the value itself), with ``bad_keys``."""
        k = self.spec.key
        return {r[k[0]] if len(k) == 1 else tuple(r[c] for c in k) for r in self.rows} | self.bad_keys


@dataclass(frozen=True)
class Known:
    """What the database holds already, for references from the files."""

    keys: Mapping[str, frozenset[str]] = field(default_factory=dict)  # file name -> stored live keys
    kinds: Mapping[str, str] = field(default_factory=dict)  # stored sku -> product kind
    bom: Mapping[str, tuple[BomLine, ...]] = field(default_factory=dict)  # stored lines by parent sku
    barcodes: Mapping[str, str] = field(default_factory=dict)  # stored barcode -> sku


# ---- reading one file -------------------------------------------------------------------------


def decode(name: str, data: bytes) -> tuple[str | None, Issue | None]:
    """The file's text (UTF-8, a byte-order mark allowed), or where it is not UTF-8."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, Issue(name, line, SPECS[name].cols[0].name if name in SPECS else "-",
                           f"not UTF-8 text ({exc.reason} at byte {exc.start}); save the file as CSV UTF-8")


def _header_issues(spec: FileSpec, header: Sequence[str]) -> list[Issue]:
    expected = spec.columns
    issues: list[Issue] = []
    seen: set[str] = set()
    for name in header:
        if name in seen:
            issues.append(Issue(spec.name, 1, name, "column named twice"))
        seen.add(name)
        if name not in expected:
            close = difflib.get_close_matches(name, [c for c in expected if c not in header], n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            issues.append(Issue(spec.name, 1, name or "(empty)",
                                f"unknown column{hint} (the columns are {', '.join(expected)})"))
    for name in expected:
        if name not in seen:
            issues.append(Issue(spec.name, 1, name, "missing column"))
    return issues


def _parse_row(spec: FileSpec, line: int, cells: Mapping[str, str], issues: list[Issue]) -> tuple[Row, bool]:
    """The row's typed values, and whether every cell was right (a wrong cell is left out)."""
    values: dict[str, Any] = {}
    ok = True
    for col in spec.cols:
        raw = cells.get(col.name, "").strip()
        if raw == "":
            if col.required:
                issues.append(Issue(spec.name, line, col.name, "a value is required"))
                ok = False
            else:
                values[col.name] = col.default
            continue
        try:
            values[col.name] = col.parse(raw)
        except CellError as exc:
            issues.append(Issue(spec.name, line, col.name, str(exc)))
            ok = False
    return Row(line, values), ok


def _keep_key(parsed: ParsedFile, cells: Mapping[str, str]) -> None:
    if len(parsed.spec.key) == 1 and (key := cells.get(parsed.spec.key[0], "").strip()):
        parsed.bad_keys.add(key)


def _rows(parsed: ParsedFile, records: Iterable[tuple[int, Mapping[str, str]]], issues: list[Issue]) -> list[Row]:
    spec = parsed.spec
    rows: list[Row] = []
    seen: dict[tuple[Any, ...], int] = {}
    for line, cells in records:
        row, ok = _parse_row(spec, line, cells, issues)
        if not ok:
            _keep_key(parsed, cells)
            parsed.partial.append(row)
            continue
        key = tuple(row[c] for c in spec.key)
        if key in seen:
            shown = ", ".join(f"{c}={row.values[c]}" for c in spec.key)
            issues.append(Issue(spec.name, line, spec.key[0], f"{shown} is already on line {seen[key]}"))
            continue
        seen[key] = line
        rows.append(row)
    return rows


def read_csv(spec: FileSpec, text: str) -> tuple[ParsedFile, list[Issue]]:
    """Parse and check one file's text (rows and the rules within the file)."""
    issues: list[Issue] = []
    parsed = ParsedFile(spec)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    first = spec.cols[0].name

    def records(header: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
        start = reader.line_num + 1
        for raw in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in raw):
                continue  # a blank line
            if len(raw) != len(header):
                where = header[-1] if len(raw) > len(header) else header[len(raw)]
                hint = " (quote cells that contain commas)" if len(raw) > len(header) else ""
                issues.append(Issue(spec.name, line, where,
                                    f"{len(raw)} cells, but the header has {len(header)}{hint}"))
                _keep_key(parsed, dict(zip(header, raw, strict=False)))
                continue
            yield line, dict(zip(header, raw, strict=True))

    try:
        header_row = next(reader, None)
        if header_row is None:
            issues.append(Issue(spec.name, 1, first, f"the file is empty; it needs the header {','.join(spec.columns)}"))
            parsed.broken = True
            return parsed, issues
        header = [h.strip() for h in header_row]
        bad_header = _header_issues(spec, header)
        if bad_header:
            issues.extend(bad_header)
            parsed.broken = True
            return parsed, issues
        parsed.rows = _rows(parsed, records(header), issues)
    except csv.Error as exc:
        issues.append(Issue(spec.name, reader.line_num, first, f"not valid CSV: {exc}"))
        parsed.broken = True
    issues.extend(_within_file(parsed))
    return parsed, issues


def read_records(spec: FileSpec, records: Sequence[Mapping[str, str | None]]) -> tuple[ParsedFile, list[Issue]]:
    """Parse and check rows given as objects with the file's columns (the back-office API); an
    issue's line is the row's index in the list. A missing key is an empty cell."""
    issues: list[Issue] = []
    cleaned: list[tuple[int, dict[str, str]]] = []
    for i, rec in enumerate(records):
        unknown = [k for k in rec if k not in spec.columns]
        for k in unknown:
            issues.append(Issue(spec.name, i, k, f"unknown column (the columns are {', '.join(spec.columns)})"))
        if not unknown:
            cleaned.append((i, {k: ("" if v is None else v) for k, v in rec.items()}))
    parsed = ParsedFile(spec)
    parsed.rows = _rows(parsed, cleaned, issues)
    issues.sort(key=lambda i: i.line)  # stable: a row's problems stay in column order
    issues.extend(_within_file(parsed))
    return parsed, issues


# ---- rules within one file ---------------------------------------------------------------------


def _within_file(parsed: ParsedFile) -> list[Issue]:
    name, rows = parsed.name, parsed.rows
    issues: list[Issue] = []
    if name == "products.csv":
        for r in rows:
            if r["lot_rule"] in ("min", "multiple") and not r["lot_qty"]:
                issues.append(Issue(name, r.line, "lot_qty", f"lot_rule {r['lot_rule']} needs a lot_qty above 0"))
    elif name == "price_agreements.csv":
        for r in rows:
            if r["valid_to"] is not None and r["valid_to"] < r["valid_from"]:
                issues.append(Issue(name, r.line, "valid_to", f"{r['valid_to']} is before valid_from {r['valid_from']}"))
    elif name == "sales_orders.csv":
        issues += _same_per_number(parsed, ("customer", "due_date", "warehouse"))
    elif name == "purchase_orders.csv":
        issues += _same_per_number(parsed, ("supplier",))
    return issues


def _same_per_number(parsed: ParsedFile, columns: tuple[str, ...]) -> list[Issue]:
    """The lines of one order number share its header columns."""
    first: dict[str, Row] = {}
    issues: list[Issue] = []
    for r in parsed.rows:
        head = first.setdefault(r["number"], r)
        for col in columns:
            if r[col] != head[col]:
                issues.append(Issue(parsed.name, r.line, col, f"order {r['number']} has {col} {head[col]} "
                                                              f"on line {head.line}, but {r[col]} here"))
    return issues


# ---- rules across files and the database --------------------------------------------------------


def check_across(files: Mapping[str, ParsedFile], known: Known) -> list[Issue]:
    """References, BOM parents, BOM cycles and barcodes over the files and what is stored."""
    issues = _references(files, known)
    if "bom.csv" in files:
        issues += _bom(files, known)
    if "products.csv" in files:
        issues += _barcodes(files["products.csv"], known)
    return issues


def _references(files: Mapping[str, ParsedFile], known: Known) -> list[Issue]:
    issues: list[Issue] = []
    for parsed in files.values():
        for col in parsed.spec.cols:
            if col.ref is None:
                continue
            target = files.get(col.ref)
            if target is not None and target.broken:
                continue  # its header is wrong: already reported, every reference would echo it
            valid = set(known.keys.get(col.ref, ())) | (target.keys() if target is not None else set())
            for r in sorted([*parsed.rows, *parsed.partial], key=lambda row: row.line):
                value = r.values.get(col.name)
                if value is not None and value not in valid:
                    issues.append(Issue(parsed.name, r.line, col.name,
                                        f"no {_NOUN[col.ref]} {value!r} in {col.ref} or in the database"))
    return issues


def _bom(files: Mapping[str, ParsedFile], known: Known) -> list[Issue]:
    bom = files["bom.csv"]
    issues: list[Issue] = []
    kinds = dict(known.kinds)
    if "products.csv" in files:
        kinds.update({p["sku"]: p["kind"] for p in files["products.csv"].rows})
    for r in bom.rows:
        if kinds.get(r["parent_sku"]) == "buy":
            issues.append(Issue(bom.name, r.line, "parent_sku", f"{r['parent_sku']} is a buy product; "
                                                                "only make and subcontract products have a BOM"))
    # a re-import adds and updates lines; stored lines it does not name stay, so cycles are
    # looked for in the union
    edges: dict[tuple[str, str], Row | None] = {}
    for lines in known.bom.values():
        for ln in lines:
            edges[(ln.parent, ln.component)] = None
    for r in bom.rows:
        edges[(r["parent_sku"], r["component_sku"])] = r
    for _ in range(MAX_CYCLES):
        graph: dict[str, list[BomLine]] = defaultdict(list)
        for parent, component in edges:
            graph[parent].append(BomLine(parent, component, qty_per=_ONE))
        cycle = find_cycle(graph)
        if cycle is None:
            break
        in_file = [row for e in pairwise(cycle) if (row := edges[e]) is not None]
        if not in_file:
            break  # a cycle among stored lines only: not this import's doing
        at = min(in_file, key=lambda row: row.line)
        issues.append(Issue(bom.name, at.line, "component_sku", "BOM cycle: " + " -> ".join(cycle)))
        del edges[(at["parent_sku"], at["component_sku"])]
    return issues


def _barcodes(products: ParsedFile, known: Known) -> list[Issue]:
    in_file = {p["sku"] for p in products.rows}
    owner = {code: sku for code, sku in known.barcodes.items() if sku not in in_file}
    issues: list[Issue] = []
    first_line: dict[str, int] = {}
    for p in products.rows:
        code = p["barcode"]
        if code is None:
            continue
        if code in first_line:
            issues.append(Issue(products.name, p.line, "barcode", f"{code} is already on line {first_line[code]}"))
        elif code in owner:
            issues.append(Issue(products.name, p.line, "barcode", f"{code} is the barcode of product {owner[code]}"))
        first_line.setdefault(code, p.line)
    return issues

