"""Questionnaire entry, batch import, amendments and reliability.

Orchestration only: values are parsed, validated and scored by :mod:`studymgr.compute.instruments`
(pure) against the study's instruments (:mod:`studymgr.runs.questionnaires`), then written
through the study store (:mod:`studymgr.store.responses`) in one transaction, with one audit row
per response. The CLI (``studymgr scores ...``) mirrors these
functions::

    from studymgr import open_study

    from studymgr.runs import entry

    study = open_study("study.db")
    entry.enter_response(study, "D01", 2, "gad7", role="patient", timing="pre",
                         items=[3, 2, 1, 0, 3, 2, 1])
    entry.import_responses(study, "responses.csv")
    entry.amend_response(study, "D01", 2, "gad7", role="patient", timing="pre",
                         items="3,2,2,0,3,2,1", reason="item 3 misread from paper form")
    study.scores(construct="symptoms")
    entry.reliability(study, "gad7", by_session=True)

Item values
    A sequence (one value per item, in definition order), a mapping ``{item_id: value}`` naming
    every item, or text ``"3,2,1"`` / ``"1=3,2=2,3=1"``. Missing answers are given explicitly: an
    empty value or ``NA`` (not answered), ``REF`` (refused), ``NR`` (not readable).

CSV files for :func:`import_responses`
    UTF-8 text (a BOM is fine), separated by commas (or semicolons or tabs), first line the
    column names. One row per response. Columns ``dyad``, ``session``, ``role``
    (patient/therapist; ``respondent``, its old name, is read until studymgr 0.3) and
    ``instrument`` (``name`` or ``name@version``) are required;
    ``timing`` (pre/post) may be left out or empty for instruments given at one timing only.
    Every other column is an item column, named by the item id (``1``, ``2``, ...) or the id with
    the prefix ``i``, ``item`` or ``item_`` (``i1``, ``item1``, ``item_1``; case-insensitive).
    A column that is no item of any instrument in the file must be empty.
    Files mixing instruments use the union of their item columns: a row leaves the columns of
    items its instrument does not have empty; an empty cell of one of its own items means ``NA``.
    Excel workbooks are not read (that would need openpyxl): save the sheet as CSV UTF-8.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pandas as pd

from studymgr._aliases import REMOVED_IN
from studymgr._docs import fill_doc
from studymgr.compute.instruments import Instrument, ItemValues, Score, cronbach_alpha
from studymgr.errors import ConflictError, InputError, NotFoundError, StudyError
from studymgr.ids import ROLES, TIMINGS, check_choice, check_code, check_session_number
from studymgr.runs.questionnaires import ScoredResponse, StoredInstrument
from studymgr.store.responses import SCORE_COLUMNS

if TYPE_CHECKING:
    from studymgr.runs.study import Study

logger = logging.getLogger(__name__)

__all__ = [
    "EntryTarget",
    "ImportResult",
    "ImportRowsError",
    "RowProblem",
    "amend_response",
    "check_item_value",
    "enter_response",
    "import_responses",
    "parse_items_text",
    "prepare_entry",
    "read_table",
    "reliability",
]

T = TypeVar("T")
Progress = Callable[[Iterable[T], int], Iterable[T]]

REQUIRED_COLUMNS = ("dyad", "session", "role", "instrument")
KEY_COLUMNS = (*REQUIRED_COLUMNS, "timing")
#: Old column names still read (until studymgr 0.3) -> their name now.
COLUMN_ALIASES = {"respondent": "role"}
ITEM_PREFIXES = ("", "i", "item", "item_")
#: At most this many problems are listed in an import error (the count is always given).
MAX_LISTED_PROBLEMS = 100
_EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}


# --------------------------------------------------------------------------------------------
# Single entry and amendment
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryTarget:
    """Where one response goes: checked before any item value is asked for.

    Attributes
    ----------
    dyad, session : str, int
        Dyad code and session number.
    session_id : int
        Database id of the (existing, unlocked) session.
    instrument : StoredInstrument
        The instrument (stored in the study, or built-in and stored on first use).
    role, timing : str
        ``patient``/``therapist`` and ``pre``/``post`` (resolved default).
    existing : dict | None
        The stored response with the same key (``id, status, entered_by, entered_at``), if any.
    """

    dyad: str
    session: int
    session_id: int
    instrument: StoredInstrument
    role: str
    timing: str
    existing: dict[str, Any] | None

    @property
    def respondent(self) -> str:
        """Deprecated name of :attr:`role` (until studymgr 0.3)."""
        warnings.warn(f"EntryTarget.respondent is now EntryTarget.role; the old name works "
                      f"until studymgr {REMOVED_IN}", DeprecationWarning, stacklevel=2)
        return self.role


def _role_argument(role: str | None, respondent: str | None, function: str) -> str:
    """The ``role`` keyword, accepting its old name ``respondent`` (with a DeprecationWarning)."""
    if respondent is not None:
        warnings.warn(f"{function}(respondent=...) is now {function}(role=...); the old name "
                      f"works until studymgr {REMOVED_IN}", DeprecationWarning, stacklevel=3)
        if role is not None and role != respondent:
            raise InputError(f"role={role!r} and respondent={respondent!r} disagree: give "
                             "role only")
        role = respondent
    if role is None:
        raise TypeError(f"{function}() missing required keyword argument: 'role'")
    return role


def _check_role(inst: Instrument, role: object) -> str:
    text = str(role).strip().lower() if role is not None else ""
    check_choice(text, ROLES, "role")
    if text not in inst.roles:
        raise InputError(f"{inst.name} is filled in by the {' or '.join(inst.roles)} only, "
                         f"not by the {text}")
    return text


def _check_timing(inst: Instrument, timing: object) -> str:
    text = "" if timing is None else str(timing).strip().lower()
    if not text:
        if len(inst.timings) == 1:
            return inst.timings[0]
        raise InputError(f"{inst.name} is given {' or '.join(inst.timings)} a session: say which "
                         f"(timing {' or '.join(inst.timings)})")
    check_choice(text, TIMINGS, "timing")
    if text not in inst.timings:
        raise InputError(f"{inst.name} is given {' or '.join(inst.timings)} a session only, "
                         f"not {text}")
    return text


def _amend_hint(dyad: str, session: int, spec: str, role: str, timing: str) -> str:
    return (f"'studymgr scores amend {dyad} {session} {spec} --role {role} "
            f"--timing {timing} --items ... --reason ...'")


@fill_doc
def prepare_entry(study: Study, dyad: str, session: int | str, instrument: str, *,
                  role: str | None = None, timing: str | None = None,
                  amend: bool = False, respondent: str | None = None) -> EntryTarget:
    """Check everything about a response except its item values.

    Used before prompting for items, so nobody types twelve answers to hear that the session is
    locked. :func:`enter_response` and :func:`amend_response` repeat the checks in their
    transaction.

    Parameters
    ----------
    %(study)s
    %(dyad)s
    %(session_any)s
    %(instrument_spec)s
    %(role_answered)s
    %(timing_default)s
    amend : bool
        True: the response must exist (to be amended); False: it must not (new entry).
    %(respondent)s

    Returns
    -------
    EntryTarget

    Raises
    ------
    NotFoundError
        Unknown dyad, session or instrument; with ``amend``, no response to amend.
    InputError
        A role or timing the instrument does not allow.
    ConflictError
        The session is locked; without ``amend``, the response is already entered.
    """
    role = _role_argument(role, respondent, "prepare_entry")
    stored = study._resolve_instrument(instrument)
    inst = stored.instrument
    role = _check_role(inst, role)
    timing = _check_timing(inst, timing)
    number = check_session_number(session)
    sid = study.require_unlocked(dyad, number)
    existing = None
    if stored.id is not None:
        existing = study._response_index([sid]).get((sid, stored.id, role, timing))
    where = f"{dyad}/{number}: {stored.spec} ({role}, {timing})"
    if amend and existing is None:
        raise NotFoundError(f"{where} has not been entered, so there is nothing to amend: enter "
                            "it with 'studymgr scores enter'")
    if not amend and existing is not None:
        raise ConflictError(
            f"{where} is already entered ({existing['entered_at'][:10]} by "
            f"{existing['entered_by']}): to change it use "
            + _amend_hint(dyad, number, stored.spec, role, timing)
        )
    return EntryTarget(dyad, number, sid, stored, role, timing, existing)


def parse_items_text(text: str) -> list[str] | dict[str, str]:
    """Split item values typed on a command line.

    Parameters
    ----------
    text : str
        ``"3,2,1,0"`` (one value per item, in order; an empty value is ``NA``) or
        ``"1=3,2=2,3=NA"`` (by item id).

    Returns
    -------
    list of str or dict
        Raw values, parsed further by the instrument.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError("no item values given: write them as 3,2,1,... (NA for a missing one)")
    parts = [p.strip() for p in text.split(",")]
    named = ["=" in p for p in parts]
    if not any(named):
        return parts
    if not all(named):
        raise InputError(f"item values {text!r} mix 'id=value' and plain values: use one form")
    out: dict[str, str] = {}
    for part in parts:
        key, _, value = part.partition("=")
        key = key.strip()
        if key in out:
            raise InputError(f"item {key!r} is given twice in {text!r}")
        out[key] = value.strip()
    return out


