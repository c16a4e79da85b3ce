"""Personal links: how the person a reminder is for opens their own page without a password.

A link is ``<base_url>/l/<token>``. The token is 256 bits: HMAC-SHA256(web secret, nonce) in
URL-safe base64, where the nonce is 128 random bits stored with the link. Only the token's
SHA-256 is stored, so the database alone opens nothing; the secret plus the nonce let the
planner put the same link into every message without keeping the token. A person has at most
one link in force: it expires after ``[web] link_days`` and ``ccal link rotate`` revokes it at
once (the next message carries a new one). Changing the web secret makes every link stale:
a stale link is replaced by a new one the next time a message is rendered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from scheduler.models import PersonalLink, Person
from scheduler.web.settings import WebSettings, web_secret, web_settings

if TYPE_CHECKING:
    from scheduler.app import App


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def derive_token(secret: bytes, nonce: str) -> str:
    mac = hmac.new(secret, b"ccal-link:" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


@dataclass(frozen=True)
class LinkCheck:
    """What a presented token opens: the person, or why nothing (Chinese, for the page)."""
    person_id: int | None
    problem: str | None = None


class Links:
    """Links of one app (secret and settings read once)."""

    def __init__(self, app: "App", *, settings: WebSettings | None = None, secret: bytes | None = None):
        self.app = app
        self.settings = settings or web_settings(app.config)
        self._secret = secret

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = web_secret(self.app.config)
        return self._secret

    # -- issuing
    def current(self, session: Session, person_id: int, now: datetime) -> PersonalLink | None:
        row = session.exec(select(PersonalLink).where(
            PersonalLink.person_id == person_id, col(PersonalLink.revoked_at).is_(None),
            col(PersonalLink.expires_at) > now).order_by(col(PersonalLink.id).desc())).first()
        if row is not None and token_hash(derive_token(self.secret, row.nonce)) != row.token_hash:
            return None      # made with another secret: stale
        return row

    def token_for(self, session: Session, person_id: int, now: datetime) -> str:
        """The person's token in force, a new link when none is (flushes, caller commits)."""
        row = self.current(session, person_id, now)
        if row is None:
            nonce = secrets.token_hex(16)
            token = derive_token(self.secret, nonce)
            row = PersonalLink(person_id=person_id, nonce=nonce, token_hash=token_hash(token),
                               created_at=now, expires_at=now + timedelta(days=self.settings.link_days))
            session.add(row)
            session.flush()
            return token
        return derive_token(self.secret, row.nonce)

    def url_for(self, session: Session, person_id: int, now: datetime, occurrence_id: int | None = None) -> str:
        return self.url(self.token_for(session, person_id, now), occurrence_id)

    def url(self, token: str, occurrence_id: int | None = None) -> str:
        """The link of a token: the person's page, or straight to one occurrence's form."""
        tail = f"/o/{occurrence_id}" if occurrence_id is not None else ""
        return f"{self.settings.base_url}/l/{token}{tail}"

    @property
    def public_url(self) -> str:
        """The page a group-chat message links to: it carries no token (it asks for one)."""
        return f"{self.settings.base_url}/me"

    # -- checking
    def check(self, session: Session, token: str, now: datetime) -> LinkCheck:
        if not token or len(token) > 100:
            return LinkCheck(None, "链接无效。请使用最近一条提醒消息中的链接，或联系党委宣传部。")
        row = session.exec(select(PersonalLink).where(PersonalLink.token_hash == token_hash(token))).first()
        if row is None:
            return LinkCheck(None, "链接无效。请使用最近一条提醒消息中的链接，或联系党委宣传部。")
        if row.revoked_at is not None:
            return LinkCheck(None, "该链接已停用（已更换新链接）。请使用最近一条提醒消息中的链接。")
        if row.expires_at <= now:
            return LinkCheck(None, "该链接已过期。请使用最近一条提醒消息中的链接，或联系党委宣传部。")
        return LinkCheck(row.person_id)

    def valid_link_id(self, session: Session, link_id: int, now: datetime) -> bool:
        """A session made from a link lives only as long as the link (rotation ends it)."""
        row = session.get(PersonalLink, link_id)
        return row is not None and row.revoked_at is None and row.expires_at > now

    def link_id(self, session: Session, token: str) -> int | None:
        row = session.exec(select(PersonalLink.id).where(PersonalLink.token_hash == token_hash(token))).first()
        return row

    # -- revoking
    def rotate(self, session: Session, person_id: int, now: datetime) -> tuple[int, str]:
        """Revoke the person's links in force and issue a new one: (revoked count, new URL)."""
        rows = session.exec(select(PersonalLink).where(
            PersonalLink.person_id == person_id, col(PersonalLink.revoked_at).is_(None))).all()
        for row in rows:
            row.revoked_at = now
            session.add(row)
        session.flush()
        return len(rows), self.url_for(session, person_id, now)


def find_person(session: Session, who: str) -> Person:
    """A person by id, key (email, wecom:<id>...), email or exact name; UserInputError else."""
    from scheduler.app import UserInputError
    q = None
    if who.isdigit():
        q = session.get(Person, int(who))
    if q is None:
        q = session.exec(select(Person).where(Person.key == who.strip().lower())).first()
    if q is None:
        matches = session.exec(select(Person).where(Person.name == who.strip())).all()
        if len(matches) > 1:
            raise UserInputError(f"有多位同名人员“{who}”，请用邮箱或编号指定：" +
                                 "，".join(f"{p.id}（{p.email or p.key}）" for p in matches))
        q = matches[0] if matches else None
    if q is None:
        raise UserInputError(f"未知人员：{who}（可用姓名、邮箱或编号）")
    return q
