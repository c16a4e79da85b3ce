"""Rule packs: TOML files that declare obligations, validated strictly when loaded.

The schema is docs/packs.md. A pack with any error is refused as a whole; every error names
the file, the line (best effort: tomllib gives no positions, so the line is found by scanning
the text for the obligation's ``key = "..."`` and the field), the obligation key and the
dotted field, e.g.::

    obligations/packs/x.toml:42: 事项 x.1.2: 字段 deadline.day: 必须是 1-31 的整数，实际为 0
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from obligations.deadlines import DEADLINE_RULES, DeadlineRule
from obligations.schedules import SCHEDULE_KINDS, InvalidField, Schedule

UNIT_KINDS = ("committee", "branch", "dept_branch", "office", "propaganda")
# The one mapping of unit kinds to the Chinese words people use (CLI, messages, web; the
# organisation import accepts them too). "propaganda" is the configured propaganda department.
UNIT_KIND_NAMES: dict[str, str] = {
    "committee": "党委",
    "branch": "党支部",
    "dept_branch": "系党支部",
    "office": "处室",
    "propaganda": "党委宣传部",
}
ROLES = ("secretary", "head", "propaganda")
DEFAULT_RESPONSIBLE = "secretary"  # the branch secretary is the first responsible person (DOMAIN.md)

_TOP_FIELDS = ("name", "title", "source", "issued", "description", "documents", "reminders", "scorecard",
               "obligation")
_DOCUMENT_FIELDS = ("title", "number")
_OB_FIELDS = (
    "key", "clause", "title", "applies_to", "responsible", "evidence", "scorecard", "times",
    "default", "anchor", "notes", "citation", "schedule", "deadline", "reminders", "sensitive_only",
)  # fmt: skip
_CITATION_FIELDS = ("source", "clause", "quote")
_PACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class PackError(ValueError):
    """A pack that cannot be loaded; ``str()`` names file, line, obligation key and field."""

    def __init__(self, file: Path | str, key: str | None, field: str | None, message: str, line: int | None = None):
        self.file = Path(file)
        self.key = key
        self.field = field
        self.message = message
        self.line = line
        super().__init__(str(self))

    def subject(self) -> str | None:
        """What in the pack is wrong (subclasses name other parts of a pack)."""
        return f"事项 {self.key}" if self.key else None

    def __str__(self) -> str:
        parts = [f"{self.file}:{self.line}" if self.line else f"{self.file}"]
        if subject := self.subject():
            parts.append(subject)
        if self.field:
            parts.append(f"字段 {self.field}")
        parts.append(self.message)
        return ": ".join(parts)


@dataclass(frozen=True)
class Document:
    """How people name a source document: its title (with 《》 when it is the document's own
    title) and its 文号 (document number), if it has one."""
    title: str
    number: str | None = None


@dataclass(frozen=True)
class Citation:
    source: str  # seed file name
    clause: str
    quote: str  # short, verbatim
    # The document the source file holds (the pack's [documents] entry for it); None when the
    # pack does not name it (the file name is shown then). See obligations.citations.cite.
    document: Document | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Obligation:
    key: str
    pack: str
    clause: str
    title: str
    citation: Citation
    applies_to: tuple[str, ...]  # unit kinds: committee, branch, dept_branch, office, propaganda
    responsible: str  # secretary | head | propaganda
    schedule: Schedule
    deadline: DeadlineRule
    times: int = 1  # N for "at least N per period" (count-based)
    evidence: tuple[str, ...] = ()
    default_date: bool = False  # the pack, not the document, chose the date
    scorecard: str | None = None
    anchor: str | None = None  # key of the obligation whose meeting anchors this one
    reminders: Mapping | None = field(default=None, compare=False)  # raw TOML; read-only by convention
    notes: str = ""
    # A lecture approval asked only for lectures touching clause 12's sensitive categories
    # (henan-2023.12); other lecture obligations apply to every lecture (docs/lectures-and-orders.md).
    sensitive_only: bool = False


@dataclass(frozen=True)
class Pack:
    name: str
    title: str
    path: Path
    obligations: tuple[Obligation, ...]
    scorecard: Mapping = field(default_factory=dict, compare=False)  # raw [scorecard] table
    reminders: Mapping | None = field(default=None, compare=False)  # raw [reminders] table
    source: str | None = None
    issued: date | None = None
    description: str = ""
    documents: Mapping[str, Document] = field(default_factory=dict, compare=False)  # seed file -> document


def unit_kind_name(kind: str) -> str:
    """Chinese word for a unit kind ("dept_branch" -> "系党支部"); unknown kinds as given."""
    return UNIT_KIND_NAMES.get(kind, kind)


def bundled_pack_dir() -> Path:
    """Directory of the packs shipped with ccal (``obligations/packs/``)."""
    return Path(__file__).resolve().parent / "packs"


def bundled_pack_names() -> list[str]:
    """Names of the bundled packs (their ``name`` field; the file stem if unreadable)."""
    return sorted(_pack_name_of(p) for p in sorted(bundled_pack_dir().glob("*.toml")))


def pack_errors(path: Path) -> list[PackError]:
    """Every error of one pack file (the file alone, without cross-pack checks)."""
    return _read_pack(Path(path))[1]


def load_pack(path: Path) -> Pack:
    """Load and validate one pack file; raises the first :class:`PackError` found."""
    pack, errors = _read_pack(Path(path))
    if errors:
        raise errors[0]
    assert pack is not None
    return pack


def load_packs(enabled: Sequence[str], extra_dirs: Sequence[Path] = ()) -> list[Pack]:
    """Bundled packs named in ``enabled`` plus every ``*.toml`` in ``extra_dirs``, checked
    together (obligation keys unique across packs, anchors resolvable)."""
    paths = [_bundled_path(name) for name in dict.fromkeys(enabled)]
    for d in extra_dirs:
        d = Path(d)
        if not d.is_dir():
            raise PackError(d, None, None, "找不到规则包目录")
        paths.extend(sorted(d.glob("*.toml")))
    packs = [load_pack(p) for p in dict.fromkeys(p.resolve() for p in paths)]
    errors = _cross_check(packs)
    if errors:
        raise errors[0]
    return packs


def check_dir(directory: Path) -> list[PackError]:
    """Every error of every pack file in ``directory`` (for ``ccal packs check DIR``): one broken
    pack does not hide the others. Anchors may point into the directory's or bundled packs."""
    directory = Path(directory)
    if not directory.is_dir():
        return [PackError(directory, None, None, "不是目录")]
    errors: list[PackError] = []
    packs: list[Pack] = []
    for path in sorted(directory.glob("*.toml")):
        pack, errs = _read_pack(path)
        errors.extend(errs)
        if pack is not None:
            packs.append(pack)
    bundled: list[Pack] = []
    if directory.resolve() != bundled_pack_dir() and _has_foreign_anchor(packs):
        for path in sorted(bundled_pack_dir().glob("*.toml")):
            pack, errs = _read_pack(path)
            if pack is not None and pack.name not in {p.name for p in packs}:
                bundled.append(pack)
    errors.extend(_cross_check(packs, references=bundled))
    return errors