def _parse_values(inst: Instrument, items: Any) -> ItemValues:
    """Parse a full set of item values (sequence, mapping or text); every item must be given."""
    if isinstance(items, str):
        items = parse_items_text(items)
    if isinstance(items, Mapping):
        given = {str(k) for k in items}
        absent = [i for i in inst.item_ids if i not in given]
        unknown = [k for k in given if k not in inst.item_ids]
        if absent and not unknown:
            raise InputError(f"{inst.name}: no value for item(s) {', '.join(absent)}; give every "
                             "item, NA for a missing answer")
        return inst.parse_mapping(items)  # unknown ids: a clear InputError
    if items is None:
        raise InputError(f"{inst.name}: no item values given")
    return inst.parse_items(items)


def check_item_value(instrument: Instrument, item_id: str, raw: str) -> str:
    """Validate one typed item value (for interactive entry); return it stripped.

    Raises
    ------
    InputError
        The value is not allowed for the item (out of range, off its grid, unknown code).
    """
    instrument.parse_mapping({item_id: raw})
    return raw.strip()


def _response_frame(rec: ScoredResponse) -> pd.DataFrame:
    inst = rec.instrument.instrument
    rows = [(rec.dyad, rec.session, rec.role, rec.timing, inst.name, inst.version,
             inst.construct, s.scale, s.value, s.n_answered, s.n_items, s.prorated, s.band,
             s.scale == inst.primary) for s in rec.scores]
    frame = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    return frame.astype({"session": "int64", "value": "float64", "n_answered": "int64",
                         "n_items": "int64", "prorated": "bool", "primary": "bool"})


