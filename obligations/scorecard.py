"""A pack's scorecard (考核评分体系): parts, items and their scoring rules, bonus, negative list.

The scorecard is data in the pack's `[scorecard]` table (schema: docs/scoring.md). This module
reads and validates it into frozen dataclasses; `obligations/scoring.py` applies it. Pure: the
only input is the parsed TOML (and, for error lines, the file's text).

Validation is strict, like the obligation loader's: unknown fields, bad kinds, item points that
do not add up to the part, parts that do not add up to the total, an obligation linked to an
item that does not exist. Every error names the file, the line (best effort), the item and the
field: ``x.toml:812: 评分体系条目 1.2: 字段 rule[1].points: 必须是大于 0 的数，实际为 0``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from obligations.packs import PackError

if TYPE_CHECKING:
    from obligations.packs import Obligation, Pack

# completion: each occurrence of the year earns its share when done (on time or late);
# on_time: ... when done on time, a late one loses `late_deduction` (default: its whole share);
# evidenced: ... when a counting submission carries evidence files;
# records: each counting submission earns per_record (+ per_evidence with files), capped;
# deductions: starts full, findings deduct (floor 0); manual: the assessor's `score set`.
RULE_KINDS = ("completion", "on_time", "evidenced", "records", "deductions", "manual")
AUTOMATIC_KINDS = ("completion", "on_time", "evidenced", "records")
SHARE_KINDS = ("completion", "on_time", "evidenced")  # points shared among the year's occurrences
NOT_APPLICABLE = ("scale", "full")
ASSESSED_KINDS = ("branch", "dept_branch", "office")
EPSILON = 1e-9

_TOP = ("title", "source", "total", "not_applicable", "flag_bottom", "flag_label", "part", "item",
        "bonus", "negative", "ranking")
_PART = ("id", "title", "points")
_ITEM = ("id", "part", "title", "points", "standard", "applies_to", "rule")
_RULE_COMMON = ("kind", "id", "points", "label", "obligations")
_RULE_EXTRA = {
    "completion": (),
    "on_time": ("late_deduction",),
    "evidenced": (),
    "records": ("per_record", "per_evidence"),
    "deductions": ("per_finding", "counted"),
    "manual": (),
}
_BONUS = ("id", "title", "max", "standard")
_NEGATIVE = ("id", "title", "standard")
_RANKING = ("id", "title", "kinds")

DEFAULT_RANKINGS = (
    ("teaching", "教学部门（按系党支部）", ("dept_branch",)),
    ("admin", "行政部门（按处室）", ("office",)),
)


class ScorecardError(PackError):
    """A scorecard that cannot be used; ``str()`` names file, line, item and field."""

    def __init__(self, file: Path | str, item: str | None, field: str | None, message: str,
                 line: int | None = None):
        self.item = item
        super().__init__(file, None, field, message, line)

    def subject(self) -> str:
        return f"评分体系条目 {self.item}" if self.item else "评分体系"


@dataclass(frozen=True)
class Rule:
    id: str                    # unique within the item (default: the kind)
    kind: str                  # one of RULE_KINDS
    points: float              # this rule's share of the item's points
    label: str = ""            # what it checks, in the 考核标准's words ("按时按要求汇报")
    obligations: tuple[str, ...] = ()   # keys it reads (resolved: never empty for automatic kinds)
    late_deduction: float | None = None  # on_time: lost by a late occurrence; None: its whole share
    per_record: float = 1.0    # records: per counting submission
    per_evidence: float = 0.0  # records: more when the submission carries evidence files
    per_finding: float = 1.0   # deductions: default deduction per counted violation
    counted: str = "处"        # deductions: what a finding counts (处, 次, 人)

    @property
    def automatic(self) -> bool:
        return self.kind in AUTOMATIC_KINDS


@dataclass(frozen=True)
class Item:
    id: str                    # "1.2"
    part: str                  # "1"
    title: str                 # 考核要点, short
    points: float
    standard: str              # 考核标准, verbatim
    rules: tuple[Rule, ...]
    applies_to: tuple[str, ...] | None = None   # assessed unit kinds; None: from the obligations
    obligations: tuple[str, ...] = ()           # keys of the pack's obligations linked to it
    obligation_kinds: frozenset[str] = frozenset()  # unit kinds those obligations apply to

    @property
    def deduction_rule(self) -> Rule | None:
        """The rule findings deduct from (at most one per item)."""
        return next((r for r in self.rules if r.kind == "deductions"), None)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


@dataclass(frozen=True)
class Part:
    id: str
    title: str
    points: float
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Bonus:
    id: str
    title: str
    max: float
    standard: str = ""


@dataclass(frozen=True)
class NegativeList:
    id: str
    title: str
    standard: str = ""


@dataclass(frozen=True)
class Ranking:
    id: str
    title: str
    kinds: tuple[str, ...]     # unit kinds ranked together (office, dept_branch, branch)


@dataclass(frozen=True)
class Scorecard:
    pack: str
    title: str
    source: str
    total: float
    parts: tuple[Part, ...]
    bonus: Bonus
    negative: NegativeList
    rankings: tuple[Ranking, ...]
    not_applicable: str = "scale"   # how an item that does not apply to a unit is counted
    flag_bottom: int = 3            # the lowest N of each ranking are flagged
    flag_label: str = "提醒谈话"

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(i for p in self.parts for i in p.items)

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)

    def title_of(self, item_id: str) -> str:
        if item_id == self.bonus.id:
            return self.bonus.title
        if item_id == self.negative.id:
            return self.negative.title
        item = self.item(item_id)
        return item.title if item else item_id

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Every id a ledger entry may carry: the items, the bonus and the negative list."""
        return (*(i.id for i in self.items), self.bonus.id, self.negative.id)