# ---------------------------------------------------------------------------------------------
# Reading one file


def _read_pack(path: Path) -> tuple[Pack | None, list[PackError]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [PackError(path, None, None, "找不到文件")]
    except UnicodeDecodeError as e:
        return None, [PackError(path, None, None, f"不是 UTF-8 文本（第 {e.start} 字节：{e.reason}）")]
    except OSError as e:
        return None, [PackError(path, None, None, f"无法读取文件：{e.strerror}")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"^(.*?)\s*\(at line (\d+), column (\d+)\)$", str(e))
        if not m:
            return None, [PackError(path, None, None, f"TOML 语法错误：{e}")]
        message = f"TOML 语法错误：{m.group(1)}（第 {m.group(3)} 列）"
        return None, [PackError(path, None, None, message, int(m.group(2)))]
    reader = _PackReader(path, text)
    pack = reader.read(data)
    errors = list(reader.errors)
    # The scorecard is checked when every obligation was built, even if a top-level field was
    # bad, so those errors are reported together. With a broken obligation its links cannot
    # be checked without false alarms, so it waits for the next run.
    complete = reader.complete
    if complete is not None and complete[1]:
        # [scorecard] has its own reader; imported here because it builds on PackError.
        from obligations.scorecard import scorecard_errors

        name, scorecard, obligations = complete
        errors += scorecard_errors(scorecard, pack=name, obligations=obligations,
                                   path=path, text=text)
    return (None if errors else pack), errors


class _PackReader:
    """Validates one parsed pack, collecting every error with its best-effort line."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = text.splitlines()
        self.errors: list[PackError] = []
        # (name, scorecard, obligations) when the pack's name and every obligation were read
        # without error (other top-level fields may still be bad); else None.
        self.complete: tuple[str, dict, tuple[Obligation, ...]] | None = None
        headers = [i for i, ln in enumerate(self.lines) if re.match(r"^\s*\[\[\s*obligation\s*\]\]", ln)]
        # Line ranges [start, end) of each [[obligation]] block, in file order = array order.
        self.blocks = list(zip(headers, headers[1:] + [len(self.lines)]))

    # -- errors and lines ---------------------------------------------------------------------

    def error(self, message: str, field: str | None = None, ob: int | None = None, key: str | None = None) -> None:
        line = self._ob_line(ob, field) if ob is not None else self._top_line(field)
        self.errors.append(PackError(self.path, key, field, message, line))

    def _find(self, pattern: str, start: int, end: int) -> int | None:
        rx = re.compile(pattern)
        for i in range(start, min(end, len(self.lines))):
            if rx.match(self.lines[i]):
                return i
        return None

    def _top_line(self, field: str | None) -> int | None:
        if not field:
            return None
        head, _, rest = field.partition(".")
        first_table = self._find(r"^\s*\[", 0, len(self.lines))
        top_end = len(self.lines) if first_table is None else first_table
        i = self._find(rf"^\s*{re.escape(head)}\s*[.=]", 0, top_end)
        if i is None:
            i = self._find(rf"^\s*\[\s*{re.escape(head)}\s*[\].]", 0, len(self.lines))
            if i is not None and rest:
                end = self._find(r"^\s*\[", i + 1, len(self.lines)) or len(self.lines)
                j = self._find(rf"^\s*{re.escape(rest.split('.')[0])}\s*=", i + 1, end)
                i = j if j is not None else i
        return None if i is None else i + 1

    def _ob_line(self, ob: int, field: str | None) -> int | None:
        if ob >= len(self.blocks):  # obligations written as an inline array: no block to scan
            return None
        start, end = self.blocks[ob]
        key_line = self._find(r"^\s*key\s*=", start, end)
        fallback = key_line if key_line is not None else start
        if not field:
            return fallback + 1
        head, _, rest = field.partition(".")
        first_sub = self._find(r"^\s*\[", start + 1, end) or end
        h = re.escape(head)
        if not rest:
            i = self._find(rf"^\s*{h}\s*=", start, first_sub)
            if i is None:
                i = self._find(rf"^\s*\[\s*obligation\s*\.\s*{h}\s*\]", start, end)
            return (fallback if i is None else i) + 1
        sub = rest.split(".")[0]
        i = self._find(rf"^\s*{h}\s*\.\s*{re.escape(sub)}\s*=", start, first_sub)
        if i is None:
            i = self._find(rf"^\s*{h}\s*=", start, first_sub)  # inline table
        if i is None:
            header = self._find(rf"^\s*\[\s*obligation\s*\.\s*{h}\s*\]", start, end)
            if header is not None:
                table_end = self._find(r"^\s*\[", header + 1, end) or end
                i = self._find(rf"^\s*{re.escape(sub)}\s*=", header + 1, table_end)
                i = header if i is None else i
        return (fallback if i is None else i) + 1

    # -- the pack -----------------------------------------------------------------------------

    def read(self, data: dict[str, Any]) -> Pack | None:
        for k in data:
            if k not in _TOP_FIELDS:
                self.error(_unknown(k, _TOP_FIELDS), k)
        name = self._text(data, "name", required=True)
        if name is not None and not _PACK_NAME.match(name):
            self.error(f"只能由字母、数字、'-' 或 '_' 组成（事项的 key 以它开头），实际为 {name!r}", "name")
            name = None
        title = self._text(data, "title", required=True)
        source = self._text(data, "source")
        description = self._text(data, "description") or ""
        issued = self._issued(data.get("issued"))
        self.documents = self._documents(data.get("documents"))
        reminders = self._table(data, "reminders")
        scorecard = self._table(data, "scorecard")

        raw_obs = data.get("obligation", [])
        if not isinstance(raw_obs, list):
            self.error("必须是表数组（[[obligation]]）", "obligation")
            raw_obs = []
        obligations: list[Obligation] = []
        seen: dict[str, int] = {}
        for i, raw in enumerate(raw_obs):
            ob = self._obligation(i, raw, name, source)
            if ob is None:
                continue
            if ob.key in seen:
                self.error(f"key 重复（本规则包第 {seen[ob.key] + 1} 个事项也用了它）", "key", i, ob.key)
                continue
            seen[ob.key] = i
            obligations.append(ob)
        # Keys declared by obligations that failed to build: anchoring on them is not a new error.
        declared = {r.get("key") for r in raw_obs if isinstance(r, dict) and isinstance(r.get("key"), str)}
        n_before_anchors = len(self.errors)
        self._check_anchors(obligations, seen, name, declared)
        if name is not None and len(obligations) == len(raw_obs) and len(self.errors) == n_before_anchors \
                and not any(e.key is not None for e in self.errors):
            self.complete = (name, scorecard or {}, tuple(obligations))
        cited = {source} | {ob.citation.source for ob in obligations}
        if isinstance(scorecard, dict) and isinstance(scorecard.get("source"), str):
            cited.add(scorecard["source"])
        for doc_source in self.documents:
            if doc_source not in cited and not self.errors:
                self._document_error(f"没有事项引用 {doc_source!r}（它也不是规则包的 source）",
                                     doc_source)

        if self.errors or name is None or title is None:
            return None
        return Pack(
            name=name, title=title, path=self.path, obligations=tuple(obligations),
            scorecard=scorecard or {}, reminders=reminders, source=source, issued=issued,
            description=description, documents=self.documents,
        )  # fmt: skip

    def _text(self, data: Mapping, name: str, required: bool = False, ob: int | None = None,
              key: str | None = None, prefix: str = "") -> str | None:  # fmt: skip
        value = data.get(name)
        if value is None:
            if required:
                self.error("缺少必填字段", prefix + name, ob, key)
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(f"必须是非空字符串，实际为 {value!r}", prefix + name, ob, key)
            return None
        return value

    def _table(self, data: Mapping, name: str, ob: int | None = None, key: str | None = None) -> dict | None:
        value = data.get(name)
        if value is not None and not isinstance(value, dict):
            self.error(f"必须是表（table），实际为 {value!r}", name, ob, key)
            return None
        return value

    def _documents(self, value: Any) -> dict[str, Document]:
        """``[documents."<seed file>"]`` tables: title (required) and number (文号, optional)."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(f'必须由 [documents."<来源文件>"] 表组成，实际为 {value!r}', "documents")
            return {}
        out: dict[str, Document] = {}
        for source, doc in value.items():
            where = f"documents.{source}"
            if not isinstance(doc, dict):
                self._document_error(f"必须是含 title 和 number 的表，实际为 {doc!r}", source)
                continue
            ok = True
            for k in doc:
                if k not in _DOCUMENT_FIELDS:
                    self._document_error(_unknown(k, _DOCUMENT_FIELDS), source, k)
                    ok = False
            title, number = doc.get("title"), doc.get("number")
            for name, text, required in (("title", title, True), ("number", number, False)):
                if text is None and required:
                    self._document_error("缺少必填字段", source, name)
                    ok = False
                elif text is not None and (not isinstance(text, str) or not text.strip()):
                    self._document_error(f"必须是非空字符串，实际为 {text!r}", source, name)
                    ok = False
            if ok:
                out[source] = Document(title.strip(), number.strip() if number else None)
        return out

    def _document_error(self, message: str, source: str, subfield: str | None = None) -> None:
        """An error in ``[documents."<source>"]``, on the line of the field (else the header)."""
        field = f"documents.{source}" + (f".{subfield}" if subfield else "")
        header = self._find(rf"""^\s*\[\s*documents\s*\.\s*["']?{re.escape(source)}["']?\s*\]""", 0, len(self.lines))
        line = None
        if header is not None:
            line = header + 1
            if subfield:
                end = self._find(r"^\s*\[", header + 1, len(self.lines)) or len(self.lines)
                i = self._find(rf"^\s*{re.escape(subfield)}\s*=", header + 1, end)
                line = (i if i is not None else header) + 1
        else:
            line = self._top_line("documents")
        self.errors.append(PackError(self.path, None, field, message, line))

    def _issued(self, value: Any) -> date | None:
        if value is None or isinstance(value, date) and not hasattr(value, "hour"):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.error(f'必须是日期 "YYYY-MM-DD"，实际为 {value!r}', "issued")
        return None

    # -- one obligation -----------------------------------------------------------------------

    def _obligation(self, i: int, raw: Any, pack_name: str | None, pack_source: str | None) -> Obligation | None:
        if not isinstance(raw, dict):
            self.error(f"每个事项都必须是表（table），实际为 {raw!r}", "obligation", i)
            return None
        n_errors = len(self.errors)
        key = raw.get("key") if isinstance(raw.get("key"), str) else None

        def err(message: str, fld: str) -> None:
            self.error(message, fld, i, key)

        for k in raw:
            if k not in _OB_FIELDS:
                err(_unknown(k, _OB_FIELDS), k)
        if key is None:
            err("缺少必填字段" if "key" not in raw else f"必须是字符串，实际为 {raw['key']!r}", "key")
        elif pack_name is not None and (not key.startswith(pack_name + ".") or key == pack_name + "."):
            err(f'必须以规则包名开头："{pack_name}.<条款>"', "key")
        clause = self._text(raw, "clause", True, i, key)
        title = self._text(raw, "title", True, i, key)
        citation = self._citation(raw, i, key, pack_source)
        applies_to = self._choices(raw, "applies_to", UNIT_KINDS, i, key)
        responsible = raw.get("responsible", DEFAULT_RESPONSIBLE)
        if responsible not in ROLES:
            err(f"必须是 {'、'.join(ROLES)} 之一，实际为 {responsible!r}", "responsible")
        evidence = raw.get("evidence", [])
        if not isinstance(evidence, list) or not all(isinstance(e, str) and e.strip() for e in evidence):
            err(f"必须是字符串列表，实际为 {evidence!r}", "evidence")
        times = raw.get("times", 1)
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            err(f"必须是不小于 1 的整数，实际为 {times!r}", "times")
        default_date = raw.get("default", False)
        if not isinstance(default_date, bool):
            err(f"必须是 true 或 false，实际为 {default_date!r}", "default")
        sensitive_only = raw.get("sensitive_only", False)
        if not isinstance(sensitive_only, bool):
            err(f"必须是 true 或 false，实际为 {sensitive_only!r}", "sensitive_only")
        scorecard = self._text(raw, "scorecard", False, i, key)
        anchor = self._text(raw, "anchor", False, i, key)
        notes = self._text(raw, "notes", False, i, key) or ""
        reminders = self._table(raw, "reminders", i, key)
        schedule = self._build(raw, "schedule", "kind", SCHEDULE_KINDS, i, key)
        deadline = self._build(raw, "deadline", "rule", DEADLINE_RULES, i, key)

        if schedule is not None and deadline is not None:
            months = getattr(deadline, "month", None)
            if schedule.months and months is not None and deadline.rule in ("xun", "in_month"):
                if months > schedule.months:
                    within = f"1-{schedule.months}（{schedule.kind} 周期内的第几个月）"
                    err(f"必须是 {within}，实际为 {months}", "deadline.month")
            if deadline.rule == "workdays_before_event" and schedule.kind != "event":
                err(f'workdays_before_event 需要 kind = "event"，实际为 {schedule.kind!r}', "deadline.rule")
            if sensitive_only is True and (schedule.kind != "event" or deadline.rule != "workdays_before_event"):
                err('只用于讲座审批：kind = "event" 且 rule = "workdays_before_event"',
                    "sensitive_only")
        if deadline is not None:
            anchored = deadline.rule in ("before_anchor", "after_anchor")
            if anchored and anchor is None and "anchor" not in raw:
                err(f"{deadline.rule} 需要 anchor = \"<会议所属事项的 key>\"", "anchor")
            elif not anchored and anchor is not None:
                err("anchor 只用于 before_anchor/after_anchor 规则", "anchor")
        if anchor is not None and anchor == key:
            err("事项不能以自身为 anchor", "anchor")

        if len(self.errors) > n_errors:
            return None
        return Obligation(
            key=key, pack=pack_name, clause=clause, title=title, citation=citation,
            applies_to=applies_to, responsible=responsible, schedule=schedule, deadline=deadline,
            times=times, evidence=tuple(evidence), default_date=default_date, scorecard=scorecard,
            anchor=anchor, reminders=reminders, notes=notes, sensitive_only=sensitive_only,
        )  # fmt: skip

    def _citation(self, raw: Mapping, i: int, key: str | None, pack_source: str | None) -> Citation | None:
        c = raw.get("citation")
        if c is None:
            self.error("缺少必填的表 [obligation.citation]", "citation", i, key)
            return None
        if not isinstance(c, dict):
            self.error(f"必须是表（table），实际为 {c!r}", "citation", i, key)
            return None
        for k in c:
            if k not in _CITATION_FIELDS:
                self.error(_unknown(k, _CITATION_FIELDS), f"citation.{k}", i, key)
        clause = self._text(c, "clause", True, i, key, "citation.")
        quote = self._text(c, "quote", True, i, key, "citation.")
        source = self._text(c, "source", False, i, key, "citation.")
        if source is None and "source" not in c:
            source = pack_source
            if source is None:
                self.error("缺少此字段（规则包顶层也没有 source）", "citation.source", i, key)
        if None in (clause, quote, source):
            return None
        return Citation(source=source, clause=clause, quote=quote,
                        document=getattr(self, "documents", {}).get(source))

    def _choices(self, raw: Mapping, name: str, allowed: Sequence[str], i: int,
                 key: str | None) -> tuple[str, ...] | None:  # fmt: skip
        value = raw.get(name)
        if value is None:
            self.error("缺少必填字段", name, i, key)
            return None
        if not isinstance(value, list) or not value:
            self.error(f"必须是非空列表，元素取自 {'、'.join(allowed)}，实际为 {value!r}", name, i, key)
            return None
        bad = [v for v in value if v not in allowed]
        if bad:
            self.error(f"未知单位类型 {bad[0]!r}（可用：{'、'.join(allowed)}）", name, i, key)
            return None
        return tuple(dict.fromkeys(value))

    def _build(self, raw: Mapping, table: str, selector: str, registry: Mapping[str, type], i: int, key: str | None):
        """Build a schedule or deadline rule from its table, reporting fields as ``table.field``."""
        t = raw.get(table)
        if t is None:
            self.error(f"缺少必填的表 [obligation.{table}]", table, i, key)
            return None
        if not isinstance(t, dict):
            self.error(f"必须是表（table），实际为 {t!r}", table, i, key)
            return None
        name = t.get(selector)
        if name is None:
            self.error("缺少必填字段", f"{table}.{selector}", i, key)
            return None
        if name not in registry:
            self.error(f"未知的 {selector} {name!r}（可用：{'、'.join(registry)}）", f"{table}.{selector}", i, key)
            return None
        cls = registry[name]
        fields = {f.name: f for f in dataclasses.fields(cls)}
        ok = True
        for k in t:
            if k != selector and k not in fields:
                allowed = [selector, *fields]
                self.error(_unknown(k, allowed, f"，{selector} {name!r} 不用此字段"), f"{table}.{k}", i, key)
                ok = False
        for f in fields.values():
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in t:
                self.error(f"缺少此字段：{selector} {name!r} 需要它", f"{table}.{f.name}", i, key)
                ok = False
        if not ok:
            return None
        args = {k: tuple(v) if isinstance(v, list) else v for k, v in t.items() if k != selector}
        try:
            return cls(**args)
        except InvalidField as e:
            self.error(e.message, f"{table}.{e.field}", i, key)
            first = e
        # The class stops at its first bad field; look for the others by putting a harmless
        # value in place of each bad one and building again, so every bad field is reported.
        reported = {first.field}
        probe, tried = dict(args), {}
        bad = first.field
        for _ in range(len(fields) * len(_PROBE_VALUES)):
            if not _replace_for_probe(probe, bad, fields, tried.setdefault(bad, [])):
                break
            try:
                cls(**probe)
                break
            except InvalidField as e:
                bad = e.field
                if e.field not in reported:
                    reported.add(e.field)
                    self.error(e.message, f"{table}.{e.field}", i, key)
            except Exception:
                break   # a stand-in the class cannot take: report what was found
        return None

    # -- anchors within the pack --------------------------------------------------------------

    def _check_anchors(self, obligations: list[Obligation], index: Mapping[str, int], pack_name: str | None,
                       declared: set[str]) -> None:  # fmt: skip
        by_key = {ob.key: ob for ob in obligations}
        for ob in obligations:
            if ob.anchor is None or pack_name is None or not ob.anchor.startswith(pack_name + "."):
                continue  # anchors into other packs are checked when packs are loaded together
            target = by_key.get(ob.anchor)
            if target is None and ob.anchor in declared:
                continue  # its own error is already reported
            if target is None:
                self.error(f"规则包 {pack_name} 中没有事项 {ob.anchor!r}", "anchor", index[ob.key], ob.key)
                continue
            problem = _anchor_problem(ob, target)
            if problem:
                self.error(problem, "anchor", index[ob.key], ob.key)


def _anchor_problem(ob: Obligation, target: Obligation) -> str | None:
    if target.schedule.kind != ob.schedule.kind:
        return (f"anchor {target.key} 的周期（schedule）是 {target.schedule.kind!r}，必须与本事项的 "
                f"{ob.schedule.kind!r} 相同（周期一致）")  # fmt: skip
    if target.deadline.needs_anchor:
        return f"anchor {target.key} 本身依赖 anchor 或活动日期；请直接以会议事项为 anchor"
    return None


def _unknown(name: str, allowed: Sequence[str], where: str = "") -> str:
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f"是否想写 {close[0]!r}？" if close else f"可用：{'、'.join(allowed)}"
    return f"未知字段{where}（{hint}）"


# Harmless values tried in place of a bad field while looking for further bad fields.
_PROBE_VALUES: tuple[Any, ...] = (1, "01-01", "early", "autumn", ("autumn",), "none")


def _replace_for_probe(args: dict[str, Any], name: str, fields: Mapping[str, Any], tried: list) -> bool:
    """Give field `name` of `args` its default (drop it), else the next probe value not yet
    `tried`; False when there is nothing left to try."""
    f = fields.get(name)
    if name in args and f is not None and (f.default is not dataclasses.MISSING
                                           or f.default_factory is not dataclasses.MISSING):
        del args[name]
        return True
    for value in _PROBE_VALUES:
        if value not in tried:
            tried.append(value)
            args[name] = value
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Several packs together


def _cross_check(packs: Sequence[Pack], references: Sequence[Pack] = ()) -> list[PackError]:
    """Pack names (hence obligation keys) unique across ``packs``; anchors into other packs
    exist (in ``packs`` or ``references``)."""
    errors: list[PackError] = []
    first: dict[str, Pack] = {}
    for pack in packs:
        # Keys start with their pack's name, so two packs' keys can clash only through a name
        # used twice.
        if pack.name in first:
            other = first[pack.name]
            dupes = sorted({ob.key for ob in pack.obligations} & {ob.key for ob in other.obligations})
            detail = f"；重复的 key：{'、'.join(dupes)}" if dupes else ""
            message = f"规则包 {pack.name!r} 在 {other.path} 中也有定义{detail}"
            errors.append(PackError(pack.path, None, "name", message, _line_of(pack.path, r"^\s*name\s*=")))
        first.setdefault(pack.name, pack)
    all_obs = {ob.key: ob for p in (*references, *packs) for ob in p.obligations}
    for pack in packs:
        for ob in pack.obligations:
            if ob.anchor is None or ob.anchor.startswith(pack.name + "."):
                continue
            target = all_obs.get(ob.anchor)
            if target is None:
                problem = f"未知事项 {ob.anchor!r}（已加载的规则包中都没有）"
            else:
                problem = _anchor_problem(ob, target)
            if problem:
                errors.append(PackError(pack.path, ob.key, "anchor", problem, _key_line(pack.path, ob.key, "anchor")))
    return errors


def _has_foreign_anchor(packs: Sequence[Pack]) -> bool:
    names = {p.name for p in packs}
    return any(ob.anchor and ob.anchor.split(".")[0] not in names for p in packs for ob in p.obligations)


def _line_of(path: Path, pattern: str, start: int = 0) -> int | None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    rx = re.compile(pattern)
    for i in range(start, len(lines)):
        if rx.match(lines[i]):
            return i + 1
    return None


def _key_line(path: Path, key: str, field: str | None = None) -> int | None:
    """Line of ``key = "<key>"``, or of ``field =`` after it when given."""
    line = _line_of(path, rf"""^\s*key\s*=\s*["']{re.escape(key)}["']""")
    if line is not None and field:
        return _line_of(path, rf"^\s*{re.escape(field)}\s*=", line - 1) or line
    return line


def _pack_name_of(path: Path) -> str:
    try:
        name = tomllib.loads(path.read_text(encoding="utf-8")).get("name")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        name = None
    return name if isinstance(name, str) else path.stem


def _bundled_path(name: str) -> Path:
    directory = bundled_pack_dir()
    path = directory / f"{name}.toml"
    if path.is_file():
        return path
    for p in sorted(directory.glob("*.toml")):
        if _pack_name_of(p) == name:
            return p
    known = "、".join(bundled_pack_names()) or "无"
    raise PackError(directory, None, None, f"没有名为 {name!r} 的内置规则包（内置：{known}）")
