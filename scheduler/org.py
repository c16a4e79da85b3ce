"""Import the organisation (units, people, roles) from a CSV file.

Columns (header row, any order; UTF-8 with or without BOM, else GB18030/GBK as Chinese Excel's
plain "CSV (逗号分隔)" saves it: the summary names the encoding used):

  code          unit code, the key (letters, digits, "_", "-", "."; e.g. XCB)      required
  name          unit name (e.g. 党委宣传部)                                           required
  kind          committee | branch | dept_branch | office, or 党委 | 党支部 | 系党支部 | 处室   required
  parent        code of the parent unit (in the file or already in the database)  optional
  secretary     name of the unit's secretary (first responsible person)            optional
  email, wecom_userid, mobile   the secretary's contacts                           optional
  head, supervisor, propaganda  another role holder's name, with that person's contacts in
                <role>_email, <role>_wecom_userid, <role>_mobile                   optional

Rules: every row is checked and all bad rows are reported with line and field. By default
nothing is imported when any row is bad; with `partial=True` the good rows are imported and
the bad ones returned in the result. Re-importing a file updates and never duplicates: units
are matched by code, people by `models.person_key` (email, else WeCom id, else mobile, else
name). A role named in a row replaces whoever held that role in that unit; a blank cell leaves
the unit's current holder, and a blank contact cell keeps the contact already stored.
The caller's session is flushed, not committed (use `db.session_scope`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, select

from obligations.csv_text import CSVEncodingError, RowError, decode_csv
from scheduler.models import ROLES, UNIT_KINDS, Person, RoleAssignment, Unit, local_now, person_key

REQUIRED_COLUMNS = ("code", "name", "kind")
CONTACT_FIELDS = ("email", "wecom_userid", "mobile")
# role -> (name column, contact columns in the order of CONTACT_FIELDS)
ROLE_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "secretary": ("secretary", CONTACT_FIELDS),
    **{r: (r, tuple(f"{r}_{c}" for c in CONTACT_FIELDS)) for r in ROLES if r != "secretary"},
}
KNOWN_COLUMNS = REQUIRED_COLUMNS + ("parent",) + tuple(
    col for name, contacts in ROLE_COLUMNS.values() for col in (name, *contacts))

_KIND_BY_LABEL = {**{k: k for k in UNIT_KINDS}, **{v: k for k, v in UNIT_KINDS.items()}}
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_WECOM = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_MOBILE = re.compile(r"(?:\+?86)?(1[3-9]\d{9})")


class OrgImportError(ValueError):
    """The file cannot be imported; `errors` lists every problem found."""

    def __init__(self, errors: list[RowError]):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass
class ImportResult:
    rows: int = 0                 # data rows imported
    units_created: int = 0
    units_updated: int = 0
    people_created: int = 0
    people_updated: int = 0
    roles_added: int = 0
    roles_removed: int = 0
    errors: list[RowError] = field(default_factory=list)   # rows skipped (partial=True)
    new_units: list[str] = field(default_factory=list)   # codes created or whose kind changed
    encoding: str = ""            # how the file was decoded (obligations.csv_text)

    @property
    def changed(self) -> bool:
        return any((self.units_created, self.units_updated, self.people_created,
                    self.people_updated, self.roles_added, self.roles_removed))

    def summary(self) -> str:
        """One line in Chinese for the secretary running the import."""
        text = (f"单位：新增 {self.units_created}，更新 {self.units_updated}；"
                f"人员：新增 {self.people_created}，更新 {self.people_updated}；"
                f"职务：新增 {self.roles_added}，撤销 {self.roles_removed}")
        if self.errors:
            text += f"；{len({e.line for e in self.errors})} 行有误未导入"
        if self.encoding:
            text += f"（文件编码 {self.encoding}）"
        return text


@dataclass(frozen=True)
class _PersonSpec:
    role: str
    name: str
    email: str | None
    wecom_userid: str | None
    mobile: str | None
    line: int

    @property
    def key(self) -> str:
        return person_key(self.name, self.email, self.wecom_userid, self.mobile)


@dataclass(frozen=True)
class _Row:
    line: int
    code: str
    name: str
    kind: str
    parent: str | None
    people: tuple[_PersonSpec, ...]


def import_org(session: Session, path: Path | str, *, partial: bool = False,
               now: dt.datetime | None = None) -> ImportResult:
    """Import units, people and roles from the CSV at `path` (format: module docstring).

    Raises OrgImportError when the file cannot be read or its header is wrong, and, unless
    `partial`, when any row is bad (then nothing is written)."""
    path = Path(path)
    label = str(path)
    rows, errors, lines_by_code, encoding = _parse(path, label)
    existing = {u.code: u for u in session.exec(select(Unit)).all()}
    good = _check_across_rows(rows, errors, existing, lines_by_code, label)
    if errors and not partial:
        raise OrgImportError(sorted(errors, key=_error_order))
    result = ImportResult(errors=sorted(errors, key=_error_order), encoding=encoding)
    _apply(session, good, existing, result, now or local_now())
    session.flush()
    return result


def _error_order(e: RowError):
    return (e.line or 0, e.field or "")


# --------------------------------------------------------------------------- reading

def _parse(path: Path, label: str) -> tuple[list[_Row], list[RowError], dict[str, int], str]:
    """Valid rows, row errors, the first line of every unit code in the file (good or bad), and
    the encoding the file was read in."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise OrgImportError([RowError(label, None, None, "文件不存在")]) from None
    except OSError as e:
        raise OrgImportError([RowError(label, None, None, f"无法读取文件（{e.strerror}）")]) from None
    try:
        decoded = decode_csv(raw)
    except CSVEncodingError as e:
        raise OrgImportError([RowError(label, e.line, None, str(e))]) from None
    text, encoding = decoded.text, decoded.encoding

    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[_Row] = []
    errors: list[RowError] = []
    lines_by_code: dict[str, int] = {}
    last = 0
    try:
        for cells in reader:
            line, last = last + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = _check_header(cells, line, label)
                continue
            if len(cells) != len(header):
                errors.append(RowError(label, line, None,
                                          f"应有 {len(header)} 列，实有 {len(cells)} 列"))
                continue
            values = dict(zip(header, (c.strip() for c in cells)))
            lines_by_code.setdefault(values["code"], line)
            row, row_errors = _parse_row(values, line, label)
            errors.extend(row_errors)
            if row is not None:
                rows.append(row)
    except csv.Error as e:
        raise OrgImportError([RowError(label, reader.line_num, None, f"CSV 格式有误（{e}）")]) from None
    if header is None:
        raise OrgImportError([RowError(label, None, None, "文件为空（没有表头行）")])
    return rows, errors, lines_by_code, encoding