def _build(target: EntryTarget, items: Any) -> ScoredResponse:
    inst = target.instrument.instrument
    values = _parse_values(inst, items)
    return ScoredResponse(dyad=target.dyad, session=target.session,
                          session_id=target.session_id, instrument=target.instrument,
                          role=target.role, timing=target.timing, values=values,
                          scores=tuple(inst.score(values)))


def _warn_not_attended(study: Study, dyad: str, number: int) -> None:
    if not study.session(dyad, number)["attended"]:
        logger.warning("session %s/%s is marked as not attended; storing the questionnaire "
                       "anyway", dyad, number)


@fill_doc
def enter_response(study: Study, dyad: str, session: int | str, instrument: str, *,
                   role: str | None = None, timing: str | None = None,
                   items: Sequence[Any] | Mapping[str, Any] | str,
                   respondent: str | None = None) -> pd.DataFrame:
    """Enter one questionnaire response: validate, score and store it (audited).

    Parameters
    ----------
    %(study)s
    %(dyad)s
    %(session_any)s
    %(instrument_spec)s
    %(role_answered)s
    %(timing_default)s
    items : sequence, mapping or str
        Item values in the items' units (see the module docstring), every item given.
    %(respondent)s

    Returns
    -------
    pandas.DataFrame
        The stored scores, as :meth:`Study.scores` returns them (one row per scale).

    Raises
    ------
    NotFoundError, InputError, ConflictError
        As :func:`prepare_entry`; InputError for a bad item value or count. Nothing is written.
    """
    role = _role_argument(role, respondent, "enter_response")
    target = prepare_entry(study, dyad, session, instrument, role=role, timing=timing)
    record = _build(target, items)
    with study.transaction():
        # Checked again under the write lock: another writer may have come first.
        target = prepare_entry(study, dyad, target.session, target.instrument.spec,
                               role=target.role, timing=target.timing)
        study._write_responses([record], source="entry", action="enter")
    _warn_not_attended(study, dyad, target.session)
    return _response_frame(record)


