"""Scoring under a scorecard (pure): what the tracked record is worth, and the year's results.

Two halves, both pure (no database, no clock):

- `automatic_postings(card, occurrences, submissions)`: from tracked facts (the year's
  occurrences with their status, the submissions that count) to the value each automatic ledger
  slot should hold. The ledger (`scheduler/ledger.py`) posts the slots whose value changed as
  new rows, so every score change is a ledger entry.
- `score_year(card, year, units, entries)`: from the ledger entries to item scores, part
  totals, the bonus and the negative list, the average of a branch made of several offices,
  the rankings and the bottom-N flag (提醒谈话).

The rules (docs/scoring.md is the long version):

- A ledger slot is one thing an item is scored on: an occurrence under a rule, a counted
  submission, the assessor's manual score, one finding. The latest entry of a slot is in force.
- An item's score: the assessor's manual score if one is in force, else the sum of its rules
  (share rules at most their points, records capped, deductions start full); findings deduct
  from the item's deductions rule (down to 0) or else from the item (down to 0). Findings
  recorded before the manual score was set are part of it; later ones deduct from it.
- An office whose parent is a branch takes its branch's entries as its own (the branch does
  the branch-level obligations for its offices); a branch with member offices scores the
  average of their totals.
- An item applies to a unit when the obligations linked to it apply to the unit or its branch
  (or when its `applies_to` names the unit's kind). Items that do not apply are left out and
  the subtotal is scaled to the card's total (`not_applicable = "scale"`) or counted full.
- Totals are rounded half-up to 0.01; rankings are standard competition rankings (1, 2, 2, 4) by
  total, ties listed by unit code; every unit whose total is at or below the N-th lowest is
  flagged (ties with the N-th lowest are all flagged).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from obligations.scorecard import SHARE_KINDS, Item, Part, Rule, Scorecard

PRECISION = 4           # decimals kept in ledger points (shares such as 5/3)

# Ledger entry kinds.
AUTO, MANUAL, UNSET, FINDING = "auto", "manual", "unset", "finding"
MANUAL_SLOT = "manual"


def finding_slot(root_finding_id: int) -> str:
    return f"finding:{root_finding_id}"


def round2(x: float) -> float:
    """Half-up to 0.01 on the decimal value (27.395 -> 27.4), as a clerk rounds by hand."""
    return float(Decimal(repr(x)).quantize(Decimal("0.01"), ROUND_HALF_UP))


def fmt_points(x: float) -> str:
    """1.5 -> "1.5", 2.0 -> "2", 5/3 -> "1.67"."""
    text = f"{round2(x):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# --------------------------------------------------------------------------- facts

@dataclass(frozen=True)
class OccurrenceFact:
    """One occurrence of an obligation linked to the scorecard, in the assessed year."""
    id: int
    unit: str
    obligation: str
    period: str
    due: date
    state: str                    # obligations.occurrences.Status.state on the posting day
    completed_at: datetime | None
    evidence_files: int = 0       # evidence files on its counting submissions


@dataclass(frozen=True)
class SubmissionFact:
    """A submission that counts (not withdrawn, not corrected) on one of those occurrences."""
    id: int
    occurrence_id: int
    unit: str
    obligation: str
    period: str
    submitted_at: datetime
    evidence_files: int = 0


@dataclass(frozen=True)
class Posting:
    """The value an automatic ledger slot should hold."""
    unit: str
    item: str
    rule: str
    slot: str
    points: float
    reason: str
    source_kind: str              # occurrence | submission
    source_id: int
    settled: bool = True          # False: still open; post only to undo an earlier value


def automatic_postings(card: Scorecard, occurrences: Iterable[OccurrenceFact],
                       submissions: Iterable[SubmissionFact],
                       titles: Mapping[str, str] | None = None) -> list[Posting]:
    """The value of every automatic slot, from the facts of one assessed year.

    Share rules (completion, on_time, evidenced) divide their points equally among a unit's
    occurrences of the rule's obligations in the year: one slot per occurrence. Records rules
    give one slot per counting submission (the cap is applied when scoring). `titles` (key ->
    title) names the obligation in a reason when a rule reads several."""
    occurrences = list(occurrences)
    submissions = list(submissions)
    titles = titles or {}
    out: list[Posting] = []
    for item in card.items:
        for rule in item.rules:
            keys = set(rule.obligations)
            # Several rules read the same occurrences (1.5): say which one a reason is for.
            prefix = f"{rule.label or rule.id}｜" if len(item.rules) > 1 else ""
            if rule.kind in SHARE_KINDS:
                by_unit: dict[str, list[OccurrenceFact]] = defaultdict(list)
                for o in occurrences:
                    if o.obligation in keys:
                        by_unit[o.unit].append(o)
                for unit, occs in by_unit.items():
                    share = rule.points / len(occs)
                    for o in sorted(occs, key=lambda o: (o.due, o.obligation, o.period, o.id)):
                        points, outcome, settled = _share_value(rule, o, share)
                        name = f"{o.period} {titles.get(o.obligation, o.obligation)}" if len(keys) > 1 else o.period
                        out.append(Posting(unit, item.id, rule.id, f"{rule.id}:occurrence:{o.id}",
                                           round(points, PRECISION), f"{prefix}{name}：{outcome}",
                                           "occurrence", o.id, settled))
            elif rule.kind == "records":
                for s in sorted((s for s in submissions if s.obligation in keys),
                                key=lambda s: (s.submitted_at, s.id)):
                    points, outcome = _record_value(rule, s)
                    what = f"{titles.get(s.obligation, s.obligation)} " if len(keys) > 1 else ""
                    reason = f"{prefix}{what}{s.period} 提交记录 {s.id}（{s.submitted_at:%Y-%m-%d}）：{outcome}"
                    out.append(Posting(s.unit, item.id, rule.id, f"{rule.id}:submission:{s.id}",
                                       round(points, PRECISION), reason, "submission", s.id))
    return out


def _share_value(rule: Rule, o: OccurrenceFact, share: float) -> tuple[float, str, bool]:
    due = o.due.isoformat()
    done_on = o.completed_at.strftime("%Y-%m-%d") if o.completed_at else ""
    worth = f"得{fmt_points(share)}分"
    if o.state == "waived":
        return share, f"已豁免，按完成计，{worth}", True
    if rule.kind == "evidenced":
        if o.evidence_files > 0:
            return share, f"有证明材料（{o.evidence_files}个文件），{worth}", True
        if o.state in ("done", "late"):
            return 0.0, "已完成但无证明材料，不得分", True
        if o.state == "overdue":
            return 0.0, f"未完成（截止 {due}），不得分", True
        return 0.0, f"未完成（截止 {due}）", False
    if o.state == "done":
        word = "按时完成" if rule.kind == "on_time" else "已完成"
        return share, f"{word}（截止 {due}，完成 {done_on}），{worth}", True
    if o.state == "late":
        if rule.kind == "completion":
            return share, f"已完成（逾期，截止 {due}，完成 {done_on}），{worth}", True
        lost = share if rule.late_deduction is None else min(rule.late_deduction, share)
        if lost >= share:
            return 0.0, f"逾期完成（截止 {due}，完成 {done_on}），不得分", True
        return share - lost, (f"迟报（截止 {due}，完成 {done_on}），扣{fmt_points(lost)}分，"
                              f"得{fmt_points(share - lost)}分"), True
    if o.state == "overdue":
        word = "未报" if rule.kind == "on_time" else "未完成"
        return 0.0, f"{word}（截止 {due}），不得分", True
    return 0.0, f"未到期（截止 {due}）", False


def _record_value(rule: Rule, s: SubmissionFact) -> tuple[float, str]:
    parts = []
    points = rule.per_record
    if rule.per_record:
        parts.append(f"记录{fmt_points(rule.per_record)}分")
    if rule.per_evidence:
        if s.evidence_files > 0:
            points += rule.per_evidence
            parts.append(f"证明材料{fmt_points(rule.per_evidence)}分")
        else:
            parts.append("无证明材料")
    return points, ("＋".join(parts) or "不计分") + f"，计{fmt_points(points)}分"


# --------------------------------------------------------------------------- the ledger, as scoring sees it

@dataclass(frozen=True)
class Entry:
    """A ledger row (scheduler.models.ScoreEntry) as the pure core sees it."""
    id: int
    unit: str
    item: str
    slot: str
    points: float
    reason: str
    kind: str = AUTO              # auto | manual | unset | finding
    rule: str = ""
    recorded_at: datetime | None = None
    recorded_by: str = ""
    source_kind: str = ""
    source_id: int | None = None


def in_force(entries: Iterable[Entry]) -> dict[tuple[str, str, str], Entry]:
    """(unit, item, slot) -> its latest entry (highest id): corrections are later rows."""
    latest: dict[tuple[str, str, str], Entry] = {}
    for e in entries:
        k = (e.unit, e.item, e.slot)
        if k not in latest or e.id > latest[k].id:
            latest[k] = e
    return latest


# --------------------------------------------------------------------------- results

@dataclass(frozen=True)
class UnitRef:
    code: str
    name: str
    kind: str                     # committee | branch | dept_branch | office
    parent: str | None = None


@dataclass(frozen=True)
class Line:
    """One ledger entry as it counts in an item's score (the reasons shown to leaders)."""
    entry_id: int
    unit: str
    rule: str
    kind: str
    points: float
    reason: str
    counted: bool = True
    note: str = ""                # why it does not count, or how it was capped


