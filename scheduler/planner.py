"""Plan reminders into the outbox: who is told what, in which message, in which sending window.

One pass at ``now``:

1. **Settle.** Unsent messages (planned or failed) lose the items whose occurrence has since been
   submitted or waived; they are re-rendered without them, and a message left with nothing to
   tell is cancelled. Reminders stop as soon as the record says the work is done.
2. **Stage.** Every open occurrence (not done, not waived) gets its current stage from the pure
   policy (``obligations.reminders.stage_at``): stages missed while the service was down collapse
   into the current one.
3. **Audience.** The responsible person of the unit (its secretary, or its head / propaganda
   contact when the obligation says so); on escalation also the unit's supervisor and the
   propaganda-department contact (see ``Directory``).
4. **Digest.** ``obligations.reminders.plan_digests`` groups the items per person and channel,
   leaving out every (occurrence, stage, channel, person) already in ``outbox_item``: a stage is
   told once. Units a person hears of only as supervisor or propaganda contact are marked as
   escalated groups ("逾期督办") in the same message; a person who only hears of escalations gets
   the escalation wording (the templates ``escalation.*``).
5. **Outbox.** The items join the person's unsent message on that channel if there is one (a
   later stage of the same occurrence replaces the earlier one), else a new message keyed
   ``(digest:<window date>, digest, channel, person)`` for the next sending window; if that
   window's message has already gone out, the next window's. So one person gets at most one
   message per channel and sending window, and re-running a pass plans nothing new.
6. **Deductions.** Scorecard deductions not yet told (``scheduler.ledger.deductions_to_notify``)
   join the unit secretary's message the same way, one line each in its 考核扣分通知 section (a
   message may carry deductions only). They are marked told (``score_notice``, with the message)
   in the transaction that writes the message: a re-run tells nothing twice, a crash loses nothing.

Everything is rendered when planned and stored on the row (scheduler/outbox.py).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

import jinja2
from sqlalchemy import or_, tuple_, union_all, update
from sqlmodel import Session, col, select

from notifiers.base import EMAIL, WECOM_APP, WECOM_ROBOT, Channel, Recipient
from notifiers.local_outbox import LocalOutbox
from notifiers.rendering import Deduction
from notifiers.rendering import Digest as RenderDigest
from notifiers.rendering import DigestItem, group_by_unit, render_digest
from obligations.citations import cite
from obligations.packs import Obligation
from obligations.reminders import (
    ROLE_RESPONSIBLE, Audience, DigestEntry, OutboxKey, ReminderItem, ReminderPolicy,
    effective_policy, entry_key, plan_digests, stage_at,
)
from obligations.sending_windows import SendingWindow, next_window_start, window_id
from scheduler import delivery_health, ledger, orders, outbox, reviews
from scheduler.redelivery import UNDELIVERED, healthy_routes, insert_ignore, redelivery_keys
from scheduler.lectures import PENDING, LectureReminders
from scheduler.lectures import describe as describe_lectures
from scheduler.links import Links
from scheduler.moved import MovedDeadlines, messages_to_rerender
from scheduler.provisional import reasons_of as provisional_reasons
from scheduler.models import ROLES, Event, Occurrence, Outbox, OutboxItem, Person, RoleAssignment, Unit
from scheduler.submissions import counting_submissions, open_on, open_on_halves

if TYPE_CHECKING:
    from scheduler.app import App

log = logging.getLogger(__name__)

DIGEST = "digest"  # the outbox stage of every reminder message (entries carry real stages)
OPEN_STATES = ("open", "overdue")
LISTED, SUPERSEDED, SETTLED = "listed", "superseded", "settled"
DEFAULT_SENDER = "党委宣传部"


@dataclass(frozen=True)
class PlannerSettings:
    window: SendingWindow = SendingWindow()
    routes: tuple[str, ...] | None = None  # channels to use; None: every configured one
    sender: str = DEFAULT_SENDER
    contact: str | None = None  # footer of every message, e.g. "李老师，电话 0356-1234567"


@dataclass
class PlanReport:
    open_occurrences: int = 0
    entries: int = 0  # (occurrence, stage, channel, person) planned in this pass
    created: int = 0  # new outbox messages
    updated: int = 0  # unsent messages re-rendered (items added or settled)
    cancelled: int = 0  # unsent messages left with nothing to tell
    settled: int = 0  # items taken out of unsent messages: submitted or waived meanwhile
    deductions: int = 0  # deduction lines put into messages (per person and channel)
    unaddressed: list[str] = field(default_factory=list)  # "UNIT key period": nobody to tell


# --------------------------------------------------------------------------- who is told

class Directory:
    """Units, people and roles, read once per pass.

    - responsible person: holders of the obligation's role (secretary, head or propaganda) in the
      unit; the unit's secretary when nobody holds that role;
    - supervisor: holders of ``supervisor`` in the unit; when none is recorded, the secretary of
      the parent unit (a branch's committee, an office's branch);
    - propaganda-department contact: holders of ``propaganda`` in the configured propaganda unit
      (``[organisation] propaganda_unit``); else its head; else its secretary.
    """

    def __init__(self, session: Session, propaganda_unit: str) -> None:
        # Read-only rows of the columns (attribute access like the models), not ORM objects:
        # a province's directory is 12,000 rows, read once per pass.
        self.units: dict[str, Unit] = {u.code: u for u in session.execute(select(*Unit.__table__.columns)).all()}
        self.people: dict[int, Person] = {p.id: p for p in session.execute(select(*Person.__table__.columns)).all()}
        self._roles: dict[tuple[str, str], list[int]] = defaultdict(list)
        q = (select(RoleAssignment.unit_code, RoleAssignment.role, RoleAssignment.person_id)
             .order_by(col(RoleAssignment.id)))
        for unit_code, role, person_id in session.execute(q).all():
            self._roles[(unit_code, role)].append(person_id)
        self.propaganda_unit = propaganda_unit

    def holders(self, unit: str, role: str) -> tuple[int, ...]:
        return tuple(self._roles.get((unit, role), ()))

    def responsible(self, unit: str, role: str) -> tuple[int, ...]:
        return self.holders(unit, role) or self.holders(unit, "secretary")

    def responsible_roles(self, unit: str, role: str) -> list[tuple[int, str]]:
        if self.holders(unit, role):
            return [(p, role) for p in self.holders(unit, role)]
        return [(p, "secretary") for p in self.holders(unit, "secretary")]

    def supervisors(self, unit: str) -> tuple[int, ...]:
        explicit = self.holders(unit, "supervisor")
        if explicit:
            return explicit
        parent = self.units[unit].parent_code if unit in self.units else None
        return self.holders(parent, "secretary") if parent else ()

    @cached_property
    def propaganda(self) -> tuple[int, ...]:
        code = self.propaganda_unit
        return (self.holders(code, "propaganda") or self.holders(code, "head")
                or self.holders(code, "secretary"))

    def audience(self, unit: str, role: str) -> Audience:
        ids = lambda people: tuple(str(p) for p in people)  # noqa: E731
        return Audience(ids(self.responsible(unit, role)), ids(self.supervisors(unit)),
                        ids(self.propaganda))

    def recipient(self, person_id: int) -> Recipient:
        p = self.people[person_id]
        return Recipient(name=p.name, email=p.email, wecom_userid=p.wecom_userid, mobile=p.mobile)


def routes_for(person: Person, channels: Mapping[str, Channel],
               allowed: Sequence[str] | None = None) -> list[str]:
    """The channels a person is told on.

    With real channels: email when they have an address, the WeCom application when they have
    a WeCom user id, the group robot always (it @-mentions them). When only the local outbox
    stands in (nothing configured), one file per message: ``.eml`` for people with an email
    address, ``.md`` for the others, so the directory shows what everyone would get."""
    names = [r for r in (allowed if allowed is not None else channels) if r in channels]
    if names and all(isinstance(channels[r], LocalOutbox) for r in names):
        if EMAIL in names and person.email:
            return [EMAIL]
        wecom = [r for r in (WECOM_APP, WECOM_ROBOT) if r in names]
        return wecom[:1] or [EMAIL]
    out = []
    if EMAIL in names and person.email:
        out.append(EMAIL)
    if WECOM_APP in names and person.wecom_userid:
        out.append(WECOM_APP)
    if WECOM_ROBOT in names:
        out.append(WECOM_ROBOT)
    return out


# --------------------------------------------------------------------------- the planner

def _naive(dt: datetime) -> datetime:
    return dt.replace(tzinfo=None)


def _salutation(name: str) -> str:
    return f"{name}同志"


class Planner:
    """Plans one pass at a time; see the module docstring. ``channels`` are the configured
    channel instances by route (only their names and kinds are used here)."""

    def __init__(self, app: "App", channels: Mapping[str, Channel], env: jinja2.Environment,
                 settings: PlannerSettings = PlannerSettings()) -> None:
        self.app = app
        self.channels = dict(channels)
        self.env = env
        self.settings = settings
        self._policies: dict[str, ReminderPolicy] = {}
        self._settled: dict[tuple, OutboxItem] = {}
        self._to_render: dict[int, Outbox] = {}
        self._packs = {p.name: p for p in app.packs}

    @cached_property
    def cards(self):
        """The enabled packs' scorecards (deductions are told for these)."""
        return list(ledger.scorecards(self.app).values())

    # -- policy
    def policy(self, ob: Obligation) -> ReminderPolicy:
        """The reminder policy of one obligation: default < pack < config < obligation."""
        if ob.key not in self._policies:
            pack = self._packs.get(ob.pack)
            pack_path = pack.path if pack else ob.pack
            config_path = self.app.config.path or "config"
            self._policies[ob.key] = effective_policy(
                pack=pack.reminders if pack else None,
                config=self.app.config.reminders,
                obligation=ob.reminders,
                pack_where=f"{pack_path} [reminders]",
                config_where=f"{config_path} [reminders]",
                obligation_where=f"{pack_path} 事项 {ob.key} 的 reminders",
            )
        return self._policies[ob.key]

    # -- the pass
    def plan(self, now: datetime, session: Session | None = None) -> PlanReport:
        """Settle unsent messages, then plan what is due at ``now``. Commits."""
        if session is None:
            with self.app.session() as s:
                return self.plan(now, s)
        report = PlanReport()
        directory = Directory(session, self.app.propaganda_unit)
        self.settle(session, now, directory, report)
        items, occurrences = self._reminder_items(session, now.date(), directory)
        # Lectures: the propaganda department hears of them too, and of pending applications.
        items, occurrences = LectureReminders(self.app, session, now.date()).extend(
            items, occurrences, [str(p) for p in directory.propaganda], self.policy)
        report.open_occurrences = len(occurrences)
        planned = self._planned_keys(session, list(occurrences))
        paused = delivery_health.paused_channels(session, now)
        self._settled = self._settled_items(session, list(occurrences))
        self._to_render: dict[int, Outbox] = {}      # each message rendered once, at the end
        digest_plan = plan_digests(
            items, now=now, cal=self.app.calendar, window=self.settings.window,
            channels=lambda person: healthy_routes(routes_for(
                directory.people[int(person)], self.channels, self.settings.routes), paused),
            already_planned=planned,
        )
        for item in digest_plan.unaddressed:
            occ = occurrences[int(item.occurrence)]
            report.unaddressed.append(f"{occ.unit_code} {occ.obligation_key} {occ.period}")
        if report.unaddressed:
            log.warning("%d open occurrences have nobody to remind (no secretary or no contact): "
                        "%s", len(report.unaddressed), ", ".join(report.unaddressed[:10]))
        for digest in digest_plan.digests:
            entries = [e for g in digest.units for e in g.entries]
            self._put(session, directory, digest.recipient, digest.channel, digest.send_at,
                      entries, now, report)
        self._tell_deductions(session, directory, now, report)
        self._tell_returns(session, directory, now, report)
        session.flush()
        for row in self._to_render.values():
            self.render(session, directory, row, now)
        self._to_render = {}
        session.commit()
        return report

    def _tell_deductions(self, session: Session, directory: Directory, now: datetime,
                         report: PlanReport) -> None:
        """Deductions not yet told join each secretary's unsent message on each of their
        channels (or a new one for the next sending window), marked told with that message."""
        notices = ledger.deductions_to_notify(session, self.cards) if self.cards else []
        if not notices:
            return
        per_message: dict[tuple[int, str], list[int]] = defaultdict(list)
        nobody = []
        for n in notices:
            routes = [(p, channel) for p in directory.holders(n.unit, "secretary")
                      for channel in routes_for(directory.people[p], self.channels, self.settings.routes)]
            if not routes:  # stays untold: reported, and told once a secretary is recorded
                nobody.append(f"{n.unit} 考核扣分 {n.year} {n.item}")
            for key in routes:
                per_message[key].append(n.entry_id)
        if nobody:
            report.unaddressed += nobody
            log.warning("%d deduction(s) have nobody to tell (no secretary or no contact): %s",
                        len(nobody), ", ".join(nobody[:10]))
        send_at = _naive(next_window_start(now, self.app.calendar, self.settings.window))
        for (person_id, channel), entry_ids in per_message.items():
            row = self._unsent(session, person_id, channel, now)
            if row is None:
                row = self._free_row(session, person_id, channel, send_at, now, report)
            else:
                report.updated += 1
            report.deductions += ledger.mark_notified(session, entry_ids, now, person_id=person_id,
                                                      channel=channel, outbox_id=row.id)
            self._to_render[row.id] = row

    @cached_property
    def links(self) -> Links:
        """Personal links put into every message (scheduler/links.py)."""
        return Links(self.app)

    def _tell_returns(self, session: Session, directory: Directory, now: datetime,
                      report: PlanReport) -> None:
        """退回 notices (scheduler/reviews.py): a returned submission whose occurrence is still
        open joins the next message of the responsible people and of the person who sent it through
        their link, once, as the item "returned:<review>"."""
        todo = reviews.returns_to_tell(session, now - reviews.RETURN_LOOKBACK)
        open_ids = set(session.exec(self._open_query(
            list({t.occurrence_id for t in todo}), now.date())).all()) if todo else set()
        send_at = _naive(next_window_start(now, self.app.calendar, self.settings.window))
        for t in todo:
            occ = session.get(Occurrence, t.occurrence_id)
            if t.occurrence_id not in open_ids or occ is None:
                continue  # submitted again (or waived) since: nothing to tell
            stage = f"{reviews.RETURN_STAGE_PREFIX}{t.review.id}"
            ob = self.app.obligations[occ.obligation_key]
            told = list(directory.responsible(occ.unit_code, ob.responsible))
            if t.submitter in directory.people and t.submitter not in told:
                told.append(t.submitter)    # who sent it hears of it, responsible or not
            for person_id in told:
                for channel in routes_for(directory.people[person_id], self.channels, self.settings.routes):
                    if session.exec(select(OutboxItem.id).where(
                            OutboxItem.occurrence_id == occ.id, OutboxItem.stage == stage,
                            OutboxItem.channel == channel, OutboxItem.person_id == person_id)).first():
                        continue
                    row = self._unsent(session, person_id, channel, now)
                    if row is None:
                        row = self._free_row(session, person_id, channel, send_at, now, report)
                    else:
                        report.updated += 1
                    session.add(OutboxItem(outbox_id=row.id, occurrence_id=occ.id, stage=stage,
                                           channel=channel, person_id=person_id,
                                           roles=ROLE_RESPONSIBLE, state=LISTED))
                    session.flush()
                    report.entries += 1
                    self._to_render[row.id] = row

    def _reminder_items(self, session: Session, today: date, directory: Directory
                        ) -> tuple[list[ReminderItem], dict[int, Occurrence]]:
        """The open occurrences in their current stage, as the pure planner wants them."""
        # Tracked, opened, not done or waived (the state columns) and still reminded, in SQL;
        # plain rows of the columns used, and no submission is read here.
        conds = self._reminded_conditions(session, today)
        if not conds:   # no obligation enabled
            return [], {}
        # The stage depends on the obligation and the window only: thousands of units share
        # each (key, opens, due). The distinct windows are read first and staged once; only the
        # rows of windows with a stage today are read (most open work is between stages).
        stages: dict[tuple, object] = {}
        for cond in conds:
            for key, opens, due in session.execute(
                    select(Occurrence.obligation_key, Occurrence.opens, Occurrence.due).where(*cond).distinct()):
                stage = stage_at(self.policy(self.app.obligations[key]), opens=opens, due=due, today=today,
                                 cal=self.app.calendar)
                if stage is not None:
                    stages[(key, opens, due)] = stage
        windows = list(stages)
        occs: dict[int, object] = {}
        for cond in conds:
            for i in range(0, len(windows), 300):     # chunks: parameter limits
                for occ in session.execute(select(
                        Occurrence.id, Occurrence.unit_code, Occurrence.obligation_key, Occurrence.period,
                        Occurrence.opens, Occurrence.due, Occurrence.required, Occurrence.provisional,
                        Occurrence.event_id)
                        .where(*cond, tuple_(Occurrence.obligation_key, Occurrence.opens, Occurrence.due)
                               .in_(windows[i:i + 300]))):
                    occs[occ.id] = occ
        opened = union_all(*(select(Occurrence.id).where(*cond) for cond in conds))
        moved = MovedDeadlines(session, opened)  # a date moved: escalation waits (scheduler/moved.py)
        items: list[ReminderItem] = []
        open_occs: dict[int, Occurrence] = {}
        for occ in sorted(occs.values(), key=lambda o: o.id):
            ob = self.app.obligations[occ.obligation_key]
            stage = stages[(occ.obligation_key, occ.opens, occ.due)]
            if stage.escalate and moved.holds_escalation(occ.id, occ.due, today, self.app.calendar):
                stage = replace(stage, escalate=False)
            stage = replace(stage, id=moved.stage_id(occ.id, occ.due, stage.id))
            open_occs[occ.id] = occ
            items.append(ReminderItem(str(occ.id), occ.unit_code, stage,
                                      directory.audience(occ.unit_code, ob.responsible)))
        return items, open_occs

    def _reminded_conditions(self, session: Session, today: date) -> list[list]:
        """SQL conditions (each a list to AND) whose rows together are the work to remind on
        `today`: tracked, opened, open as of `today` (`submissions.open_on`), of an enabled
        obligation whose reminders have not stopped (its policy's `stop_after_days` past the
        due date). One per stop and per half of `open_on`, so each is a range of the (is_open,
        due) or the completed_at index: as one OR, the database read every tracked row."""
        by_stop: dict[int, list[str]] = defaultdict(list)
        for key, ob in self.app.obligations.items():
            by_stop[self.policy(ob).stop_after_days or 0].append(key)
        halves = open_on_halves(session, today)     # the rare second half: a pass for a past day
        conds = []
        for stop, keys in sorted(by_stop.items()):
            base = [Occurrence.tracked == True, col(Occurrence.opens) <= today,  # noqa: E712
                    col(Occurrence.obligation_key).in_(keys)]
            if stop:
                base.append(col(Occurrence.due) >= today - timedelta(days=stop))
            conds += [[*base, *half] for half in halves]
        return conds

    @staticmethod
    def _settled_items(session: Session, occurrence_ids: Sequence[int]) -> dict[tuple, OutboxItem]:
        """(occurrence, stage, channel, person) -> its item when it is to be told again on the
        same key in a new message: settled (the occurrence is open again) or undelivered (its
        message died for a channel reason). One query for the pass (chunked ids)."""
        out: dict[tuple, OutboxItem] = {}
        ids = list(occurrence_ids)
        for i in range(0, len(ids), 500):
            for item in session.exec(select(OutboxItem).where(
                    col(OutboxItem.occurrence_id).in_(ids[i:i + 500]),
                    col(OutboxItem.state).in_((SETTLED, UNDELIVERED)))).all():
                out[(item.occurrence_id, item.stage, item.channel, item.person_id)] = item
        return out

    @staticmethod
    def _planned_keys(session: Session, occurrence_ids: Sequence[int]) -> set[OutboxKey]:
        """Keys already in the outbox. Settled items are not: if the occurrence opens again
        (a submission withdrawn), that stage was never told and may be planned again."""
        ids = list(occurrence_ids)
        keys: set[OutboxKey] = set()
        for i in range(0, len(ids), 500):     # chunks: parameter limits at province scale
            chunk = ids[i:i + 500]
            q = (select(OutboxItem.occurrence_id, OutboxItem.stage, OutboxItem.channel,
                        OutboxItem.person_id)
                 .where(col(OutboxItem.occurrence_id).in_(chunk), OutboxItem.state != SETTLED))
            keys |= {entry_key(str(o), s, c, str(p)) for o, s, c, p in session.exec(q).all()}
            # Items whose message died for a channel reason are planned again (issue 10 item 5).
            keys -= redelivery_keys(session, chunk)
        return keys

    # -- one message
    def _put(self, session: Session, directory: Directory, recipient: str, channel: str,
             send_at: datetime, entries: Sequence[DigestEntry], now: datetime,
             report: PlanReport) -> None:
        person_id = int(recipient)
        row = self._unsent(session, person_id, channel, now)
        if row is None:
            row = self._free_row(session, person_id, channel, _naive(send_at), now, report)
        else:
            report.updated += 1
        listed = {i.occurrence_id: i for i in session.exec(
            select(OutboxItem).where(OutboxItem.outbox_id == row.id, OutboxItem.state == LISTED)
        ).all() if not i.stage.startswith(reviews.RETURN_STAGE_PREFIX)}  # a 退回 notice stays
        for entry in entries:
            occurrence_id = int(entry.occurrence)
            previous = listed.get(occurrence_id)
            if previous is not None:  # a later stage of the same occurrence takes its place
                previous.state = SUPERSEDED
                session.add(previous)
            self._add_item(session, row, occurrence_id, entry, channel, person_id)
            report.entries += 1
        session.flush()
        self._to_render[row.id] = row

    def _unsent(self, session: Session, person_id: int, channel: str,
                now: datetime) -> Outbox | None:
        """The person's unsent message on this channel, locked for this pass.

        The UPDATE both re-checks that the row is still unsent and holds it (a dispatcher in
        another process cannot claim it before this pass commits)."""
        row = session.exec(
            select(Outbox).where(Outbox.person_id == person_id, Outbox.channel == channel,
                                 Outbox.stage == DIGEST, col(Outbox.status).in_(outbox.UNSENT))
            .order_by(col(Outbox.id).desc())).first()
        if row is None or not self._lock(session, row, now):
            return None
        return row

    @staticmethod
    def _lock(session: Session, row: Outbox, now: datetime) -> bool:
        result = session.execute(
            update(Outbox).where(Outbox.id == row.id, col(Outbox.status).in_(outbox.UNSENT))
            .values(updated_at=now).execution_options(synchronize_session=False))
        if result.rowcount != 1:
            return False
        session.refresh(row)
        return True

    def _free_row(self, session: Session, person_id: int, channel: str, send_at: datetime,
                  now: datetime, report: PlanReport) -> Outbox:
        """The message of the first window from ``send_at`` on whose message for this person
        and channel has not gone out yet (created, or revived if it was cancelled)."""
        cal, window = self.app.calendar, self.settings.window
        while True:
            topic = f"digest:{window_id(send_at)}"
            row = session.exec(select(Outbox).where(
                Outbox.topic == topic, Outbox.stage == DIGEST, Outbox.channel == channel,
                Outbox.person_id == person_id)).first()
            if row is None:
                # Insert-or-ignore, then read: a concurrent pass may have planned it first
                # (then it is still planned, and this pass adds to it).
                if insert_ignore(session, Outbox, dict(
                        topic=topic, stage=DIGEST, channel=channel, person_id=person_id,
                        address="{}", title="", body_text="", attempts=0, send_at=send_at,
                        next_attempt_at=send_at, status=outbox.PLANNED, created_at=now,
                        updated_at=now)):
                    report.created += 1
                row = session.exec(select(Outbox).where(
                    Outbox.topic == topic, Outbox.stage == DIGEST, Outbox.channel == channel,
                    Outbox.person_id == person_id)).one()
                if row.status == outbox.PLANNED and self._lock(session, row, now):
                    return row
            if row.status == outbox.CANCELLED:
                # Nothing of it was ever sent: it carries the new items instead.
                row.status, row.attempts, row.last_error = outbox.PLANNED, 0, None
                row.next_attempt_at = max(row.send_at, send_at)
                session.add(row)
                session.flush()
                report.created += 1
                return row
            # This window's message is out (or going out): the next window's.
            send_at = _naive(next_window_start(
                datetime.combine(send_at.date() + timedelta(days=1), time.min), cal, window))

    def _add_item(self, session: Session, row: Outbox, occurrence_id: int, entry: DigestEntry,
                  channel: str, person_id: int) -> None:
        # Settled items of this pass's occurrences were read once (`_settled_items`): no
        # SELECT per item.
        existing = self._settled.pop((occurrence_id, entry.stage.id, channel, person_id), None)
        roles = ",".join(entry.roles)
        if existing is not None:  # settled earlier, open again: the same key, a new message
            existing.outbox_id, existing.state, existing.roles = row.id, LISTED, roles
            session.add(existing)
            return
        session.flush()
        insert_ignore(session, OutboxItem, dict(outbox_id=row.id, occurrence_id=occurrence_id,
                                                stage=entry.stage.id, channel=channel,
                                                person_id=person_id, roles=roles, state=LISTED))

    # -- settling
    def settle(self, session: Session, now: datetime, directory: Directory | None = None,
               report: PlanReport | None = None) -> PlanReport:
        """Take submitted or waived occurrences out of unsent messages (commits)."""
        report = report if report is not None else PlanReport()
        unsent = select(Outbox.id).where(col(Outbox.status).in_(outbox.UNSENT))
        listed = (col(OutboxItem.outbox_id).in_(unsent), OutboxItem.state == LISTED)
        # Set-based: only the items that may have to go are loaded: their occurrence is no
        # longer open (state columns), or it is a lecture's (scheduler/lectures.py decides).
        open_now = self._open_query(select(OutboxItem.occurrence_id).where(*listed), now.date())
        items = session.exec(select(OutboxItem).join(Occurrence, col(Occurrence.id) == col(OutboxItem.occurrence_id))
                             .where(*listed, or_(col(OutboxItem.occurrence_id).not_in(open_now),
                                                 col(Occurrence.event_id).is_not(None),
                                                 col(OutboxItem.stage).startswith(PENDING)))).all()
        stale: dict[int, list[OutboxItem]] = defaultdict(list)
        if items:
            ids = sorted({i.occurrence_id for i in items})
            open_ids = {oid for k in range(0, len(ids), 500)
                        for oid in session.exec(self._open_query(ids[k:k + 500], now.date())).all()}
            lectures = LectureReminders(self.app, session, now.date())
            for item in items:
                if not lectures.still_open(item.occurrence_id, item.stage, item.occurrence_id in open_ids):
                    stale[item.outbox_id].append(item)
        # A deduction corrected or withdrawn before its message went out: render without it.
        for outbox_id in ledger.messages_with_replaced_deductions(session, unsent):
            stale.setdefault(outbox_id, [])
        # A due date moved after the message was rendered: render it again with the new date.
        for outbox_id in messages_to_rerender(session, unsent):
            stale.setdefault(outbox_id, [])
        for outbox_id, gone in stale.items():
            row = session.get(Outbox, outbox_id)
            if row is None or not self._lock(session, row, now):
                continue  # claimed by a dispatcher meanwhile: too late to change
            for item in gone:
                item.state = SETTLED
                session.add(item)
            report.settled += len(gone)
            session.flush()
            before = (row.title, row.body_text)
            if directory is None:   # read only when a message is rendered again
                directory = Directory(session, self.app.propaganda_unit)
            if not self.render(session, directory, row, now):
                report.cancelled += 1
            elif gone or (row.title, row.body_text) != before:
                report.updated += 1
        session.commit()
        return report

    def _open_query(self, occurrence_ids, today: date):
        """SELECT of the ids among `occurrence_ids` (ids or a SELECT of ids) still to remind on
        `today`: opened, not done or waived (the state columns), of an enabled obligation."""
        return select(Occurrence.id).where(
            col(Occurrence.id).in_(occurrence_ids), col(Occurrence.opens) <= today, open_on(today),
            col(Occurrence.obligation_key).in_(list(self.app.obligations)))

    # -- rendering
    def render(self, session: Session, directory: Directory, row: Outbox, now: datetime) -> bool:
        """Render a row from its listed items and its deductions (as of its sending day, or
        today if later). A row with nothing left to tell is cancelled instead; returns False then."""
        items = session.exec(select(OutboxItem).where(OutboxItem.outbox_id == row.id,
                                                      OutboxItem.state == LISTED)).all()
        told = ledger.told_in(session, self.cards, row.id) if self.cards else []
        if not items and not told:
            row.status, row.updated_at = outbox.CANCELLED, now
            session.add(row)
            return False
        as_of = max(row.send_at.date(), now.date())
        ids = [i.occurrence_id for i in items]
        occs = {o.id: o for o in session.exec(select(Occurrence).where(col(Occurrence.id).in_(ids)))}
        subs = counting_submissions(session, ids)
        event_ids = [o.event_id for o in occs.values() if o.event_id is not None]
        events = {e.id: e for e in session.exec(select(Event).where(col(Event.id).in_(event_ids)))} \
            if event_ids else {}
        roles: dict[int, set[str]] = defaultdict(set)
        stages: dict[int, set[str]] = defaultdict(set)
        for item in items:
            roles[item.occurrence_id].update(item.roles.split(","))
            stages[item.occurrence_id].add(item.stage)
            if item.occurrence_id in occs and item.told_due != occs[item.occurrence_id].due:
                item.told_due = occs[item.occurrence_id].due     # what this message tells
                session.add(item)
        # What a lecture or a supervision order is about (scheduler/lectures.py, orders.py).
        described = {**describe_lectures(self.app, session, occs, stages), **orders.describe(session, occs)}
        reasons = provisional_reasons(self.app, session, occs.values())  # why a date may move
        moved = MovedDeadlines(session, ids)     # what the person was told before (scheduler/moved.py)
        returned = reviews.return_notes(session, stages)
        # Personal links (docs/web.md): never in a group robot's message, which others read.
        token = self.links.token_for(session, row.person_id, now) if row.channel != WECOM_ROBOT else None
        link = self.links.url(token) if token else self.links.public_url
        pairs, responsible, own_units, told_units = [], {}, set(), set()
        for occ in occs.values():
            ob = self.app.obligations.get(occ.obligation_key)
            if ob is None:  # its pack was disabled since: settled at the next pass
                continue
            unit = directory.units.get(occ.unit_code)
            unit_name = unit.name if unit else occ.unit_code
            done = len([t for t in subs.get(occ.id, ()) if t.date() <= as_of])
            event = events.get(occ.event_id) if occ.event_id else None
            pairs.append((unit_name, replace(DigestItem(
                key=ob.key, title=ob.title, period=occ.period, due=occ.due,
                done=min(done, occ.required), required=occ.required, provisional=occ.id in reasons,
                provisional_reasons=reasons.get(occ.id, ()), citation=cite(ob.citation),
                moved_from=moved.moved_from(occ.id, row.person_id, occ.due),
                period_name=(f"{event.title or '活动'}（{event.date.isoformat()}）"
                             if event is not None else None),
                note=f"需报送：{'、'.join(ob.evidence)}" if ob.evidence else None,
                url=self.links.url(token, occ.id) if token and ROLE_RESPONSIBLE in roles[occ.id] else None,
            ), **described.get(occ.id, {}), **({"note": returned[occ.id]} if occ.id in returned else {}))))
            if ROLE_RESPONSIBLE in roles[occ.id]:
                own_units.add(unit_name)
            else:  # told as supervisor / propaganda contact: say who answers for the unit
                told_units.add(unit_name)
                who = directory.responsible_roles(occ.unit_code, ob.responsible)
                responsible[unit_name] = "、".join(
                    f"{directory.people[p].name}（{ROLES.get(r, r)}）" for p, r in who) or "未登记"
        escalated = told_units - own_units
        person = directory.recipient(row.person_id)
        deductions = tuple(Deduction(
            unit=directory.units[n.unit].name if n.unit in directory.units else n.unit, year=n.year,
            item=n.item, title=n.item_title, points=-n.points, reason=n.reason) for n in told)
        rendered = render_digest(RenderDigest(
            salutation=_salutation(person.name), as_of=as_of,
            groups=group_by_unit(pairs, {u: responsible[u] for u in escalated}, escalated),
            # Deductions are the person's own news: the ordinary wording, not the escalation's.
            escalation=not own_units and not deductions, sender=self.settings.sender,
            contact=self.settings.contact, deductions=deductions, link=link,
        ), self.env)
        row.title, row.body_text = rendered.subject, rendered.text
        row.body_html, row.body_markdown = rendered.html, rendered.markdown
        row.address = outbox.address_json(person)
        row.updated_at = now
        session.add(row)
        return True