def _check_header(cells: list[str], line: int, label: str) -> list[str]:
    header = [c.strip().lower() for c in cells]
    errors = []
    for i, col in enumerate(header):
        if col not in KNOWN_COLUMNS:
            errors.append(RowError(label, line, col or f"#{i + 1}",
                                      f"未知列（可用的列：{', '.join(KNOWN_COLUMNS)}）"))
        elif col in header[:i]:
            errors.append(RowError(label, line, col, "列重复"))
    for col in REQUIRED_COLUMNS:
        if col not in header:
            errors.append(RowError(label, line, col, "缺少必填列"))
    for name_col, contacts in ROLE_COLUMNS.values():
        for col in contacts:
            if col in header and name_col not in header:
                errors.append(RowError(label, line, col,
                                          f"有联系方式列但没有 {name_col} 列"))
    if errors:
        raise OrgImportError(errors)
    return header


def _parse_row(values: dict[str, str], line: int, label: str
               ) -> tuple[_Row | None, list[RowError]]:
    errors: list[RowError] = []

    def bad(col: str, message: str) -> None:
        errors.append(RowError(label, line, col, message))

    code = values["code"]
    if not _CODE.fullmatch(code):
        bad("code", f"单位代码应为 1-32 个字母、数字或 _ - .，给出的是 {_q(code)}"
            if code else "单位代码为空")
    name = values["name"]
    if not name:
        bad("name", "单位名称为空")
    elif len(name) > 200:
        bad("name", "单位名称超过 200 个字")
    kind_text = values["kind"]
    kind = _KIND_BY_LABEL.get(kind_text.lower(), _KIND_BY_LABEL.get(kind_text))
    if kind is None:
        choices = ", ".join(f"{k}/{v}" for k, v in UNIT_KINDS.items())
        bad("kind", f"未知单位类型 {_q(kind_text)}（可用：{choices}）" if kind_text
            else f"单位类型为空（可用：{choices}）")
    parent = values.get("parent") or None
    if parent is not None and not _CODE.fullmatch(parent):
        bad("parent", f"不是单位代码：{_q(parent)}")

    people = []
    for role, (name_col, contact_cols) in ROLE_COLUMNS.items():
        if name_col not in values:
            continue
        person_name = values[name_col]
        contacts = {f: values.get(col) or None for f, col in zip(CONTACT_FIELDS, contact_cols)}
        if not person_name:
            for f, col in zip(CONTACT_FIELDS, contact_cols):
                if contacts[f]:
                    bad(col, f"填了联系方式，但 {name_col} 为空")
            continue
        if len(person_name) > 100:
            bad(name_col, "姓名超过 100 个字")
        email_col, wecom_col, mobile_col = contact_cols
        if contacts["email"] and not _EMAIL.fullmatch(contacts["email"]):
            bad(email_col, f"不是邮箱地址：{_q(contacts['email'])}")
        if contacts["wecom_userid"] and not _WECOM.fullmatch(contacts["wecom_userid"]):
            bad(wecom_col, f"不是企业微信账号（字母、数字或 _ - . @，最多 64 个）："
                           f"{_q(contacts['wecom_userid'])}")
        if contacts["mobile"]:
            m = _MOBILE.fullmatch(re.sub(r"[\s-]", "", contacts["mobile"]))
            if m:
                contacts["mobile"] = m.group(1)
            else:
                bad(mobile_col, f"不是大陆手机号（11 位数字）：{_q(contacts['mobile'])}")
        people.append(_PersonSpec(role, person_name, contacts["email"], contacts["wecom_userid"],
                                  contacts["mobile"], line))
    if errors:
        return None, errors
    return _Row(line, code, name, kind, parent, tuple(people)), []


