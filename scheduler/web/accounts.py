"""Staff accounts: argon2 password hashes (argon2-cffi: a vetted, salted, memory-hard hash
rather than anything hand-rolled), and the throttle on failed logins.

Failed logins are counted from the audit log (`web_audit`, action login_failed), so the
throttle holds across several web processes: after FAILURES_ALLOWED failures for one user name
within THROTTLE_WINDOW, further attempts are refused until the window has passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session, select

from scheduler.app import UserInputError
from scheduler.models import STAFF_ROLES, StaffUser
from scheduler.reviews import audit, recent_failures

if TYPE_CHECKING:
    from scheduler.app import App

FAILURES_ALLOWED = 5
THROTTLE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD = 8
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("ccal-no-such-user")   # unknown names cost as much time as known ones


def add_user(app: "App", name: str, role: str, password: str) -> StaffUser:
    name = name.strip()
    if not name or len(name) > 100:
        raise UserInputError("用户名不能为空，且不超过 100 个字符")
    if role not in STAFF_ROLES:
        raise UserInputError(f"未知角色 {role!r}（可选：{', '.join(STAFF_ROLES)}）")
    if len(password) < MIN_PASSWORD:
        raise UserInputError(f"密码至少 {MIN_PASSWORD} 个字符")
    with app.session() as session:
        if session.exec(select(StaffUser).where(StaffUser.name == name)).first() is not None:
            raise UserInputError(f"用户 {name} 已存在")
        user = StaffUser(name=name, password_hash=_hasher.hash(password), role=role, created_at=app.now())
        session.add(user)
        session.flush()
        audit(session, "cli", "user_add", f"staff:{name}", role, at=app.now())
        return user


def throttled(session: Session, name: str, now: datetime) -> bool:
    return recent_failures(session, f"login:{name}", now - THROTTLE_WINDOW) >= FAILURES_ALLOWED


def authenticate(session: Session, name: str, password: str, now: datetime) -> StaffUser | None:
    """The user if the password matches; records a failure otherwise (caller commits)."""
    user = session.exec(select(StaffUser).where(StaffUser.name == name)).first()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY, password)
        ok = user is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok:
        audit(session, f"login:{name[:100]}", "login_failed", at=now)
        return None
    audit(session, f"staff:{user.name}", "login", at=now)
    return user