@dataclass(frozen=True)
class ItemScore:
    item: Item
    applicable: bool
    score: float                  # 0 when not applicable (see UnitScore.converted)
    manual: bool = False          # the assessor's manual score is in force
    pending: bool = False         # a manual rule still waiting for the assessor
    lines: tuple[Line, ...] = ()
    notes: tuple[str, ...] = ()   # caps, floors, "不适用"

    @property
    def max(self) -> float:
        return self.item.points


@dataclass(frozen=True)
class PartScore:
    part: Part
    score: float
    max: float                    # points of its items that apply


@dataclass(frozen=True)
class UnitScore:
    unit: UnitRef
    items: tuple[ItemScore, ...] = ()
    parts: tuple[PartScore, ...] = ()
    subtotal: float = 0.0         # parts 1..n, items that apply
    applicable_max: float = 0.0
    converted: float = 0.0        # subtotal on the card's scale (not_applicable rule), 0.01
    bonus: float = 0.0
    bonus_lines: tuple[Line, ...] = ()
    negative: float = 0.0         # <= 0
    negative_lines: tuple[Line, ...] = ()
    total: float = 0.0            # converted + bonus + negative, at least 0, 0.01
    members: tuple[str, ...] = ()  # a branch of several offices: the offices averaged
    ranking: str | None = None
    rank: int | None = None
    flagged: bool = False

    @property
    def averaged(self) -> bool:
        return bool(self.members)

    def item(self, item_id: str) -> ItemScore | None:
        return next((i for i in self.items if i.item.id == item_id), None)