# --------------------------------------------------------------------------- entry points

def scorecard_of(pack: "Pack") -> Scorecard | None:
    """The pack's scorecard, or None when it has no `[scorecard]` table. Raises the first
    ScorecardError (the pack loader keeps `[scorecard]` raw; it is validated here, when a
    command first needs it)."""
    if not pack.scorecard:
        return None
    text = _read_text(pack.path)
    errors = scorecard_errors(pack.scorecard, pack=pack.name, obligations=pack.obligations,
                              path=pack.path, text=text)
    if errors:
        raise errors[0]
    card, _ = read_scorecard(pack.scorecard, pack=pack.name, obligations=pack.obligations,
                             path=pack.path, text=text)
    return card


def read_scorecard(raw: Mapping[str, Any], *, pack: str, obligations: Sequence["Obligation"] = (),
                   path: Path | str = "<scorecard>", text: str | None = None,
                   ) -> tuple[Scorecard | None, list[ScorecardError]]:
    """Validate a raw `[scorecard]` table; every error, and the scorecard when there are none.
    `obligations` are the pack's: their `scorecard = "ID"` links are checked and resolved."""
    reader = _Reader(Path(path), text)
    card = reader.read(raw, pack, obligations)
    return (None if reader.errors else card), reader.errors


def scorecard_errors(raw: Mapping[str, Any], *, pack: str, obligations: Sequence["Obligation"],
                     path: Path | str, text: str | None) -> list[PackError]:
    """Every error of a pack's `[scorecard]` and of its obligations' links to it (for a
    checker that lists every error; `scorecard_of` raises the first)."""
    card, errors = read_scorecard(raw, pack=pack, obligations=obligations, path=path, text=text)
    item_ids: set[str] = set()
    if isinstance(raw, Mapping) and isinstance(raw.get("item"), list):
        item_ids = {i.get("id") for i in raw["item"] if isinstance(i, dict) and isinstance(i.get("id"), str)}
    return [*errors, *_link_errors(obligations, item_ids, Path(path), text)]


