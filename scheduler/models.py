"""The database tables (SQLModel).

The record is append-only where it matters: a correction or withdrawal of a submission is a new
`Submission` row pointing at the one it corrects, and revoking a waiver is a new `Waiver` row.
Datetimes are naive wall-clock time in the configured zone (docs/ARCHITECTURE.md). Callers that
have a clock or an explicit `now` pass timestamps themselves; the defaults below are only a
fallback in Asia/Shanghai. Datetime columns are declared `sa_type=DateTime` (naive): SQLModel's
default type would demand timezone-aware values.

The schema is created and upgraded by Alembic (`scheduler/migrations/`, run by `db.open_db`):
a change here needs a new migration revision.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import CheckConstraint, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from obligations.packs import UNIT_KIND_NAMES

# Stable constraint names, so batch migrations on SQLite can find and alter them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Unit kinds a unit can have, with their Chinese labels (also accepted by the organisation
# import): the one mapping is obligations.packs.UNIT_KIND_NAMES ("propaganda" there is the
# configured propaganda department, not a kind of unit).
UNIT_KINDS: dict[str, str] = {k: UNIT_KIND_NAMES[k] for k in ("committee", "branch", "dept_branch", "office")}
# Roles a person holds in a unit. secretary: first responsible person, main receiver of
# reminders; head: head of an office or department; supervisor: leader in charge (分管领导);
# propaganda: propaganda contact of the unit (宣传委员).
ROLES: dict[str, str] = {
    "secretary": "书记",
    "head": "负责人",
    "supervisor": "分管领导",
    "propaganda": "宣传委员",
}


def local_now() -> dt.datetime:
    """Fallback timestamp: naive wall-clock time in Asia/Shanghai."""
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None, microsecond=0)


def _one_of(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Unit(SQLModel, table=True):
    """A Party organisation or office: 党委, 党支部, 系党支部 or 处室."""
    __tablename__ = "unit"
    __table_args__ = (CheckConstraint(_one_of("kind", UNIT_KINDS), name="kind"),)

    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20, index=True)
    # A branch made of several offices is the parent of those offices.
    parent_code: str | None = Field(default=None, foreign_key="unit.code", index=True,
                                    max_length=32)
    created_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)


class Person(SQLModel, table=True):
    """Someone who is reminded. `key` is the natural key used to match people on re-import:
    the lower-cased email when known, else "wecom:<userid>", else "mobile:<number>", else
    "name:<name>" (see `person_key`)."""
    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=320, unique=True)
    name: str = Field(max_length=100)
    email: str | None = Field(default=None, max_length=320)
    wecom_userid: str | None = Field(default=None, max_length=64)
    mobile: str | None = Field(default=None, max_length=20)
    created_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)


def person_key(name: str, email: str | None = None, wecom_userid: str | None = None,
               mobile: str | None = None) -> str:
    """The natural key of a person (see `Person`)."""
    if email:
        return email.strip().lower()
    if wecom_userid:
        return f"wecom:{wecom_userid.strip()}"
    if mobile:
        return f"mobile:{mobile.strip()}"
    return f"name:{name.strip()}"


class RoleAssignment(SQLModel, table=True):
    __tablename__ = "role_assignment"
    __table_args__ = (
        UniqueConstraint("unit_code", "person_id", "role"),
        CheckConstraint(_one_of("role", ROLES), name="role"),
    )

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(foreign_key="unit.code", index=True, max_length=32)
    person_id: int = Field(foreign_key="person.id", index=True)
    role: str = Field(max_length=20)
    created_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)


class Event(SQLModel, table=True):
    """A dated happening that obligations hang on: a lecture to be approved (period label
    "E<id>"), or the meeting of an anchor obligation in a period (label = that period, e.g.
    "2026-Q2")."""
    __tablename__ = "event"
    __table_args__ = (Index(None, "obligation_key", "label"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(foreign_key="unit.code", index=True, max_length=32)
    obligation_key: str = Field(max_length=100)
    label: str = Field(default="", max_length=50)
    date: dt.date = Field(index=True)
    title: str = Field(default="", max_length=500)
    recorded_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)


class Occurrence(SQLModel, table=True):
    """One obligation of one unit in one period, with its window."""
    __tablename__ = "occurrence"
    # The unique index also serves queries filtering on unit_code (its leftmost column).
    # (is_open, due): overdue/upcoming; (tracked, is_open, opens): the planner's open work.
    __table_args__ = (UniqueConstraint("unit_code", "obligation_key", "period"),
                      Index(None, "is_open", "due"), Index(None, "tracked", "is_open", "opens"))

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(foreign_key="unit.code", max_length=32)
    obligation_key: str = Field(max_length=100, index=True)
    period: str = Field(max_length=50)
    opens: dt.date
    due: dt.date = Field(index=True)
    required: int = 1
    provisional: bool = False
    event_id: int | None = Field(default=None, foreign_key="event.id", index=True)
    created_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)
    updated_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)
    # The record's state, kept by `submissions.refresh_occurrences` in the transaction of every
    # submission, withdrawal, correction, waiver and revocation, so "open?" is a SQL question:
    # done = counting submissions; completed_at = the one that completed it (the
    # `required`-th); is_open = not completed and not waived. state_changed_at: when one of
    # these last changed (the score watermark reads it). tracked: reminded (docs/scale.md).
    done: int = 0
    completed_at: dt.datetime | None = Field(default=None, sa_type=DateTime, index=True)
    waived: bool = False
    is_open: bool = True
    tracked: bool = True
    state_changed_at: dt.datetime | None = Field(default=None, sa_type=DateTime, index=True)


class Submission(SQLModel, table=True):
    """A dated piece of work done for an occurrence. Never edited: a correction (or a
    withdrawal, `withdrawn=True`) is a new row whose `corrects_id` names the row it replaces."""
    __tablename__ = "submission"

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="occurrence.id", index=True)
    submitted_at: dt.datetime = Field(sa_type=DateTime)  # when the work was done (local time)
    # Indexed: the score watermark asks for the rows recorded since the last posting.
    recorded_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime, index=True)
    recorded_by: str = Field(default="", max_length=100)
    note: str = Field(default="", max_length=2000)
    late: bool = False                     # computed when recorded: submitted after the due date
    withdrawn: bool = False
    corrects_id: int | None = Field(default=None, foreign_key="submission.id", index=True)


class Evidence(SQLModel, table=True):
    """A file attached to a submission, stored by content hash (scheduler/evidence.py)."""
    __tablename__ = "evidence"

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    sha256: str = Field(max_length=64, index=True)
    original_name: str = Field(max_length=255)
    size: int
    stored_path: str = Field(max_length=255)   # relative to the evidence directory


class Waiver(SQLModel, table=True):
    """An occurrence that does not apply this time. Revoking is a new row (`revokes_id`)."""
    __tablename__ = "waiver"

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="occurrence.id", index=True)
    reason: str = Field(max_length=2000)
    recorded_by: str = Field(default="", max_length=100)
    recorded_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)
    revokes_id: int | None = Field(default=None, foreign_key="waiver.id", index=True)


# Outbox states (scheduler/outbox.py holds the transitions): planned -> sending -> sent;
# sending -> failed (retried after a back-off) -> sending ...; failed -> dead after the retry
# limit or on a permanent error; planned/failed -> cancelled when nothing is left to tell.
OUTBOX_STATES = ("planned", "sending", "sent", "failed", "dead", "cancelled")
# An outbox item is "listed" in its message, "superseded" by a later stage of the same occurrence
# before the message went out, or "settled" (submitted or waived before it went out).
# "undelivered": its message died for a channel reason (docs/service.md, "Faults"); the item is
# planned again in the person's next digest.
OUTBOX_ITEM_STATES = ("listed", "superseded", "settled", "undelivered")


class Outbox(SQLModel, table=True):
    """One reminder message (a digest) to one person on one channel, written before it is sent.

    The unique key (topic, stage, channel, person) is the issue's "(occurrence or digest, stage,
    channel, recipient)": topic "digest:<window date>", stage "digest" (one message per person,
    channel and sending window). The rendered message and the recipient's contacts are stored,
    so sending needs nothing else; `outbox_item` lists the occurrences it tells."""
    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("topic", "stage", "channel", "person_id"),
        CheckConstraint(_one_of("status", OUTBOX_STATES), name="status"),
        Index(None, "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=64)
    stage: str = Field(max_length=32)
    channel: str = Field(max_length=20)
    person_id: int = Field(foreign_key="person.id", index=True)
    address: str = Field(default="{}", max_length=1000)  # JSON: name, email, wecom_userid, mobile
    title: str = Field(default="", max_length=500)        # the subject line
    body_text: str = Field(default="", sa_type=Text)
    body_html: str | None = Field(default=None, sa_type=Text)
    body_markdown: str | None = Field(default=None, sa_type=Text)
    status: str = Field(default="planned", max_length=12)
    attempts: int = 0
    send_at: dt.datetime = Field(sa_type=DateTime)          # start of the planned sending window
    next_attempt_at: dt.datetime = Field(sa_type=DateTime)  # not sent before this
    last_error: str | None = Field(default=None, max_length=2000)
    claim: str | None = Field(default=None, max_length=32)  # the dispatch pass sending it
    claimed_at: dt.datetime | None = Field(default=None, sa_type=DateTime)
    sent_at: dt.datetime | None = Field(default=None, sa_type=DateTime)
    created_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)
    updated_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)
    # Faults (migration 0005, docs/service.md "Faults"). The process holding the claim
    # ("host/pid/process start"), and until when (UTC, real time; renewed while sending).
    claim_owner: str | None = Field(default=None, max_length=200)
    lease_until: dt.datetime | None = Field(default=None, sa_type=DateTime)
    progress: str | None = Field(default=None, max_length=100)  # parts delivered: "k:content hash"
    fault_since: dt.datetime | None = Field(default=None, sa_type=DateTime)  # channel fault streak


class OutboxStart(SQLModel, table=True):
    """The claim under which a row last went on the wire. Kept apart from ``outbox``: marking a
    row there would rewrite its rendered bodies once more per message. After a crash a
    ``sending`` row counts as ambiguous only when its current claim is recorded here."""
    __tablename__ = "outbox_start"

    outbox_id: int = Field(primary_key=True, foreign_key="outbox.id")
    claim: str = Field(max_length=32)
    started_at: dt.datetime = Field(sa_type=DateTime)


class ChannelState(SQLModel, table=True):
    """A channel's health: paused after an authentication/configuration/connection fault or a
    rate limit, until ``paused_until`` (the service clock). One row per channel route."""
    __tablename__ = "channel_state"

    channel: str = Field(primary_key=True, max_length=20)
    paused_until: dt.datetime | None = Field(default=None, sa_type=DateTime)
    reason: str | None = Field(default=None, max_length=2000)
    failures: int = 0                      # consecutive channel faults (the back-off exponent)
    since: dt.datetime | None = Field(default=None, sa_type=DateTime)   # first fault of the streak
    updated_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)


class ServiceLease(SQLModel, table=True):
    """A lease row: the process allowed to plan/materialise (``plan``) or, on SQLite, to run
    the daemon (``serve``). Owner "host/pid/process start"; ``expires_at`` is UTC real time."""
    __tablename__ = "service_lease"

    name: str = Field(primary_key=True, max_length=32)
    owner: str = Field(max_length=200)
    expires_at: dt.datetime = Field(sa_type=DateTime)
    acquired_at: dt.datetime = Field(sa_type=DateTime)


class OutboxItem(SQLModel, table=True):
    """One occurrence at one reminder stage told in one outbox message. Unique per (occurrence,
    stage, channel, person): a stage is planned once per person and channel, in any pass."""
    __tablename__ = "outbox_item"
    __table_args__ = (
        UniqueConstraint("occurrence_id", "stage", "channel", "person_id"),
        CheckConstraint(_one_of("state", OUTBOX_ITEM_STATES), name="state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox.id", index=True)
    occurrence_id: int = Field(foreign_key="occurrence.id")
    stage: str = Field(max_length=32)
    channel: str = Field(max_length=20)
    person_id: int = Field(foreign_key="person.id")
    roles: str = Field(default="responsible", max_length=100)  # comma-separated
    state: str = Field(default="listed", max_length=12)
    # The due date this item told, as rendered into its message (migration 0006); a later
    # message says when it moved (scheduler/moved.py). None: planned before 0006.
    told_due: dt.date | None = Field(default=None)


# Scoring (scheduler/ledger.py, obligations/scoring.py, docs/scoring.md).
SCORE_ENTRY_KINDS = ("auto", "manual", "unset", "finding")


class ScoreEntry(SQLModel, table=True):
    """One score change of a unit on a scorecard item in an assessment year: the ledger.

    Never edited: an entry values one slot (an occurrence under a rule, a counted submission, the
    assessor's manual score, a finding) and a later entry of the same slot replaces it
    (`corrects_id` names the entry it replaces). kind: auto (posted from tracked obligations),
    manual (`ccal score set`), unset (a manual score lifted), finding (a deduction)."""
    __tablename__ = "score_entry"
    __table_args__ = (
        CheckConstraint(_one_of("kind", SCORE_ENTRY_KINDS), name="kind"),
        Index(None, "scorecard", "year", "unit_code", "item", "slot"),
    )

    id: int | None = Field(default=None, primary_key=True)
    scorecard: str = Field(max_length=100)        # the pack whose scorecard it is
    unit_code: str = Field(foreign_key="unit.code", max_length=32)
    year: int
    item: str = Field(max_length=20)              # "1.2"; the bonus and negative list ids too
    rule: str = Field(default="", max_length=50)  # rule id within the item (auto entries)
    slot: str = Field(max_length=100)             # what the entry values; latest per slot counts
    points: float
    reason: str = Field(default="", max_length=2000)
    kind: str = Field(max_length=10)
    source_kind: str = Field(default="", max_length=20)   # occurrence | submission | finding | lecture | order | manual
    source_id: int | None = None
    recorded_by: str = Field(default="", max_length=100)
    recorded_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)
    corrects_id: int | None = Field(default=None, foreign_key="score_entry.id", index=True)


class Finding(SQLModel, table=True):
    """A violation found in an inspection (or detected by ccal: a lecture held unapproved), with
    the points it deducts. Never edited: a correction is a new row with `corrects_id`; a
    deduction corrected to 0 withdraws it. `key` makes automatic findings idempotent."""
    __tablename__ = "finding"

    id: int | None = Field(default=None, primary_key=True)
    scorecard: str = Field(max_length=100)
    unit_code: str = Field(foreign_key="unit.code", index=True, max_length=32)
    year: int
    item: str = Field(max_length=20)
    found_on: dt.date
    description: str = Field(max_length=2000)
    count: int = 1                                # violations (处/次) or people (人)
    deduct: float                                 # points deducted, >= 0
    source_kind: str = Field(default="inspection", max_length=20)  # inspection | lecture | order ...
    source_id: int | None = None
    key: str | None = Field(default=None, max_length=200, unique=True)
    recorded_by: str = Field(default="", max_length=100)
    recorded_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)
    corrects_id: int | None = Field(default=None, foreign_key="finding.id", index=True)


class ScoreNotice(SQLModel, table=True):
    """A deduction told to the unit (a line in its secretary's digest), once per person and
    channel. Kept apart from the ledger so that ledger rows are never updated."""
    __tablename__ = "score_notice"
    __table_args__ = (UniqueConstraint("entry_id", "person_id", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="score_entry.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    channel: str = Field(default="", max_length=20)
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id")
    notified_at: dt.datetime = Field(sa_type=DateTime)


# Lecture pre-approval and supervision orders (scheduler/lectures.py, scheduler/orders.py,
# docs/lectures-and-orders.md).
LECTURE_VERSION_KINDS = ("register", "change", "cancel")
LECTURE_ACTIONS = ("report", "approve", "reject", "held")


class Lecture(SQLModel, table=True):
    """A report meeting, seminar, lecture or forum of an organising unit (一会一报). What it is
    and when lives in `lecture_version` rows; what happened to it in `lecture_action` rows."""
    __tablename__ = "lecture"

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(foreign_key="unit.code", index=True, max_length=32)
    recorded_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)
    recorded_by: str = Field(default="", max_length=100)


class LectureVersion(SQLModel, table=True):
    """One version of a lecture: the registration, a change (which voids the approval: a new
    version needs its own) or the cancellation. Never edited; the latest version is current.
    A version that needs approval has its own event (`event_id`) and so its own occurrence
    `E<event id>`, whose submissions are its applications."""
    __tablename__ = "lecture_version"
    __table_args__ = (CheckConstraint(_one_of("kind", LECTURE_VERSION_KINDS), name="kind"),)

    id: int | None = Field(default=None, primary_key=True)
    lecture_id: int = Field(foreign_key="lecture.id", index=True)
    kind: str = Field(max_length=10)
    title: str = Field(max_length=500)
    speaker: str = Field(default="", max_length=200)
    place: str = Field(default="", max_length=200)
    starts_at: dt.datetime = Field(sa_type=DateTime)   # local; 00:00 when only the day is known
    time_known: bool = False
    categories: str = Field(default="", max_length=200)  # sensitive category keys, comma-separated
    obligation_key: str | None = Field(default=None, max_length=100)  # the approval it needs (None: report only)
    event_id: int | None = Field(default=None, foreign_key="event.id", index=True)
    reason: str = Field(default="", max_length=2000)   # why it changed / was cancelled
    recorded_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)
    recorded_by: str = Field(default="", max_length=100)


class LectureAction(SQLModel, table=True):
    """Something that happened to a version: reported (a lecture needing no approval; the
    application of one that does is a submission on its occurrence), approved or rejected by
    the propaganda department, held. Never edited: a later row of the same action wins."""
    __tablename__ = "lecture_action"
    __table_args__ = (CheckConstraint(_one_of("action", LECTURE_ACTIONS), name="action"),)

    id: int | None = Field(default=None, primary_key=True)
    lecture_id: int = Field(foreign_key="lecture.id", index=True)
    version_id: int = Field(foreign_key="lecture_version.id", index=True)
    action: str = Field(max_length=10)
    at: dt.datetime = Field(sa_type=DateTime)          # local; 00:00 when only the day is known
    time_known: bool = True
    note: str = Field(default="", max_length=2000)
    recorded_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)
    recorded_by: str = Field(default="", max_length=100)


class Order(SQLModel, table=True):
    """A supervision order (督办单): a one-off obligation of a unit with a rectification
    deadline, tracked as the occurrence `O<id>` of an `ad_hoc` obligation. Never edited: it is
    closed by a submission on that occurrence, withdrawn by a waiver. `item` (with `scorecard`)
    is the scorecard item an overdue order deducts from when the issuer names one."""
    __tablename__ = "supervision_order"

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(foreign_key="unit.code", index=True, max_length=32)
    obligation_key: str = Field(max_length=100)
    text: str = Field(max_length=2000)
    issued_on: dt.date
    deadline: dt.date
    scorecard: str | None = Field(default=None, max_length=100)
    item: str | None = Field(default=None, max_length=20)
    deduct: float | None = None
    recorded_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)
    recorded_by: str = Field(default="", max_length=100)


class TrackedYear(SQLModel, table=True):
    """A year whose occurrences were materialised for every unit (`scheduler/tracking.py`), with
    the fingerprint of the packs they were derived from. Queries read such a year from the
    table alone; a year not recorded (or recorded under other packs) is completed on the fly
    without writing."""
    __tablename__ = "tracked_year"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    fingerprint: str = Field(max_length=64)
    materialised_at: dt.datetime = Field(sa_type=DateTime)


class ScoreWatermark(SQLModel, table=True):
    """The last automatic posting of a scorecard's year (`ledger.post_automatic`): the next one
    reads only occurrences whose state changed since `posted_at` or that fell due since
    `as_of`."""
    __tablename__ = "score_watermark"

    scorecard: str = Field(primary_key=True, max_length=100)
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    as_of: dt.date
    posted_at: dt.datetime = Field(sa_type=DateTime)
    fingerprint: str = Field(default="", max_length=64)


# The web (scheduler/web/, scheduler/links.py, scheduler/reviews.py, docs/web.md; migration 0008).
STAFF_ROLES: dict[str, str] = {"propaganda": "宣传部工作人员", "viewer": "只读"}
REVIEW_DECISIONS = ("accepted", "returned")


class StaffUser(SQLModel, table=True):
    """A staff account of the web (the propaganda department): argon2 password hash, role
    propaganda (may record) or viewer (reads only)."""
    __tablename__ = "staff_user"
    __table_args__ = (CheckConstraint(_one_of("role", STAFF_ROLES), name="role"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=20)
    created_at: dt.datetime = Field(default_factory=local_now, sa_type=DateTime)


class PersonalLink(SQLModel, table=True):
    """A person's link into the web (no password). Only the SHA-256 of the token is stored;
    the token is HMAC(web secret, nonce), so it can be put into every message again without
    being stored (scheduler/links.py). `revoked_at` is set once, by `ccal link rotate`."""
    __tablename__ = "personal_link"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    nonce: str = Field(max_length=64)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: dt.datetime = Field(sa_type=DateTime)
    expires_at: dt.datetime = Field(sa_type=DateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=DateTime)


class SubmissionReview(SQLModel, table=True):
    """The department's decision on a submission: accepted, or returned (退回) with a reason.
    Never edited; one decision per submission. A returned submission stops counting."""
    __tablename__ = "submission_review"
    __table_args__ = (CheckConstraint(_one_of("decision", REVIEW_DECISIONS), name="decision"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True, unique=True)
    decision: str = Field(max_length=10)
    reason: str = Field(default="", max_length=2000)
    reviewed_by: str = Field(max_length=100)
    reviewed_at: dt.datetime = Field(sa_type=DateTime)


class WebAudit(SQLModel, table=True):
    """Every action taken in the web (and failed logins, for throttling): who, what, when."""
    __tablename__ = "web_audit"
    __table_args__ = (Index(None, "action", "actor", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(sa_type=DateTime)
    actor: str = Field(max_length=120)          # "staff:<name>" | "person:<id>" | "cli" | "anonymous"
    action: str = Field(max_length=40)          # submit, return, accept, waive, login, login_failed ...
    target: str = Field(default="", max_length=200)
    detail: str = Field(default="", max_length=2000)


class ServicePass(SQLModel, table=True):
    """The reminder service's last completed planning pass (one row, id 1, overwritten: a
    heartbeat, not a record). /healthz reads it (scheduler/heartbeat.py)."""
    __tablename__ = "service_pass"

    id: int | None = Field(default=None, primary_key=True)
    finished_at: dt.datetime = Field(sa_type=DateTime)   # wall-clock time in the configured zone
    clock: dt.datetime = Field(sa_type=DateTime)         # the pass's own `now` (differs under --now)
    duration_ms: int = 0
