"""Deadlines that moved after a reminder told another date (issue 7).

An occurrence's due date can move after a message told it: the propaganda department records
the quarter's meeting (the reports before it fall due earlier), a holiday file replaces a
provisional year. Each reminder item keeps the due date it told (`OutboxItem.told_due`,
migration 0006, written when its message is rendered). From those:

- the next message to a person whose last *sent* message told another date says so:
  「截止日期已由3月30日调整为3月27日」 (`MovedDeadlines.moved_from`). That message comes with the
  next pass: the stages of a moved occurrence are keyed with the new date
  (`MovedDeadlines.stage_id`, "due@2026-03-30"), so its current stage is told again for the new
  date even if the same stage was told for the old one;
- escalation waits: an occurrence whose date moved is not escalated to the supervisor and the
  propaganda department until the new date has been told and one full working day has passed
  after the day it was told (`MovedDeadlines.holds_escalation`). A deadline moved into the past
  is thus never escalated on the day it is first announced, nor the next working day;
- an unsent message whose items told a date that has since moved is rendered again before it
  goes out (`messages_to_rerender`).

Items planned before migration 0006 have no told date and are ignored.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from scheduler.models import Occurrence, Outbox, OutboxItem

if TYPE_CHECKING:
    from obligations.workdays import WorkdayCalendar

SENT = "sent"
GRACE_WORKDAYS = 1          # full working days after the new date was told, before escalation
UNTOLD_HOLD_WORKDAYS = 3    # a new date nobody could be told holds escalation at most this long


class MovedDeadlines:
    """What each person was told, in sent messages, about the due dates of some occurrences."""

    def __init__(self, session: Session, occurrence_ids) -> None:
        """`occurrence_ids`: ids, or a SELECT of them."""
        if isinstance(occurrence_ids, (set, frozenset, tuple, list)):
            occurrence_ids = list(occurrence_ids)
        sent_told = (col(Outbox.status) == SENT) & col(OutboxItem.told_due).is_not(None)
        # Only occurrences some sent message told another date for: usually none, so cheap.
        moved = (select(OutboxItem.occurrence_id)
                 .join(Outbox, col(Outbox.id) == col(OutboxItem.outbox_id))
                 .join(Occurrence, col(Occurrence.id) == col(OutboxItem.occurrence_id))
                 .where(sent_told, col(OutboxItem.told_due) != col(Occurrence.due),
                        col(OutboxItem.occurrence_id).in_(occurrence_ids)))
        q = (select(OutboxItem.occurrence_id, OutboxItem.person_id, OutboxItem.told_due, Outbox.sent_at)
             .join(Outbox, col(Outbox.id) == col(OutboxItem.outbox_id))
             .where(sent_told, col(OutboxItem.occurrence_id).in_(moved))
             .order_by(col(Outbox.sent_at), col(Outbox.id)))
        # occurrence -> [(sent_at, person, told due)], oldest first
        self._told: dict[int, list[tuple[datetime, int, date]]] = defaultdict(list)
        for occ_id, person_id, told, sent_at in session.exec(q).all():
            self._told[occ_id].append((sent_at or datetime.min, person_id, told))

    def has_moved(self, occurrence_id: int, due: date) -> bool:
        """Some sent message told another date than `due`."""
        return any(d != due for _, _, d in self._told.get(occurrence_id, ()))

    def stage_id(self, occurrence_id: int, due: date, stage_id: str) -> str:
        """The outbox stage id for the current date: a moved occurrence's stages carry the new
        due date ("overdue-1@2026-03-27"), so the stage reached on the new date is told even
        when the same stage was told for the old one, and the change is announced at once."""
        return f"{stage_id}@{due.isoformat()}" if self.has_moved(occurrence_id, due) else stage_id

    def moved_from(self, occurrence_id: int, person_id: int, due: date) -> date | None:
        """The date the person's last sent message told, when it differs from `due`."""
        told = [d for _, p, d in self._told.get(occurrence_id, ()) if p == person_id]
        return told[-1] if told and told[-1] != due else None

    def holds_escalation(self, occurrence_id: int, due: date, today: date, cal: "WorkdayCalendar") -> bool:
        """The date moved since someone was told it, and the new date was told less than
        GRACE_WORKDAYS full working days ago (or not yet)."""
        history = self._told.get(occurrence_id, ())
        last_old = max((at for at, _, d in history if d != due), default=None)
        if last_old is None:
            return False                                     # nobody was told another date
        first_new = min((at for at, _, d in history if d == due and at >= last_old), default=None)
        if first_new is None:                                # not told yet: it will be, then grace
            return today <= cal.add_workdays(last_old.date(), UNTOLD_HOLD_WORKDAYS)
        return today <= cal.add_workdays(first_new.date(), GRACE_WORKDAYS)


def messages_to_rerender(session: Session, outbox_ids) -> set[int]:
    """Unsent messages (`outbox_ids`: ids or a SELECT) listing an item whose told date is no
    longer its occurrence's due date."""
    q = (select(OutboxItem.outbox_id)
         .join(Occurrence, col(Occurrence.id) == col(OutboxItem.occurrence_id))
         .where(col(OutboxItem.outbox_id).in_(outbox_ids), OutboxItem.state == "listed",
                col(OutboxItem.told_due).is_not(None), col(OutboxItem.told_due) != col(Occurrence.due)))
    return set(session.exec(q).all())