def _link_errors(obligations: Sequence["Obligation"], card_items: set[str], path: Path,
                 text: str | None) -> list[PackError]:
    """Obligations whose `scorecard` names no item of the pack's scorecard."""
    errors = []
    lines = (text or "").splitlines()
    for ob in obligations:
        if ob.scorecard is not None and ob.scorecard not in card_items:
            hint = _close(ob.scorecard, sorted(card_items))
            errors.append(PackError(path, ob.key, "scorecard",
                                    f"评分体系中没有条目 {ob.scorecard!r}{hint}",
                                    _key_field_line(lines, ob.key, "scorecard")))
    return errors


# --------------------------------------------------------------------------- the reader

def _read_text(path: Path) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _close(name: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(allowed), n=1)
    return f"（是否想写 {close[0]!r}？）" if close else (f"（可用：{'、'.join(allowed)}）" if allowed else "")


def _key_field_line(lines: list[str], key: str, field: str) -> int | None:
    rx = re.compile(rf"""^\s*key\s*=\s*["']{re.escape(key)}["']""")
    start = next((i for i, ln in enumerate(lines) if rx.match(ln)), None)
    if start is None:
        return None
    fld = re.compile(rf"^\s*{re.escape(field)}\s*=")
    for i in range(start, len(lines)):
        if i > start and re.match(r"^\s*\[\[", lines[i]):
            break
        if fld.match(lines[i]):
            return i + 1
    return start + 1