@dataclass(frozen=True)
class RankRow:
    unit: str
    name: str
    total: float
    rank: int
    flagged: bool


@dataclass(frozen=True)
class RankingResult:
    id: str
    title: str
    rows: tuple[RankRow, ...]


@dataclass(frozen=True)
class ScoreReport:
    card: Scorecard
    year: int
    units: tuple[UnitScore, ...]          # ranked units first (by ranking, rank), then branches
    rankings: tuple[RankingResult, ...]
    _by_code: Mapping[str, UnitScore] = field(default_factory=dict, repr=False, compare=False)
    # Nothing was recorded for the year (no ledger entry at all: no occurrence due yet, no
    # finding, no manual score): there is nothing to score, so nobody is ranked or flagged.
    empty: bool = False

    def unit(self, code: str) -> UnitScore | None:
        return self._by_code.get(code)


# --------------------------------------------------------------------------- scoring

def score_year(card: Scorecard, year: int, units: Sequence[UnitRef], entries: Iterable[Entry]) -> ScoreReport:
    """Score every assessed unit of `units` for `year` from the ledger `entries` of that year
    (all of them, history included: only the latest entry of each slot counts)."""
    entries = list(entries)
    by_code = {u.code: u for u in units}
    forces = in_force(entries)
    first_id: dict[tuple[str, str, str], int] = {}
    for e in entries:
        k = (e.unit, e.item, e.slot)
        first_id[k] = min(first_id.get(k, e.id), e.id)
    per_unit: dict[str, list[Entry]] = defaultdict(list)
    for e in forces.values():
        per_unit[e.unit].append(e)

    members: dict[str, list[UnitRef]] = defaultdict(list)
    for u in units:
        if u.kind == "office" and u.parent and by_code.get(u.parent) and by_code[u.parent].kind == "branch":
            members[u.parent].append(u)

    scored: dict[str, UnitScore] = {}
    for u in sorted(units, key=lambda u: u.code):
        if u.kind in ("office", "dept_branch") or (u.kind == "branch" and not members.get(u.code)):
            scope = scope_of(u, by_code)
            scored[u.code] = _score_unit(card, u, scope, per_unit, first_id)
    for code, offices in members.items():
        branch = by_code[code]
        totals = [scored[o.code].total for o in offices if o.code in scored]
        avg = round2(sum(totals) / len(totals)) if totals else 0.0
        scored[code] = UnitScore(unit=branch, total=avg, converted=avg,
                                 members=tuple(sorted(o.code for o in offices)))

    if not entries:
        # Deductions items start full, so every unit would tie at the same total and all be
        # flagged for the 提醒谈话: an untracked year has nothing to rank (issue 7).
        out_units = tuple(scored[c] for c in sorted(scored))
        return ScoreReport(card, year, out_units, tuple(RankingResult(r.id, r.title, ()) for r in card.rankings),
                           {s.unit.code: s for s in out_units}, empty=True)
    results: list[RankingResult] = []
    placed: dict[str, tuple[str, int, bool]] = {}
    for r in card.rankings:
        pool = [scored[c] for c in sorted(scored) if scored[c].unit.kind in r.kinds]
        rows = rank([(s.unit.code, s.unit.name, s.total) for s in pool], card.flag_bottom)
        results.append(RankingResult(r.id, r.title, rows))
        for row in rows:
            placed[row.unit] = (r.id, row.rank, row.flagged)
    out: list[UnitScore] = []
    for r in results:
        for row in r.rows:
            s = scored[row.unit]
            out.append(_with_rank(s, *placed[row.unit]))
    for code in sorted(scored):
        if code not in placed:
            out.append(scored[code])
    return ScoreReport(card, year, tuple(out), tuple(results), {s.unit.code: s for s in out})


