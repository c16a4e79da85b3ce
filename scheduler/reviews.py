"""The propaganda department's review of submissions, and the web's audit log.

A submission arrives (web or CLI) and waits for review. The department accepts it, or returns
it (退回) with a reason: a `submission_review` row, never edited, one per submission. A
returned submission stops counting (`scheduler.submissions.superseded_submission_ids`): the
occurrence is open or overdue again, reminders resume, and scores follow. The responsible
person hears of the return in their next digest (the planner asks `returns_to_tell`). Whether
the work was on time or late is read from the submissions that count, so the one finally
accepted decides it (docs/web.md).

Every web action is appended to `web_audit` (who, what, when).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session, col, func, select

from scheduler.app import UserInputError
from scheduler.models import (
    Evidence, Occurrence, Submission, SubmissionReview, Unit, WebAudit,
)
from scheduler.submissions import refresh_occurrences

if TYPE_CHECKING:
    from scheduler.app import App

ACCEPTED, RETURNED = "accepted", "returned"
# `recorded_by` of a submission a person made through their link: "<name>（网页，人员<id>）".
# The review queue holds these; what a clerk or staff member records (CLI, 代为提交, the demo's
# history) was checked by whoever recorded it, and can still be returned from its page.
WEB_PERSON_MARK = "（网页，人员"
_WEB_PERSON_RE = re.compile(re.escape(WEB_PERSON_MARK) + r"(\d+)）$")
RETURN_STAGE_PREFIX = "returned:"   # outbox_item stage of a return notice: "returned:<review id>"


def audit(session: Session, actor: str, action: str, target: str = "", detail: str = "",
          *, at: datetime) -> None:
    session.add(WebAudit(at=at, actor=actor[:120], action=action[:40], target=target[:200],
                         detail=detail[:2000]))


def recent_failures(session: Session, actor: str, since: datetime) -> int:
    return session.exec(select(func.count(WebAudit.id)).where(
        WebAudit.action == "login_failed", WebAudit.actor == actor, col(WebAudit.at) >= since)).one()


# --------------------------------------------------------------------------- rules of the web form

def check_done_date(occ: Occurrence, on: date, today: date) -> None:
    """The date work was done: never in the future, never before the period opens."""
    if on > today:
        raise UserInputError(f"完成日期 {on.isoformat()} 晚于今天（{today.isoformat()}），不能填写将来的日期")
    if on < occ.opens:
        raise UserInputError(f"完成日期 {on.isoformat()} 早于本期开始日期 {occ.opens.isoformat()}")


# --------------------------------------------------------------------------- reviewing

def review(app: "App", submission_id: int, decision: str, reason: str = "", *, by: str,
           now: datetime | None = None) -> SubmissionReview:
    """Accept or return a submission (once). Returning needs a reason."""
    if decision not in (ACCEPTED, RETURNED):
        raise UserInputError(f"未知审核结果 {decision!r}")
    reason = reason.strip()
    if decision == RETURNED and not reason:
        raise UserInputError("退回必须填写原因")
    now = now or app.now()
    with app.session() as session:
        sub = session.get(Submission, submission_id)
        if sub is None or sub.withdrawn:
            raise UserInputError(f"未知提交记录：{submission_id}")
        done = session.exec(select(SubmissionReview).where(
            SubmissionReview.submission_id == submission_id)).first()
        if done is not None:
            word = "退回" if done.decision == RETURNED else "通过"
            raise UserInputError(f"提交记录 {submission_id} 已于 {done.reviewed_at:%Y-%m-%d %H:%M} "
                                 f"由 {done.reviewed_by} 审核{word}")
        row = SubmissionReview(submission_id=submission_id, decision=decision, reason=reason,
                               reviewed_by=by, reviewed_at=now)
        session.add(row)
        session.flush()
        if decision == RETURNED:   # it stops counting: the occurrence's state columns follow
            refresh_occurrences(session, [sub.occurrence_id], now)
        return row


@dataclass(frozen=True)
class QueueRow:
    submission: Submission
    occurrence: Occurrence
    unit_name: str
    title: str
    files: tuple[Evidence, ...]


def pending(app: "App", session: Session, limit: int = 200) -> list[QueueRow]:
    """Submissions people made through their links that count and have no review yet, oldest
    first."""
    from scheduler.submissions import superseded_submission_ids
    reviewed = select(SubmissionReview.submission_id)
    q = (select(Submission, Occurrence, Unit.name)
         .join(Occurrence, col(Occurrence.id) == col(Submission.occurrence_id))
         .join(Unit, col(Unit.code) == col(Occurrence.unit_code))
         .where(Submission.withdrawn == False, col(Submission.id).not_in(reviewed),  # noqa: E712
                col(Submission.recorded_by).contains(WEB_PERSON_MARK))
         .order_by(col(Submission.recorded_at), col(Submission.id)))
    superseded = superseded_submission_ids(session)
    rows = [(s, o, n) for s, o, n in session.exec(q).all() if s.id not in superseded][:limit]
    files = _files(session, [s.id for s, _, _ in rows])
    return [QueueRow(s, o, n, _title(app, o), files.get(s.id, ())) for s, o, n in rows]


def _files(session: Session, submission_ids: list[int]) -> dict[int, tuple[Evidence, ...]]:
    out: dict[int, list[Evidence]] = {}
    if submission_ids:
        for ev in session.exec(select(Evidence).where(col(Evidence.submission_id).in_(submission_ids))
                               .order_by(col(Evidence.id))).all():
            out.setdefault(ev.submission_id, []).append(ev)
    return {k: tuple(v) for k, v in out.items()}


def _title(app: "App", occ: Occurrence) -> str:
    ob = app.obligations.get(occ.obligation_key)
    return ob.title if ob else occ.obligation_key


def history(session: Session, occurrence_ids: list[int]) -> dict[int, list[dict]]:
    """occurrence id -> its submissions (newest first) with files and review, for the pages."""
    if not occurrence_ids:
        return {}
    subs = session.exec(select(Submission).where(col(Submission.occurrence_id).in_(occurrence_ids))
                        .order_by(col(Submission.id).desc())).all()
    ids = [s.id for s in subs]
    reviews = {r.submission_id: r for r in session.exec(
        select(SubmissionReview).where(col(SubmissionReview.submission_id).in_(ids)))} if ids else {}
    files = _files(session, ids)
    replaced = {s.corrects_id for s in subs if s.corrects_id is not None}
    out: dict[int, list[dict]] = {}
    for s in subs:
        if s.withdrawn:
            continue
        r = reviews.get(s.id)
        state = ("returned" if r and r.decision == RETURNED else "accepted" if r else
                 "replaced" if s.id in replaced else "pending")
        out.setdefault(s.occurrence_id, []).append(
            {"submission": s, "review": r, "files": files.get(s.id, ()), "state": state})
    return out


# --------------------------------------------------------------------------- telling the return

@dataclass(frozen=True)
class ReturnToTell:
    review: SubmissionReview
    occurrence_id: int
    unit_code: str
    submitter: int | None = None    # the person who sent it through their link, told too


def web_recorded_by(name: str, person_id: int) -> str:
    """`recorded_by` of a submission a person made through their own link."""
    return f"{name}{WEB_PERSON_MARK}{person_id}）"


def web_submitter(recorded_by: str) -> int | None:
    """The person who submitted through their link, from `recorded_by`; None for the CLI,
    staff and the demo's history."""
    m = _WEB_PERSON_RE.search(recorded_by or "")
    return int(m.group(1)) if m else None