class _Reader:
    def __init__(self, path: Path, text: str | None):
        self.path = path
        self.lines = (text or "").splitlines()
        self.errors: list[ScorecardError] = []
        start = next((i for i, ln in enumerate(self.lines) if re.match(r"^\s*\[\s*scorecard\s*\]", ln)), 0)
        self.start = start

    # -- lines (best effort: tomllib gives no positions) -----------------------------------

    def _headers(self, table: str) -> list[int]:
        rx = re.compile(rf"^\s*\[\[\s*scorecard\s*\.\s*{re.escape(table)}\s*\]\]")
        return [i for i, ln in enumerate(self.lines) if rx.match(ln)]

    def _block_end(self, start: int) -> int:
        for i in range(start + 1, len(self.lines)):
            if re.match(r"^\s*\[", self.lines[i]) and not re.match(r"^\s*\[\[\s*scorecard\s*\.\s*item\s*\.\s*rule", self.lines[i]):
                return i
        return len(self.lines)

    def _find(self, field: str, start: int, end: int) -> int | None:
        rx = re.compile(rf"^\s*{re.escape(field)}\s*=")
        for i in range(start, min(end, len(self.lines))):
            if rx.match(self.lines[i]):
                return i
        return None

    def _line(self, table: str | None, index: int | None, field: str | None, rule: int | None = None) -> int | None:
        if not self.lines:
            return None
        if table is None:                       # top-level [scorecard] field
            end = next((i for i in range(self.start + 1, len(self.lines))
                        if re.match(r"^\s*\[", self.lines[i])), len(self.lines))
            i = self._find(field, self.start, end) if field else None
            return (self.start if i is None else i) + 1
        headers = self._headers(table)
        if index is None or index >= len(headers):
            if table in ("bonus", "negative"):
                rx = re.compile(rf"^\s*\[\s*scorecard\s*\.\s*{table}\s*\]")
                h = next((i for i, ln in enumerate(self.lines) if rx.match(ln)), None)
                if h is None:
                    return self.start + 1
                end = next((i for i in range(h + 1, len(self.lines)) if re.match(r"^\s*\[", self.lines[i])), len(self.lines))
                i = self._find(field, h, end) if field else None
                return (h if i is None else i) + 1
            return self.start + 1
        start = headers[index]
        end = self._block_end(start)
        if rule is not None:
            rx = re.compile(r"^\s*\[\[\s*scorecard\s*\.\s*item\s*\.\s*rule\s*\]\]")
            rules = [i for i in range(start, end) if rx.match(self.lines[i])]
            if rule < len(rules):
                r_start = rules[rule]
                r_end = rules[rule + 1] if rule + 1 < len(rules) else end
                i = self._find(field, r_start, r_end) if field else None
                return (r_start if i is None else i) + 1
        first_rule = next((i for i in range(start + 1, end) if re.match(r"^\s*\[", self.lines[i])), end)
        i = self._find(field, start, first_rule) if field else None
        return (start if i is None else i) + 1

    def error(self, message: str, field: str | None = None, *, item: str | None = None,
              table: str | None = None, index: int | None = None, rule: int | None = None) -> None:
        name = re.sub(r"\[\d+\]", "", field).split(".")[-1] if field else None
        line = self._line(table, index, name, rule)
        self.errors.append(ScorecardError(self.path, item, field, message, line))

    # -- fields ------------------------------------------------------------------------------

    def _unknown(self, raw: Mapping, allowed: Sequence[str], prefix: str = "", **where) -> None:
        for k in raw:
            if k not in allowed:
                close = difflib.get_close_matches(k, list(allowed), n=1)
                hint = f"是否想写 {close[0]!r}？" if close else f"可用：{'、'.join(allowed)}"
                self.error(f"未知字段（{hint}）", prefix + k, **where)

    def _text(self, raw: Mapping, name: str, required: bool, prefix: str = "", **where) -> str | None:
        v = raw.get(name)
        if v is None:
            if required:
                self.error("缺少必填字段", prefix + name, **where)
            return None
        if not isinstance(v, str) or not v.strip():
            self.error(f"必须是非空字符串，实际为 {v!r}", prefix + name, **where)
            return None
        return v.strip()

    def _number(self, raw: Mapping, name: str, *, required: bool, default: float | None = None,
                minimum: float = 0.0, strict: bool = True, prefix: str = "", **where) -> float | None:
        v = raw.get(name)
        if v is None:
            if required:
                self.error("缺少必填字段", prefix + name, **where)
            return default
        bad = not _is_number(v) or (v <= minimum if strict else v < minimum)
        if bad:
            rel = "大于" if strict else "不小于"
            self.error(f"必须是{rel} {minimum:g} 的数，实际为 {v!r}", prefix + name, **where)
            return default
        return float(v)

    def _table_list(self, raw: Mapping, name: str, header: str) -> list:
        v = raw.get(name, [])
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            self.error(f"必须是表数组（[[{header}]]）", name)
            return []
        return v

    # -- the scorecard -------------------------------------------------------------------------

    def read(self, raw: Mapping[str, Any], pack: str, obligations: Sequence["Obligation"]) -> Scorecard | None:
        if not isinstance(raw, Mapping):
            self.error(f"必须是表（table），实际为 {raw!r}")
            return None
        self._unknown(raw, _TOP)
        title = self._text(raw, "title", True) or ""
        source = self._text(raw, "source", False) or ""
        total = self._number(raw, "total", required=False, default=100.0)
        not_applicable = raw.get("not_applicable", "scale")
        if not_applicable not in NOT_APPLICABLE:
            self.error(f"必须是 {'、'.join(NOT_APPLICABLE)} 之一，实际为 {not_applicable!r}", "not_applicable")
        flag_bottom = raw.get("flag_bottom", 3)
        if not isinstance(flag_bottom, int) or isinstance(flag_bottom, bool) or flag_bottom < 0:
            self.error(f"必须是不小于 0 的整数，实际为 {flag_bottom!r}", "flag_bottom")
            flag_bottom = 3
        flag_label = self._text(raw, "flag_label", False) or "提醒谈话"

        linked: dict[str, list["Obligation"]] = {}
        for ob in obligations:
            if ob.scorecard is not None:
                linked.setdefault(ob.scorecard, []).append(ob)
        ob_keys = {ob.key for ob in obligations}

        raw_parts = self._table_list(raw, "part", "scorecard.part")
        parts_meta: list[tuple[str, str, float]] = []
        for n, p in enumerate(raw_parts):
            where = {"table": "part", "index": n}
            self._unknown(p, _PART, **where)
            pid = p.get("id")
            if not isinstance(pid, str) or not pid.strip():
                self.error(f"必须是非空字符串，实际为 {pid!r}", f"part[{n + 1}].id", **where)
                continue
            if pid in {m[0] for m in parts_meta}:
                self.error(f"部分（part）id {pid!r} 重复", f"part[{n + 1}].id", **where)
                continue
            ptitle = self._text(p, "title", True, f"part[{n + 1}].", **where) or ""
            ppoints = self._number(p, "points", required=True, prefix=f"part[{n + 1}].", **where)
            parts_meta.append((pid, ptitle, ppoints or 0.0))
        if not raw_parts:
            self.error("缺少此项：评分体系至少需要一个 [[scorecard.part]]", "part")

        items: list[Item] = []
        for n, it in enumerate(self._table_list(raw, "item", "scorecard.item")):
            item = self._item(n, it, {m[0] for m in parts_meta}, linked, ob_keys)
            if item is None:
                continue
            if item.id in {i.id for i in items}:
                self.error(f"条目 id {item.id!r} 重复", "id", item=item.id, table="item", index=n)
                continue
            items.append(item)

        bonus = self._bonus(raw.get("bonus"))
        negative = self._negative(raw.get("negative"))
        rankings = self._rankings(raw)
        special = {x.id for x in (bonus, negative) if x is not None}
        for n, item in enumerate(items):
            if item.id in special:
                self.error("此 id 已被加分项（bonus）或负面清单（negative）使用", "id", item=item.id, table="item", index=n)
        if bonus is not None and negative is not None and bonus.id == negative.id:
            self.error(f"加分项（bonus）与负面清单（negative）的 id 相同：{bonus.id!r}", "negative.id", table="negative")

        # Totals: items add up to their part, parts to the total.
        parts: list[Part] = []
        for pid, ptitle, ppoints in parts_meta:
            members = tuple(i for i in items if i.part == pid)
            got = sum(i.points for i in members)
            if not members:
                self.error(f"部分 {pid} 没有任何条目", "part", table="part",
                           index=[m[0] for m in parts_meta].index(pid))
            elif abs(got - ppoints) > EPSILON:
                listing = " + ".join(f"{i.id} {i.points:g}" for i in members)
                self.error(f"部分 {pid} 各条目合计 {got:g} 分（{listing}），不等于该部分的 {ppoints:g} 分",
                           "points", table="part", index=[m[0] for m in parts_meta].index(pid))
            parts.append(Part(pid, ptitle, ppoints, members))
        part_sum = sum(p[2] for p in parts_meta)
        if parts_meta and total is not None and abs(part_sum - total) > EPSILON:
            listing = " + ".join(f"{p[1] or p[0]} {p[2]:g}" for p in parts_meta)
            self.error(f"各部分合计 {part_sum:g} 分（{listing}），不等于总分 {total:g}", "total")

        if self.errors or bonus is None or negative is None:
            return None
        return Scorecard(pack=pack, title=title, source=source, total=total, parts=tuple(parts),
                         bonus=bonus, negative=negative, rankings=rankings,
                         not_applicable=not_applicable, flag_bottom=flag_bottom, flag_label=flag_label)

    def _item(self, n: int, raw: Mapping, part_ids: set[str], linked: Mapping[str, list["Obligation"]],
              ob_keys: set[str]) -> Item | None:
        before = len(self.errors)
        iid = raw.get("id")
        if not isinstance(iid, str) or not iid.strip():
            self.error(f"必须是非空字符串，实际为 {iid!r}", "id", table="item", index=n)
            return None
        where = {"item": iid, "table": "item", "index": n}
        self._unknown(raw, _ITEM, **where)
        part = raw.get("part", iid.split(".")[0])
        if not isinstance(part, str) or part not in part_ids:
            self.error(f"未知部分 {part!r}{_close(str(part), sorted(part_ids))}", "part", **where)
        title = self._text(raw, "title", True, **where) or ""
        points = self._number(raw, "points", required=True, **where)
        standard = self._text(raw, "standard", True, **where) or ""
        applies_to = raw.get("applies_to")
        if applies_to is not None:
            if (not isinstance(applies_to, list) or not applies_to
                    or any(k not in ASSESSED_KINDS for k in applies_to)):
                self.error(f"必须是非空列表，元素取自 {'、'.join(ASSESSED_KINDS)}，实际为 {applies_to!r}",
                           "applies_to", **where)
                applies_to = None
            else:
                applies_to = tuple(dict.fromkeys(applies_to))
        obs = linked.get(iid, [])
        item_keys = tuple(ob.key for ob in obs)
        rules: list[Rule] = []
        raw_rules = raw.get("rule")
        if raw_rules is None:
            self.error("缺少此项：每个条目至少需要一个 [[scorecard.item.rule]]", "rule", **where)
            raw_rules = []
        elif not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
            self.error("必须是表数组（[[scorecard.item.rule]]）", "rule", **where)
            raw_rules = []
        for k, rr in enumerate(raw_rules):
            rule = self._rule(k, rr, iid, n, item_keys, ob_keys)
            if rule is None:
                continue
            if rule.id in {r.id for r in rules}:
                self.error(f"规则 id {rule.id!r} 重复（同一 kind 的多条规则请各写一个 id）",
                           f"rule[{k + 1}].id", item=iid, table="item", index=n, rule=k)
                continue
            rules.append(rule)
        if sum(1 for r in rules if r.kind == "deductions") > 1:
            self.error("每个条目最多一条 deductions 规则（问题在这条规则中扣分）", "rule", **where)
        if points is not None and rules and len(rules) == len(raw_rules):
            got = sum(r.points for r in rules)
            if abs(got - points) > EPSILON:
                listing = " + ".join(f"{r.id} {r.points:g}" for r in rules)
                self.error(f"各规则合计 {got:g} 分（{listing}），不等于条目的 {points:g} 分", "points", **where)
        if len(self.errors) > before:
            return None
        kinds = frozenset(k for ob in obs for k in ob.applies_to if k in ASSESSED_KINDS)
        return Item(id=iid, part=part, title=title, points=points, standard=standard, rules=tuple(rules),
                    applies_to=applies_to, obligations=item_keys, obligation_kinds=kinds)

    def _rule(self, k: int, raw: Mapping, iid: str, n: int, item_keys: tuple[str, ...],
              ob_keys: set[str]) -> Rule | None:
        before = len(self.errors)
        prefix = f"rule[{k + 1}]."
        where = {"item": iid, "table": "item", "index": n, "rule": k}
        kind = raw.get("kind")
        if kind not in RULE_KINDS:
            msg = "缺少必填字段" if kind is None else \
                f"未知 kind {kind!r}{_close(str(kind), RULE_KINDS)}"
            self.error(msg, prefix + "kind", **where)
            return None
        self._unknown(raw, _RULE_COMMON + _RULE_EXTRA[kind], prefix, **where)
        rid = raw.get("id", kind)
        if not isinstance(rid, str) or not re.match(r"^[A-Za-z0-9_-]+$", rid):
            self.error(f"只能由字母、数字、'-' 或 '_' 组成，实际为 {rid!r}", prefix + "id", **where)
        points = self._number(raw, "points", required=True, prefix=prefix, **where)
        label = self._text(raw, "label", False, prefix, **where) or ""
        keys = raw.get("obligations", [])
        if not isinstance(keys, list) or not all(isinstance(x, str) for x in keys):
            self.error(f"必须是事项 key 的列表，实际为 {keys!r}", prefix + "obligations", **where)
            keys = []
        for key in keys:
            if key not in ob_keys:
                self.error(f"本规则包中没有事项 {key!r}", prefix + "obligations", **where)
            elif key not in item_keys:
                self.error(f"事项 {key!r} 没有关联到条目 {iid}（看它的 scorecard 字段）",
                           prefix + "obligations", **where)
        if kind in AUTOMATIC_KINDS and not keys and not item_keys:
            self.error(f"{kind} 规则读取被跟踪的事项，但本规则包没有事项写了 "
                       f'scorecard = "{iid}"', prefix + "kind", **where)
        args: dict[str, Any] = {}
        if kind == "on_time" and "late_deduction" in raw:
            args["late_deduction"] = self._number(raw, "late_deduction", required=False, strict=False,
                                                  prefix=prefix, **where)
        if kind == "records":
            args["per_record"] = self._number(raw, "per_record", required=False, default=1.0, strict=False,
                                              prefix=prefix, **where)
            args["per_evidence"] = self._number(raw, "per_evidence", required=False, default=0.0, strict=False,
                                                prefix=prefix, **where)
            if (args["per_record"] or 0) + (args["per_evidence"] or 0) <= 0:
                self.error("per_record 或 per_evidence 必须大于 0", prefix + "per_record", **where)
        if kind == "deductions":
            args["per_finding"] = self._number(raw, "per_finding", required=False, default=1.0,
                                               prefix=prefix, **where)
            args["counted"] = self._text(raw, "counted", False, prefix, **where) or "处"
        if len(self.errors) > before:
            return None
        return Rule(id=rid, kind=kind, points=points, label=label,
                    obligations=tuple(keys) or (item_keys if kind in AUTOMATIC_KINDS else ()), **args)

    def _bonus(self, raw: Any) -> Bonus | None:
        if not isinstance(raw, dict):
            self.error("缺少必填的表 [scorecard.bonus]" if raw is None else "必须是表（table）", "bonus")
            return None
        where = {"table": "bonus"}
        self._unknown(raw, _BONUS, "bonus.", **where)
        bid = self._text(raw, "id", True, "bonus.", **where)
        title = self._text(raw, "title", True, "bonus.", **where)
        mx = self._number(raw, "max", required=True, prefix="bonus.", **where)
        standard = self._text(raw, "standard", False, "bonus.", **where) or ""
        if None in (bid, title, mx):
            return None
        return Bonus(bid, title, mx, standard)

    def _negative(self, raw: Any) -> NegativeList | None:
        if not isinstance(raw, dict):
            self.error("缺少必填的表 [scorecard.negative]" if raw is None else "必须是表（table）",
                       "negative")
            return None
        where = {"table": "negative"}
        self._unknown(raw, _NEGATIVE, "negative.", **where)
        nid = self._text(raw, "id", True, "negative.", **where)
        title = self._text(raw, "title", True, "negative.", **where)
        standard = self._text(raw, "standard", False, "negative.", **where) or ""
        if None in (nid, title):
            return None
        return NegativeList(nid, title, standard)

    def _rankings(self, raw: Mapping) -> tuple[Ranking, ...]:
        if "ranking" not in raw:
            return tuple(Ranking(i, t, k) for i, t, k in DEFAULT_RANKINGS)
        out: list[Ranking] = []
        seen_kinds: set[str] = set()
        for n, r in enumerate(self._table_list(raw, "ranking", "scorecard.ranking")):
            where = {"table": "ranking", "index": n}
            self._unknown(r, _RANKING, f"ranking[{n + 1}].", **where)
            rid = self._text(r, "id", True, f"ranking[{n + 1}].", **where)
            title = self._text(r, "title", True, f"ranking[{n + 1}].", **where)
            kinds = r.get("kinds")
            if not isinstance(kinds, list) or not kinds or any(k not in ASSESSED_KINDS for k in kinds):
                self.error(f"必须是非空列表，元素取自 {'、'.join(ASSESSED_KINDS)}，实际为 {kinds!r}",
                           f"ranking[{n + 1}].kinds", **where)
                continue
            if seen_kinds & set(kinds):
                self.error(f"单位类型 {sorted(seen_kinds & set(kinds))[0]!r} 出现在两个排名中",
                           f"ranking[{n + 1}].kinds", **where)
                continue
            seen_kinds |= set(kinds)
            if rid and title:
                out.append(Ranking(rid, title, tuple(kinds)))
        return tuple(out)
