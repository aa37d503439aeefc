"""Therapist and admin accounts: passwords, sign-in sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import LoginSession, User, UserRole
from server.passwords import Passwords

MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta


def normalize_email(email: str) -> str:
    return email.strip().lower()


def validate_email(email: str) -> str:
    email = normalize_email(email)
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or len(email) > 320 or " " in email:
        raise AccountError("Enter a valid email address.")
    return email


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == normalize_email(email)))


async def create_user(
    session: AsyncSession,
    passwords: Passwords,
    *,
    email: str,
    name: str,
    password: str,
    role: UserRole = UserRole.therapist,
    time_zone: str = "America/New_York",
) -> User:
    email = validate_email(email)
    name = name.strip()
    if not name:
        raise AccountError("Enter a name.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.")
    if await find_user_by_email(session, email) is not None:
        raise AccountError(f"An account for {email} already exists.")
    user = User(
        email=email,
        name=name,
        role=role,
        password_hash=await passwords.hash(password),
        time_zone=time_zone,
    )
    session.add(user)
    await session.flush()
    return user


async def set_password(
    session: AsyncSession, passwords: Passwords, user: User, password: str
) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.")
    user.password_hash = await passwords.hash(password)
    # A new password signs every browser out.
    await session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))


# Verified against when the email is unknown, so both failure paths cost the same time.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$SKlgHmw41vnmTt9PPe1ZXg$vS1PnN"
    "23sD+9n+ppRziF7BwAfOY/zVgv/LmTnrCldo8"
)


async def authenticate(
    session: AsyncSession, passwords: Passwords, email: str, password: str
) -> User | None:
    user = await find_user_by_email(session, email)
    if user is None or not user.is_active:
        await passwords.verify(_DUMMY_HASH, password)
        return None
    if not await passwords.verify(user.password_hash, password):
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash(password)
    user.last_login_at = utcnow()
    return user


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


async def start_login_session(
    session: AsyncSession,
    user: User,
    policy: SessionPolicy,
    *,
    remote_addr: str | None,
    user_agent: str | None,
    replaces: str | None = None,
) -> str:
    """Returns a fresh cookie value; any session the browser held before is dropped (rotation)."""
    if replaces:
        await end_login_session(session, replaces)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        LoginSession(
            token_hash=hash_token(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + policy.absolute,
            remote_addr=remote_addr,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    await session.flush()
    return token


async def end_login_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(LoginSession).where(LoginSession.token_hash == hash_token(token)))


# Touching last_seen on every request would write on every page view; a minute is precise enough.
_TOUCH_INTERVAL = timedelta(minutes=1)


async def resolve_login_session(
    session: AsyncSession, token: str, policy: SessionPolicy, *, now: datetime | None = None
) -> User | None:
    now = now or utcnow()
    row = await session.scalar(
        select(LoginSession).where(LoginSession.token_hash == hash_token(token))
    )
    if row is None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= policy.idle:
        await session.delete(row)
        return None
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if now - row.last_seen_at >= _TOUCH_INTERVAL:
        row.last_seen_at = now
    return user