def returns_to_tell(session: Session, since: datetime) -> list[ReturnToTell]:
    """Returns reviewed after `since` whose occurrence is not settled by a newer submission.
    (Whether each was told already is the outbox's business: stage "returned:<id>".)"""
    q = (select(SubmissionReview, Submission.occurrence_id, Occurrence.unit_code,
                Submission.recorded_by)
         .join(Submission, col(Submission.id) == col(SubmissionReview.submission_id))
         .join(Occurrence, col(Occurrence.id) == col(Submission.occurrence_id))
         .where(SubmissionReview.decision == RETURNED, col(SubmissionReview.reviewed_at) >= since)
         .order_by(col(SubmissionReview.id)))
    return [ReturnToTell(r, oid, unit, web_submitter(by))
            for r, oid, unit, by in session.exec(q).all()]


def return_notes(session: Session, stages: dict[int, set[str]]) -> dict[int, str]:
    """occurrence id -> the 退回 line for messages listing a return notice of it."""
    review_ids = {int(s[len(RETURN_STAGE_PREFIX):]) for ss in stages.values() for s in ss
                  if s.startswith(RETURN_STAGE_PREFIX)}
    if not review_ids:
        return {}
    reviews = {r.id: r for r in session.exec(select(SubmissionReview).where(
        col(SubmissionReview.id).in_(review_ids)))}
    out = {}
    for oid, ss in stages.items():
        for s in sorted(ss):
            if s.startswith(RETURN_STAGE_PREFIX):
                r = reviews.get(int(s[len(RETURN_STAGE_PREFIX):]))
                if r is not None:
                    out[oid] = (f"已退回（{r.reviewed_at:%Y-%m-%d}）：{r.reason}。请按要求修改后重新提交")
    return out


RETURN_LOOKBACK = timedelta(days=90)    # older returns are not told any more


def open_returns(app: "App", session: Session, as_of: date) -> int:
    """Returned submissions whose occurrence still waits for a new one (for /metrics)."""
    from obligations.occurrences import occurrence_status
    from scheduler.submissions import counting_submissions, waived_occurrences
    ids = list(set(session.exec(select(Submission.occurrence_id).join(
        SubmissionReview, col(SubmissionReview.submission_id) == col(Submission.id)).where(
        SubmissionReview.decision == RETURNED)).all()))
    if not ids:
        return 0
    subs = counting_submissions(session, ids)
    waived = waived_occurrences(session, ids)
    occs = session.exec(select(Occurrence).where(col(Occurrence.id).in_(ids))).all()
    return sum(1 for o in occs if occurrence_status(
        o.opens, o.due, o.required, subs.get(o.id, ()), o.id in waived, as_of,
        tz=app.config.general.tz).state in ("open", "overdue", "upcoming"))