def _q(text: str) -> str:
    return f'"{text}"'


# --------------------------------------------------------------------------- cross-row checks

def _check_across_rows(rows: list[_Row], errors: list[RowError], existing: dict[str, Unit],
                       lines_by_code: dict[str, int], label: str) -> list[_Row]:
    """Duplicate codes, one person described two ways, missing parents, parent loops.
    Appends to `errors`; returns the rows that can be imported."""
    good: list[_Row] = []
    seen: dict[str, int] = {}
    for row in rows:
        if row.code in seen:
            errors.append(RowError(label, row.line, "code",
                                      f"单位 {row.code} 已在第 {seen[row.code]} 行"))
        else:
            seen[row.code] = row.line
            good.append(row)

    people: dict[str, _PersonSpec] = {}
    kept = []
    for row in good:
        row_ok = True
        for p in row.people:
            first = people.get(p.key)
            if first is None:
                continue
            for attr in ("name",) + CONTACT_FIELDS:
                a, b = getattr(first, attr), getattr(p, attr)
                if a and b and a != b:
                    col = ROLE_COLUMNS[p.role][0] if attr == "name" else \
                        ROLE_COLUMNS[p.role][1][CONTACT_FIELDS.index(attr)]
                    errors.append(RowError(
                        label, row.line, col,
                        f"{_q(b)} 与第 {first.line} 行同一人员（{p.key}）的 {_q(a)} 不一致"))
                    row_ok = False
        if row_ok:
            kept.append(row)
            for p in row.people:
                people.setdefault(p.key, p)
    good = kept

    # Parents: present in the database or among the good rows; dropping a row can orphan
    # its children, so repeat until stable.
    while True:
        codes = {r.code for r in good}
        orphans = [r for r in good if r.parent and r.parent not in codes and r.parent not in existing]
        if not orphans:
            break
        for r in orphans:
            why = f"第 {lines_by_code[r.parent]} 行有误" if r.parent in lines_by_code \
                else "没有该单位"
            errors.append(RowError(label, r.line, "parent",
                                      f"上级单位 {r.parent} 未导入（{why}）"))
        good = [r for r in good if r not in orphans]

    parents = {code: u.parent_code for code, u in existing.items()}
    parents.update({r.code: r.parent for r in good})
    looping = []
    for r in good:
        chain, code = [r.code], r.parent
        while code is not None and code not in chain:
            chain.append(code)
            code = parents.get(code)
        if code is not None:
            looping.append(r)
            errors.append(RowError(label, r.line, "parent",
                                      "上级关系成环：" + " → ".join(chain + [code])))
    return [r for r in good if r not in looping]