def amend_response(study: Study, dyad: str, session: int | str, instrument: str, *,
                   role: str | None = None, timing: str | None = None,
                   items: Sequence[Any] | Mapping[str, Any] | str,
                   reason: str, respondent: str | None = None) -> pd.DataFrame:
    """Replace the item values of a stored response (status 'amended'; audited).

    The old item values, scores and entry details are kept in the audit row's ``old``.

    Parameters
    ----------
    study, dyad, session, instrument, role, timing, items, respondent
        As in :func:`enter_response`.
    reason : str
        Why (required; kept in the audit trail).

    Returns
    -------
    pandas.DataFrame
        The new scores (one row per scale).

    Raises
    ------
    NotFoundError
        No such response to amend.
    InputError
        No reason, bad values, or values identical to the stored ones.
    ConflictError
        The session is locked.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise InputError("amending needs a reason (--reason \"...\"), kept in the audit trail")
    role = _role_argument(role, respondent, "amend_response")
    target = prepare_entry(study, dyad, session, instrument, role=role, timing=timing,
                           amend=True)
    record = _build(target, items)
    with study.transaction():
        target = prepare_entry(study, dyad, target.session, target.instrument.spec,
                               role=target.role, timing=target.timing, amend=True)
        rid = target.existing["id"]
        new = record.record(study._ensure_instrument(target.instrument))
        if study._response_items([rid]).get(rid) == new.item_map():
            raise InputError(f"{dyad}/{target.session}: {target.instrument.spec} "
                             f"({target.role}, {target.timing}) already has these values: "
                             "nothing to amend")
        study._replace_response(rid, new, reason=reason.strip())
    return _response_frame(record)


# --------------------------------------------------------------------------------------------
# Reading CSV files
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseTable:
    """A CSV file read as text rows.

    Attributes
    ----------
    name : str
        File name (for messages).
    sha256 : str
        Hash of the file's bytes (recorded with every imported response).
    header : list of str
        Column names, stripped.
    rows : list of (int, list of str)
        Line number in the file (1 = header) and the row's fields; blank lines skipped.
    """

    name: str
    sha256: str
    header: list[str]
    rows: list[tuple[int, list[str]]]


def _excel_error(name: str) -> InputError:
    return InputError(f"{name} is a spreadsheet workbook; reading it would need openpyxl, which "
                      "studymgr does not install: save the sheet as 'CSV UTF-8' and import that")


def read_table(path: str | Path) -> ResponseTable:
    """Read a response CSV file (see the module docstring for the format).

    Parameters
    ----------
    path : path-like
        The CSV file.

    Returns
    -------
    ResponseTable

    Raises
    ------
    NotFoundError
        No such file.
    InputError
        Not a readable UTF-8 text table, empty, no data rows, a spreadsheet workbook, repeated
        or missing required columns, or broken CSV quoting.
    """
    path = Path(path)
    name = path.name or str(path)
    if path.suffix.lower() in _EXCEL_SUFFIXES:
        raise _excel_error(name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _excel_error(name)
    if not data.strip():
        raise InputError(f"{name} is empty: nothing imported")
    if b"\x00" in data:
        raise InputError(f"{name} is not a text file (it contains NUL bytes): give a CSV file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name} is not UTF-8 text (bad byte at offset {exc.start}): save it "
                         "as 'CSV UTF-8'") from None
    first = next(line for line in text.splitlines() if line.strip())
    delimiter = max((",", ";", "\t"), key=lambda d: _header_score(first, d))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    start = 1
    try:
        for fields in reader:
            line, start = start, reader.line_num + 1
            if not any(f.strip() for f in fields):
                continue
            if header is None:
                header = [f.strip() for f in fields]
            else:
                rows.append((line, fields))
    except csv.Error as exc:
        raise InputError(f"{name}, line {reader.line_num}: not valid CSV ({exc}); check the "
                         "quotes on that line") from None
    assert header is not None  # the file has a non-blank line
    header = _renamed_columns(name, header)
    lowered = [h.lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in lowered]
    if missing:
        raise InputError(
            f"{name} lacks the column(s) {', '.join(missing)}: its first line must name the "
            "columns dyad, session, role, instrument, timing (optional) and one column per "
            "item (1, 2, ... or i1, i2, ...)"
        )
    for i, h in enumerate(lowered):
        if not h:
            raise InputError(f"{name}: column {i + 1} has no name; name it or remove it")
        if lowered.index(h) != i:
            raise InputError(f"{name}: column {header[i]!r} appears twice; keep one")
    if not rows:
        raise InputError(f"{name} has a header but no rows: nothing imported")
    return ResponseTable(name, hashlib.sha256(data).hexdigest(), header, rows)


def _renamed_columns(name: str, header: list[str]) -> list[str]:
    """The header with old column names read as their new ones (``respondent`` -> ``role``)."""
    lowered = [h.lower() for h in header]
    out = list(header)
    for j, low in enumerate(lowered):
        new = COLUMN_ALIASES.get(low)
        if new is not None and new not in lowered:
            logger.warning("%s: column %r is read as %r, its new name; rename it (the old "
                           "name is read until studymgr %s)", name, header[j], new, REMOVED_IN)
            out[j] = new
    return out


def _header_score(line: str, delimiter: str) -> tuple[int, int]:
    fields = {COLUMN_ALIASES.get(f, f) for f in
              (f.strip().lower() for f in next(csv.reader([line], delimiter=delimiter)))}
    return sum(c in fields for c in KEY_COLUMNS), len(fields)


# --------------------------------------------------------------------------------------------
# Batch import
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class RowProblem:
    """One problem in an imported file: where, what and why."""

    line: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        where = "header" if self.line == 1 else f"line {self.line}"
        if self.column:
            where += f", column {self.column!r}"
        if self.value != "":
            where += f", value {self.value!r}"
        return f"{where}: {self.reason}"


class ImportRowsError(InputError):
    """Some rows of an import are bad; nothing was imported.

    The message's first line summarises; each further line names one problem (line, column,
    value, reason). ``problems`` holds them all.
    """

    def __init__(self, name: str, problems: list[RowProblem]):
        self.problems = sorted(problems, key=lambda p: p.line)
        bad_rows = len({p.line for p in self.problems if p.line > 1})
        header = any(p.line == 1 for p in self.problems)
        parts = (["the header"] if header else []) + (
            [f"{bad_rows} bad row{'s' if bad_rows != 1 else ''}"] if bad_rows else [])
        lines = [f"{' and '.join(parts)} in {name}: nothing imported"]
        lines += [f"  {p}" for p in self.problems[:MAX_LISTED_PROBLEMS]]
        if len(self.problems) > MAX_LISTED_PROBLEMS:
            lines.append(f"  ... and {len(self.problems) - MAX_LISTED_PROBLEMS} more problems")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class ImportResult:
    """What an import did.

    Attributes
    ----------
    file, sha256 : str
        File name and the sha256 of its bytes.
    rows : int
        Data rows in the file.
    imported : int
        Responses written.
    identical : int
        Rows skipped because the same response is already stored with the same values.
    already_imported : bool
        The same file (by hash) was imported before: nothing was done.
    previous : dict | None
        For an already imported file: ``responses, entered_at, entered_by`` of that import.
    """

    file: str
    sha256: str
    rows: int
    imported: int
    identical: int
    already_imported: bool = False
    previous: dict[str, Any] | None = None

    def message(self) -> str:
        """One line for the user."""
        if self.already_imported:
            prev = self.previous or {}
            return (f"{self.file} was already imported ({prev.get('responses')} responses, "
                    f"{str(prev.get('entered_at', ''))[:19]} by {prev.get('entered_by')}): "
                    "nothing to do")
        if self.imported == 0:
            return (f"Nothing new in {self.file}: all {self.identical} responses are already "
                    "stored with the same values")
        text = f"Imported {self.imported} responses from {self.file}"
        if self.identical:
            text += f" ({self.identical} already stored with the same values were skipped)"
        return text


@dataclass
class _Row:
    line: int
    dyad: str
    session: int
    stored: StoredInstrument | None
    role: str
    timing: str
    values: ItemValues | None
    scores: tuple[Score, ...]
    complete: bool  # False: the row has problems; only its dyad and session are checked


@dataclass
class _Columns:
    """Where the key and item columns of a table are."""

    key: dict[str, int]
    item: dict[str, dict[str, int]] = field(default_factory=dict)  # spec -> item id -> column
    foreign: dict[str, list[int]] = field(default_factory=dict)  # spec -> other item columns


def _item_candidates(header: str) -> set[str]:
    """Item ids a column name can stand for (``3`` for ``3``, ``i3``, ``item3``, ``item_3``)."""
    low = header.lower()
    return {low[len(p):] for p in ITEM_PREFIXES if low.startswith(p) and len(low) > len(p)}


def _map_columns(table: ResponseTable, instruments: dict[str, StoredInstrument],
                 problems: list[RowProblem]) -> _Columns:
    lowered = [h.lower() for h in table.header]
    cols = _Columns(key={c: lowered.index(c) for c in KEY_COLUMNS if c in lowered})
    item_cols = [j for j in range(len(table.header)) if j not in cols.key.values()]
    used: set[int] = set()
    for spec, stored in instruments.items():
        inst = stored.instrument
        mapping: dict[str, int] = {}
        for iid in inst.item_ids:
            found = [j for j in item_cols if iid.lower() in _item_candidates(table.header[j])]
            if len(found) > 1:
                names = " and ".join(repr(table.header[j]) for j in found)
                problems.append(RowProblem(1, "", "", f"columns {names} both name item {iid} "
                                           f"of {spec}; keep one"))
            elif not found:
                problems.append(RowProblem(1, "", "", f"no column for item {iid} of {spec} "
                                           f"(name it {iid} or i{iid})"))
            else:
                mapping[iid] = found[0]
        if len(mapping) == len(inst.item_ids):
            cols.item[spec] = mapping
            cols.foreign[spec] = [j for j in item_cols if j not in mapping.values()]
        used.update(mapping.values())
    if instruments:
        # Empty columns are harmless (e.g. a template with more item columns than needed).
        names = ", ".join(sorted(instruments))
        for j in item_cols:
            if j not in used and any(len(f) > j and f[j].strip() for _, f in table.rows):
                problems.append(RowProblem(
                    1, table.header[j], "",
                    f"has values but is neither a key column ({', '.join(KEY_COLUMNS)}) nor "
                    f"an item of {names}; rename or remove it"))
    return cols


def _parse_rows(study: Study, table: ResponseTable, progress: Progress | None,
                problems: list[RowProblem]) -> list[_Row]:
    key_idx = {h.lower(): j for j, h in enumerate(table.header)}
    spec_col = key_idx["instrument"]
    instruments: dict[str, StoredInstrument] = {}
    spec_errors: dict[str, str] = {}
    for spec in sorted({f[spec_col].strip() for _, f in table.rows if len(f) > spec_col}):
        try:
            instruments[spec] = study._resolve_instrument(spec)
        except StudyError as exc:
            spec_errors[spec] = str(exc)
    cols = _map_columns(table, instruments, problems)
    timing_col = cols.key.get("timing")
    n_fields = len(table.header)
    rows: Iterable[tuple[int, list[str]]] = table.rows
    if progress is not None:
        rows = progress(table.rows, len(table.rows))
    out: list[_Row] = []
    for line, fields in rows:
        if len(fields) != n_fields:
            problems.append(RowProblem(line, "", "", f"has {len(fields)} fields but the header "
                                       f"has {n_fields}; check the separators on this line"))
            continue
        row = _parse_row(line, fields, cols, timing_col, instruments, spec_errors, table.header,
                         problems)
        if row is not None:
            out.append(row)
    return out


def _parse_row(line: int, fields: list[str], cols: _Columns, timing_col: int | None,
               instruments: dict[str, StoredInstrument], spec_errors: dict[str, str],
               header: list[str], problems: list[RowProblem]) -> _Row | None:
    """Parse one row, reporting every bad cell; None only when dyad or session is unusable.

    A row with other problems comes back with ``complete=False``, so that its dyad and session
    are still checked against the study.
    """
    ok = True

    def bad(column: str, value: str, reason: str) -> None:
        nonlocal ok
        ok = False
        problems.append(RowProblem(line, column, value, reason))

    key = cols.key
    dyad = fields[key["dyad"]].strip()
    located = True
    try:
        check_code(dyad, "dyad")
    except InputError as exc:
        bad("dyad", dyad, str(exc))
        located = False
    raw_session = fields[key["session"]].strip()
    session = 0
    try:
        session = check_session_number(raw_session)
    except InputError as exc:
        bad("session", raw_session, str(exc))
        located = False
    row = _Row(line, dyad, session, None, "", "", None, (), False) if located else None
    spec = fields[key["instrument"]].strip()
    stored = instruments.get(spec)
    if stored is None:
        bad("instrument", spec, spec_errors.get(spec, "no instrument given"))
        return row
    inst = stored.instrument
    role = raw_role = fields[key["role"]].strip()
    try:
        role = _check_role(inst, raw_role)
    except InputError as exc:
        bad("role", raw_role, str(exc))
    raw_timing = fields[timing_col].strip() if timing_col is not None else ""
    timing = raw_timing
    try:
        timing = _check_timing(inst, raw_timing)
    except InputError as exc:
        bad("timing", raw_timing, str(exc))
    mapping = cols.item.get(spec)
    if mapping is None:  # an item column is missing: reported once, for the header
        return row
    for j in cols.foreign[spec]:
        if fields[j].strip():
            bad(header[j], fields[j].strip(), f"{spec} has no such item; leave the cell empty")
    try:
        values = inst.parse_mapping({iid: fields[j] for iid, j in mapping.items()})
    except InputError:
        for iid, j in mapping.items():  # name every bad cell, not only the first
            try:
                inst.parse_mapping({iid: fields[j]})
            except InputError as exc:
                bad(header[j], fields[j].strip(), str(exc))
        return row
    if not ok or row is None:
        return row
    return _Row(line, dyad, session, stored, role, timing, values,
                tuple(inst.score(values)), True)


def _same_items(values: ItemValues, stored: dict[str, float | str] | None) -> bool:
    if stored is None:
        return False
    mine = {iid: (values.missing[iid] if v is None else float(v))
            for iid, v in values.values.items()}
    return mine == stored


def import_responses(study: Study, path: str | Path, *,
                     progress: Progress | None = None) -> ImportResult:
    """Import many responses from a CSV file, all or nothing (audited, one row per response).

    Parameters
    ----------
    study : Study
        The open study.
    path : path-like
        The CSV file (format in the module docstring).
    progress : callable | None
        ``progress(rows, n)`` wraps the iteration over the ``n`` data rows (e.g. a progress
        bar) and returns an iterable of the same rows.

    Returns
    -------
    ImportResult
        Counts of imported and skipped responses. A file imported before (same sha256) is a
        no-op; rows identical to stored responses are skipped.

    Raises
    ------
    ImportRowsError
        Any bad row (a bad value, unknown dyad/session/instrument/item, a locked session, a
        duplicate within the file, or a response stored with other values, which needs
        ``amend``): every problem is listed and nothing is written.
    InputError, NotFoundError
        The file is missing, not a CSV table, or lacks required columns.
    """
    table = read_table(path)
    seen = study._import_seen(table.sha256)
    if seen is not None:
        return ImportResult(table.name, table.sha256, len(table.rows), 0, 0, True, seen)
    problems: list[RowProblem] = []
    parsed = _parse_rows(study, table, progress, problems)
    with study.transaction():
        seen = study._import_seen(table.sha256)
        if seen is not None:
            return ImportResult(table.name, table.sha256, len(table.rows), 0, 0, True, seen)
        new, identical = _check_against_store(study, parsed, problems)
        if problems:
            raise ImportRowsError(table.name, problems)
        if new:
            study._write_responses(new, source="import", action="import",
                                    source_hash=table.sha256,
                                    audit_extra={"file": table.name, "sha256": table.sha256})
    logger.info("imported %d responses from %s (%d identical skipped)", len(new), table.name,
                identical)
    return ImportResult(table.name, table.sha256, len(table.rows), len(new), identical)


def _check_against_store(study: Study, parsed: list[_Row],
                         problems: list[RowProblem]) -> tuple[list[ScoredResponse], int]:
    """Rows checked against the study (inside the transaction): new records, identical count."""
    dyads, sessions = study._session_index()
    located: list[tuple[_Row, int, bool]] = []
    for row in parsed:
        if row.dyad not in dyads:
            problems.append(RowProblem(row.line, "dyad", row.dyad, f"unknown dyad {row.dyad} "
                                       "(see 'studymgr dyad list')"))
            continue
        found = sessions.get((row.dyad, row.session))
        if found is None:
            problems.append(RowProblem(
                row.line, "session", str(row.session),
                f"dyad {row.dyad} has no session {row.session} (add it with 'studymgr session "
                f"add {row.dyad} {row.session}')"))
            continue
        sid, locked, _ = found
        if row.complete:
            located.append((row, sid, locked))
        elif locked:
            problems.append(_locked_problem(row))
    existing = study._response_index({sid for _, sid, _ in located})
    clashes = {}
    for row, sid, _ in located:
        assert row.stored is not None
        if row.stored.id is not None:
            hit = existing.get((sid, row.stored.id, row.role, row.timing))
            if hit is not None:
                clashes[row.line] = hit
    stored_items = study._response_items(h["id"] for h in clashes.values())
    first_line: dict[tuple[int, str, str, str], int] = {}
    new: list[ScoredResponse] = []
    identical = 0
    for row, sid, locked in located:
        assert row.stored is not None and row.values is not None
        spec = row.stored.spec
        key = (sid, spec, row.role, row.timing)
        if key in first_line:
            problems.append(RowProblem(
                row.line, "", "", f"same dyad, session, instrument, role and timing as "
                f"line {first_line[key]}; keep one"))
            continue
        first_line[key] = row.line
        hit = clashes.get(row.line)
        if hit is not None:
            if _same_items(row.values, stored_items.get(hit["id"])):
                identical += 1  # also in a locked session: nothing would change
                continue
            problems.append(RowProblem(
                row.line, "", "",
                f"{row.dyad}/{row.session}: {spec} ({row.role}, {row.timing}) is already "
                f"stored with other values ({hit['entered_at'][:10]} by {hit['entered_by']}); "
                "change it with " + _amend_hint(row.dyad, row.session, spec, row.role,
                                                row.timing)))
            continue
        if locked:
            problems.append(_locked_problem(row))
            continue
        new.append(ScoredResponse(row.dyad, row.session, sid, row.stored, row.role,
                               row.timing, row.values, row.scores))
    return new, identical


def _locked_problem(row: _Row) -> RowProblem:
    return RowProblem(row.line, "session", str(row.session),
                      f"session {row.dyad}/{row.session} is locked: unlock it first ('studymgr "
                      f"session unlock {row.dyad} {row.session} --reason ...')")


# --------------------------------------------------------------------------------------------
# Reliability
# --------------------------------------------------------------------------------------------

RELIABILITY_COLUMNS = ["instrument", "version", "scale", "role", "session", "responses",
                       "n", "k", "alpha", "ci_low", "ci_high", "note"]


def reliability(study: Study, instrument: str, *, by_session: bool = False,
                nan_policy: Literal["listwise", "pairwise"] = "listwise",
                ci: float = 0.95) -> pd.DataFrame:
    """Cronbach's alpha of each item scale of an instrument, from the stored responses.

    Alpha is computed separately for each role (a therapist's and a patient's
    answers are different populations), pooled over sessions and timings, and with
    ``by_session`` also per session number (pooled over dyads). Pooling repeated responses of
    the same people makes the pooled alpha descriptive, not an independent-sample estimate.

    Parameters
    ----------
    study : Study
        The open study.
    instrument : str
        ``name`` or ``name@version``.
    by_session : bool
        Add one row per session number.
    nan_policy : {"listwise", "pairwise"}
        Missing items: drop incomplete responses (default) or use pairwise covariances (see
        :func:`studymgr.compute.instruments.cronbach_alpha`).
    ci : float
        Confidence level of Feldt's interval.

    Returns
    -------
    pandas.DataFrame
        ``instrument, version, scale, role, session`` (<NA> = all sessions),
        ``responses`` (in the group), ``n`` (used), ``k`` (items), ``alpha, ci_low, ci_high``
        and ``note`` (why alpha is missing, e.g. fewer than 2 usable responses). Derived scales
        (same alpha as their source) and one-item scales are left out.

    Raises
    ------
    NotFoundError
        Unknown instrument, or no stored responses of it.
    InputError
        The instrument has no scale of two or more items.
    """
    stored = study._resolve_instrument(instrument)
    inst = stored.instrument
    scales = [s for s in inst.scales if s.derived_from is None and s.n_items >= 2]
    if not scales:
        raise InputError(f"{stored.spec} has no scale of two or more items: alpha needs two")
    items = study.items(instrument=stored.spec) if stored.id is not None else pd.DataFrame()
    if items.empty:
        raise NotFoundError(f"no {stored.spec} responses are stored yet: enter or import some "
                            "first")
    wide = items.pivot(index=["dyad", "session", "role", "timing"], columns="item",
                       values="value").reset_index()
    rows = []
    for role, by_role in wide.groupby("role", sort=True):
        groups: list[tuple[Any, pd.DataFrame]] = [(pd.NA, by_role)]
        if by_session:
            groups += list(by_role.groupby("session", sort=True))
        for session, frame in groups:
            for sc in scales:
                rows.append(_alpha_row(inst, stored, sc.id, role, session, frame,
                                       nan_policy, ci))
    out = pd.DataFrame(rows, columns=RELIABILITY_COLUMNS)
    return out.astype({"session": "Int64", "alpha": "float64", "ci_low": "float64",
                       "ci_high": "float64"})


def _alpha_row(inst: Instrument, stored: StoredInstrument, scale: str, role: str,
               session: Any, frame: pd.DataFrame, nan_policy: str, ci: float) -> dict[str, Any]:
    row = {"instrument": inst.name, "version": inst.version, "scale": scale,
           "role": role, "session": session, "responses": len(frame),
           "k": inst.scale(scale).n_items}
    try:
        res = cronbach_alpha(frame, inst, scale, nan_policy=nan_policy, ci=ci)  # type: ignore[arg-type]
    except InputError as exc:
        answered = frame.reindex(columns=list(inst.scale(scale).items)).notna()
        usable = answered.all(axis=1) if nan_policy == "listwise" else answered.any(axis=1)
        note = str(exc).removeprefix(f"{inst.name}: ")
        return {**row, "n": int(usable.sum()), "alpha": math.nan, "ci_low": math.nan,
                "ci_high": math.nan, "note": note}
    return {**row, "n": res["n"], "alpha": res["alpha"], "ci_low": res["ci_low"],
            "ci_high": res["ci_high"], "note": ""}
