"""Synthetic demo data. Idempotent: running it again refreshes, never duplicates."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.models import Client, UserRole
from server.passwords import Passwords
from server.services.accounts import create_user, find_user_by_email, set_password
from server.services.audit import Actor, add_audit
from server.services.billing.demo_seed import seed_billing_demo
from server.services.clients import CaregiverInput, ClientInput, create_client
from server.services.documentation.demo_seed import seed_documentation_demo
from server.services.scheduling.demo_seed import seed_schedule_demo
from server.services.video.demo_seed import seed_video_demo

DEMO_EMAIL = "therapist@demo.tandem.test"
DEMO_ADMIN_EMAIL = "admin@demo.tandem.test"

# Invented people: no real patient data anywhere.
DEMO_CLIENTS = [
    ClientInput(
        "Maya", "Okafor", "2019-04-12", "America/Chicago", "IL", "Fine-motor goals; dinosaurs!",
        [CaregiverInput("Ada Okafor", "Mother", "ada.okafor@example.test", "555-0101")],
    ),
    ClientInput(
        "Leo", "Brandt", "2020-09-03", "America/Chicago", "WI", "Feeding therapy, parent coaching.",
        [CaregiverInput("Jonas Brandt", "Father", "jonas.brandt@example.test", "555-0102")],
    ),
    ClientInput(
        "Priya", "Raman", "2018-01-25", "America/Denver", "CO", "Speech: /r/ and /s/ clusters.",
        [
            CaregiverInput("Meena Raman", "Mother", "meena.raman@example.test", "555-0103"),
            CaregiverInput("Kiran Raman", "Grandfather", "", "555-0104"),
        ],
    ),
    ClientInput(
        "Sam", "Whitfield", "2021-06-30", "America/Chicago", "IL", "Gross motor; toe walking.",
        [CaregiverInput("Rosa Whitfield", "Foster parent", "rosa.w@example.test", "555-0105")],
    ),
]  # fmt: skip


@dataclass
class DemoInfo:
    email: str
    password: str
    extra_lines: list[str] = field(default_factory=list)


async def seed_demo(settings: Settings, base_url: str) -> DemoInfo:
    passwords = Passwords()
    # A fresh password every run: a demo database must never carry a password known to the world.
    password = secrets.token_urlsafe(9)
    engine = make_engine(settings.database_url)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            actor = Actor("system", None, "demo-seed")
            therapist = await find_user_by_email(session, DEMO_EMAIL)
            if therapist is None:
                therapist = await create_user(
                    session,
                    passwords,
                    email=DEMO_EMAIL,
                    name="Jordan Avery, OTR/L",
                    password=password,
                    time_zone="America/Chicago",
                )
            else:
                await set_password(session, passwords, therapist, password)
            admin = await find_user_by_email(session, DEMO_ADMIN_EMAIL)
            if admin is None:
                admin = await create_user(
                    session,
                    passwords,
                    email=DEMO_ADMIN_EMAIL,
                    name="Practice Admin",
                    password=password,
                    role=UserRole.admin,
                    time_zone="America/Chicago",
                )
            else:
                await set_password(session, passwords, admin, password)
            existing = set(
                (c.first_name, c.last_name)
                for c in await session.scalars(
                    select(Client).where(Client.therapist_id == therapist.id)
                )
            )
            for data in DEMO_CLIENTS:
                if (data.first_name, data.last_name) not in existing:
                    await create_client(session, therapist, _copy(data), actor)
            await session.flush()
            schedule_lines = await seed_schedule_demo(session, therapist, actor, base_url=base_url)
            # After the schedule: it rebuilds the appointments the demo note is linked to.
            schedule_lines += await seed_documentation_demo(
                session, therapist, actor, base_url=base_url
            )
            # After documentation: it charges visits against the plans of care made there.
            schedule_lines += await seed_billing_demo(session, therapist, actor, base_url=base_url)
            add_audit(session, actor, "demo.seed", detail={"as_of": date.today().isoformat()})
            info = DemoInfo(DEMO_EMAIL, password)
            info.extra_lines.append(f"(admin: {DEMO_ADMIN_EMAIL}, same password)")
            info.extra_lines.extend(await seed_video_demo(session, therapist, settings, base_url))
            info.extra_lines.extend(schedule_lines)
            return info
    finally:
        await engine.dispose()


def _copy(data: ClientInput) -> ClientInput:
    return ClientInput(
        data.first_name,
        data.last_name,
        data.date_of_birth,
        data.time_zone,
        data.home_state,
        data.notes,
        [CaregiverInput(c.name, c.relationship, c.email, c.phone) for c in data.caregivers],
    )