def _with_rank(s: UnitScore, ranking: str, rank_: int, flagged: bool) -> UnitScore:
    return replace(s, ranking=ranking, rank=rank_, flagged=flagged)


def rank(rows: Sequence[tuple[str, str, float]], flag_bottom: int) -> tuple[RankRow, ...]:
    """Standard competition ranking (1, 2, 2, 4) on totals rounded to 0.01, ties listed by unit
    code. Flagged: every unit at or below the `flag_bottom`-th lowest total (all tied with it are
    flagged; with `flag_bottom` or fewer units, all of them)."""
    ordered = sorted(((code, name, round2(total)) for code, name, total in rows),
                     key=lambda r: (-r[2], r[0]))
    if not ordered:
        return ()
    threshold = None
    if flag_bottom > 0:
        ascending = sorted(r[2] for r in ordered)
        threshold = ascending[min(flag_bottom, len(ascending)) - 1]
    out: list[RankRow] = []
    for i, (code, name, total) in enumerate(ordered):
        position = i + 1 if i == 0 or total != ordered[i - 1][2] else out[-1].rank
        out.append(RankRow(code, name, total, position, threshold is not None and total <= threshold))
    return tuple(out)


def scope_of(u: UnitRef, by_code: Mapping[str, UnitRef]) -> tuple[UnitRef, ...]:
    """The unit and, for an office of a branch, that branch (whose entries are the office's too)."""
    parent = by_code.get(u.parent) if u.parent else None
    if u.kind == "office" and parent is not None and parent.kind == "branch":
        return (u, parent)
    return (u,)


def applies(item: Item, unit: UnitRef, scope: Sequence[UnitRef]) -> bool:
    if item.applies_to is not None:
        return unit.kind in item.applies_to
    if item.obligation_kinds:
        return any(s.kind in item.obligation_kinds for s in scope)
    return True


def _line(e: Entry, counted: bool = True, note: str = "") -> Line:
    return Line(e.id, e.unit, e.rule, e.kind, e.points, e.reason, counted, note)


def _manual_for(item_id: str, scope: Sequence[UnitRef], per_unit: Mapping[str, list[Entry]]) -> Entry | None:
    """The manual score in force for the item: the unit's own, else its branch's."""
    for s in scope:
        for e in per_unit.get(s.code, ()):
            if e.item == item_id and e.slot == MANUAL_SLOT:
                if e.kind == MANUAL:
                    return e
                break           # unset: this unit has none; look at the next in scope
    return None


