"""People's accounts: create them (`bigscreen user add`), check a login. Disabling them and resetting
their passwords is an admin's: bigscreen.admin.accounts."""

from __future__ import annotations

import re

from sqlalchemy import select

from bigscreen.auth.passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from bigscreen.auth.roles import USER_ROLES, Principal, Role
from bigscreen.db.models import User
from bigscreen.process.runtime import Runtime

USERNAME = re.compile(r"[A-Za-z0-9_.\-]{3,64}")


class AccountError(ValueError):
    """A bad account field: names the field and what is wrong with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def add_user(rt: Runtime, username: str, password: str, role: str, area: str | None = None,
             display_name: str | None = None) -> User:
    if not USERNAME.fullmatch(username):
        raise AccountError("username", "3 to 64 letters, digits, '_', '.' or '-'")
    if role not in {r.value for r in USER_ROLES}:
        raise AccountError("role", f"one of {', '.join(r.value for r in USER_ROLES)} (got '{role}')")
    if problem := password_problem(password, username):
        raise AccountError("password", problem)
    if role == Role.LEADER and not area:
        raise AccountError("area", "a leader's account is scoped to an area: give its code")
    if area and area not in rt.areas.by_code:
        raise AccountError("area", f"unknown area '{area}'")
    with rt.sessions() as session, session.begin():
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise AccountError("username", f"'{username}' exists already")
        user = User(username=username, password_hash=hash_password(password), role=role, area_code=area or None,
                    active=True, display_name=display_name, created_at=rt.clock())
        session.add(user)
    return user


def principal_of(user: User) -> Principal:
    return Principal("user", user.username, Role(user.role), user.area_code, user.id)


def authenticate(rt: Runtime, username: str, password: str) -> Principal | None:
    """The account's principal if the password is right and the account active, else None
    (the same work either way, so timing does not tell which accounts exist)."""
    with rt.sessions() as session, session.begin():
        user = session.scalar(select(User).where(User.username == username))
        if not verify_password(user.password_hash if user else None, password) or not user.active:
            return None
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        return principal_of(user)