# --------------------------------------------------------------------------- writing

def _parents_first(rows: list[_Row]) -> list[_Row]:
    by_code = {r.code: r for r in rows}
    ordered: list[_Row] = []
    done: set[str] = set()

    def visit(r: _Row) -> None:
        if r.code in done:
            return
        done.add(r.code)
        if r.parent in by_code:
            visit(by_code[r.parent])
        ordered.append(r)

    for r in rows:
        visit(r)
    return ordered


def _apply(session: Session, rows: list[_Row], existing: dict[str, Unit], result: ImportResult,
           now: dt.datetime) -> None:
    for row in _parents_first(rows):
        unit = existing.get(row.code)
        if unit is None:
            session.add(Unit(code=row.code, name=row.name, kind=row.kind,
                             parent_code=row.parent, created_at=now))
            result.units_created += 1
            result.new_units.append(row.code)
        elif (unit.name, unit.kind, unit.parent_code) != (row.name, row.kind, row.parent):
            if unit.kind != row.kind:
                result.new_units.append(row.code)
            unit.name, unit.kind, unit.parent_code = row.name, row.kind, row.parent
            session.add(unit)
            result.units_updated += 1
        # Flush in parent order: SQLite checks the parent reference immediately.
        session.flush()
        result.rows += 1

    people: dict[str, Person] = {}
    for row in rows:
        for spec in row.people:
            person = people.get(spec.key) or _upsert_person(session, spec, result, now)
            people[spec.key] = person
            _assign(session, row.code, person, spec.role, result, now)


def _upsert_person(session: Session, spec: _PersonSpec, result: ImportResult,
                   now: dt.datetime) -> Person:
    person = session.exec(select(Person).where(Person.key == spec.key)).first()
    if person is None:
        person = Person(key=spec.key, name=spec.name, email=spec.email,
                        wecom_userid=spec.wecom_userid, mobile=spec.mobile, created_at=now)
        session.add(person)
        session.flush()
        result.people_created += 1
        return person
    changed = False
    for attr in ("name",) + CONTACT_FIELDS:
        value = getattr(spec, attr)
        if value and getattr(person, attr) != value:      # blank keeps what is stored
            setattr(person, attr, value)
            changed = True
    if changed:
        session.add(person)
        session.flush()
        result.people_updated += 1
    return person


def _assign(session: Session, unit_code: str, person: Person, role: str,
            result: ImportResult, now: dt.datetime) -> None:
    holders = session.exec(select(RoleAssignment).where(
        RoleAssignment.unit_code == unit_code, RoleAssignment.role == role)).all()
    for ra in holders:
        if ra.person_id != person.id:
            session.delete(ra)
            result.roles_removed += 1
    if not any(ra.person_id == person.id for ra in holders):
        session.add(RoleAssignment(unit_code=unit_code, person_id=person.id, role=role,
                                   created_at=now))
        result.roles_added += 1
    session.flush()
