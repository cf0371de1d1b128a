"""People's accounts as an admin keeps them: list, disable and enable, reset a password.

A disabled account cannot sign in and its sessions end at once (they live in Redis, indexed by
account: bigscreen.auth.sessions). So does a reset password's. The last enabled admin cannot be
disabled: nobody could administer the centre from the page any more (the command line's `user
add` would be the only way back).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from redis.exceptions import RedisError
from sqlalchemy import Connection, exists, or_, select, update

from bigscreen.admin.base import AdminCommand
from bigscreen.auth.passwords import hash_password, password_problem
from bigscreen.auth.roles import Role
from bigscreen.auth.sessions import Sessions
from bigscreen.db.models import User
from bigscreen.domain.schemas import Problem, field_error
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str | None
    role: str
    area: str | None
    active: bool
    created_at: datetime


def list_accounts(rt: Runtime) -> list[Account]:
    """Every account, enabled first, by username."""
    users = User.__table__
    with rt.engine.connect() as conn:
        rows = conn.execute(select(users).order_by(users.c.active.desc(), users.c.username)).all()
    return [Account(r.id, r.username, r.display_name, r.role, r.area_code, bool(r.active), r.created_at) for r in rows]


class AccountCommand(AdminCommand):
    """A change to one account, named by its username; its sessions end after the commit."""

    user_id: int | None = None

    def _account(self, conn: Connection):
        users = User.__table__
        row = conn.execute(select(users).where(users.c.username == self.subject).with_for_update()).first()
        if row is None:
            raise Problem(404, {"message": f"no account '{self.subject}'", "loc": ["username"], "reason": "unknown"})
        self.user_id = row.id
        return row

    def _set_active(self, conn: Connection, active: bool) -> None:
        users = User.__table__
        conn.execute(update(users).where(users.c.id == self.user_id).values(active=active))

    def end_sessions(self) -> None:
        try:
            Sessions(self.rt.redis, self.rt.keys).destroy_user(self.user_id)
        except RedisError as exc:
            log.warning("account '%s' changed, but its sessions could not be ended: %s", self.subject, exc)


class DisableAccount(AccountCommand):
    """Never the last enabled admin, also when two admins disable each other at the same moment:
    PostgreSQL takes the enabled admins' rows in one order before either looks; on SQLite the
    condition is part of the one UPDATE, and writes take turns."""

    action = "user.disable"

    def write(self, conn: Connection) -> None:
        users, other = User.__table__, User.__table__.alias("other")
        admin = Role.ADMIN.value
        conn.execute(select(users.c.id).where(users.c.role == admin, users.c.active.is_(True))
                     .order_by(users.c.id).with_for_update())
        row = self._account(conn)
        if not row.active:
            raise Problem(409, {"message": f"the account '{self.subject}' is disabled already", "loc": ["username"],
                                "reason": "already"})
        another_admin = exists().where(other.c.role == admin, other.c.active.is_(True), other.c.id != row.id)
        disabled = conn.execute(update(users).where(users.c.id == row.id, users.c.active.is_(True),
                                                    or_(users.c.role != admin, another_admin))
                                .values(active=False)).rowcount
        if disabled != 1:  # nothing was written
            raise Problem(409, {"message": f"'{self.subject}' is the last enabled admin: enable or add another "
                                           "admin first", "loc": ["username"], "reason": "last_admin"})
        self.audit(conn)

    def publish(self) -> None:
        self.end_sessions()


class EnableAccount(AccountCommand):
    action = "user.enable"

    def write(self, conn: Connection) -> None:
        row = self._account(conn)
        if row.active:
            raise Problem(409, {"message": f"the account '{self.subject}' is enabled already", "loc": ["username"],
                                "reason": "already"})
        self._set_active(conn, True)
        self.audit(conn)


class ResetPassword(AccountCommand):
    """A new password (Argon2id, bigscreen.auth.passwords); the account's sessions end."""

    action = "user.reset_password"

    def __init__(self, rt: Runtime, caller, username: str, password: str, *, by: str | None = None) -> None:
        super().__init__(rt, caller, username, by=by)
        self.password = password or ""

    def validate(self) -> None:
        super().validate()
        if problem := password_problem(self.password, self.subject):
            raise Problem(422, [field_error(["password"], problem, "password_weak")])
        self.password_hash = hash_password(self.password)  # slow on purpose: before the transaction

    def write(self, conn: Connection) -> None:
        self._account(conn)
        users = User.__table__
        conn.execute(update(users).where(users.c.id == self.user_id).values(password_hash=self.password_hash))
        self.audit(conn)

    def publish(self) -> None:
        self.end_sessions()