def _score_unit(card: Scorecard, unit: UnitRef, scope: Sequence[UnitRef],
                per_unit: Mapping[str, list[Entry]], first_id: Mapping[tuple[str, str, str], int]) -> UnitScore:
    mine = [e for s in scope for e in per_unit.get(s.code, ())]
    by_item: dict[str, list[Entry]] = defaultdict(list)
    for e in mine:
        by_item[e.item].append(e)

    items: list[ItemScore] = []
    for item in card.items:
        es = sorted(by_item.get(item.id, ()), key=lambda e: e.id)
        if not applies(item, unit, scope):
            lines = tuple(_line(e, False, "不适用") for e in es)
            items.append(ItemScore(item, False, 0.0, lines=lines, notes=("不适用",)))
            continue
        items.append(_score_item(item, es, _manual_for(item.id, scope, per_unit), first_id))

    parts = []
    for part in card.parts:
        scores = [i for i in items if i.item.part == part.id]
        parts.append(PartScore(part, sum(i.score for i in scores if i.applicable),
                               sum(i.max for i in scores if i.applicable)))
    subtotal = sum(p.score for p in parts)
    applicable_max = sum(p.max for p in parts)
    if card.not_applicable == "full":
        converted = subtotal + (card.total - applicable_max)
    else:
        converted = subtotal * card.total / applicable_max if applicable_max > 0 else 0.0
    converted = round2(converted)

    bonus_lines: list[Line] = []
    bonus_sum = 0.0
    for s in scope:                     # the unit's own bonus and its branch's, together capped
        e = _manual_for(card.bonus.id, (s,), per_unit)
        if e is not None:
            bonus_sum += e.points
            bonus_lines.append(_line(e))
    bonus = min(max(bonus_sum, 0.0), card.bonus.max)
    if bonus_sum > card.bonus.max:
        bonus_lines.append(Line(0, unit.code, "", "note", 0.0, f"加分最高{fmt_points(card.bonus.max)}分",
                                False, "上限"))
    neg = [e for e in by_item.get(card.negative.id, ()) if e.kind == FINDING]
    negative = min(sum(e.points for e in neg), 0.0)
    total = round2(max(converted + bonus + negative, 0.0))
    return UnitScore(unit=unit, items=tuple(items), parts=tuple(parts), subtotal=round(subtotal, PRECISION),
                     applicable_max=applicable_max, converted=converted, bonus=round(bonus, PRECISION),
                     bonus_lines=tuple(bonus_lines), negative=round(negative, PRECISION),
                     negative_lines=tuple(_line(e) for e in sorted(neg, key=lambda e: e.id)), total=total)


def _score_item(item: Item, es: list[Entry], manual: Entry | None,
                first_id: Mapping[tuple[str, str, str], int]) -> ItemScore:
    findings = [e for e in es if e.kind == FINDING]
    autos = [e for e in es if e.kind == AUTO]
    notes: list[str] = []
    lines: list[Line] = []

    if manual is not None:
        # The assessor's score stands for everything recorded before it; later findings deduct.
        later = [f for f in findings if first_id.get((f.unit, f.item, f.slot), f.id) > manual.id]
        absorbed = [f for f in findings if f not in later]
        lines.append(_line(manual))
        lines += [_line(e, False, "人工评分替代自动计分") for e in autos]
        lines += [_line(f, False, "已在人工评分中考虑") for f in absorbed]
        lines += [_line(f) for f in later]
        raw = manual.points + sum(f.points for f in later)
        score = _clamp(raw, item.points, notes)
        return ItemScore(item, True, score, manual=True, lines=tuple(lines), notes=tuple(notes))

    deduction_rule = item.deduction_rule
    pending = False
    base = 0.0
    for rule in item.rules:
        rule_entries = [e for e in autos if e.rule == rule.id]
        lines += [_line(e) for e in rule_entries]
        if rule.kind == "deductions":
            got = rule.points + sum(f.points for f in findings)
            if got < 0:
                notes.append(f"{rule.label or '扣分'}扣完为止（{fmt_points(rule.points)}分）")
            base += max(got, 0.0)
        elif rule.kind == "manual":
            pending = True
            notes.append(f"待评：{rule.label or '人工评分'}（{fmt_points(rule.points)}分，ccal score set）")
        else:
            got = sum(e.points for e in rule_entries)
            if got > rule.points + 1e-9:
                notes.append(f"已达上限{fmt_points(rule.points)}分（累计{fmt_points(got)}分）")
                got = rule.points
            base += got
    lines += [_line(f) for f in findings]
    if deduction_rule is None and findings:
        base += sum(f.points for f in findings)
    score = _clamp(base, item.points, notes)
    lines.sort(key=lambda ln: ln.entry_id)
    return ItemScore(item, True, score, pending=pending, lines=tuple(lines), notes=tuple(notes))


def _clamp(x: float, maximum: float, notes: list[str]) -> float:
    if x < 0:
        notes.append("本项扣完为止")
        return 0.0
    if x > maximum + 1e-9:
        notes.append(f"本项最高{fmt_points(maximum)}分")
        return maximum
    return round(x, PRECISION)
