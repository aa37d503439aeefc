"""`tandem billing ...`: the documents out of the billing domain, from the command line.

  tandem billing export-837p --from 2026-11-01 --to 2026-11-30 --out claims.x12
  tandem billing export-csv  --from 2026-11-01 --to 2026-11-30 --out charges.csv

Charges held back by the checks are listed on standard error with their reasons and left out
of the file; the exit status is then 1, so a script cannot miss them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from server.config import Settings


@dataclass
class Written:
    path: Path
    count: int
    held: list[str]


def add_billing_parser(sub: Any) -> None:
    p_billing = sub.add_parser("billing", help="billing documents: 837P claims, the CSV ledger")
    billing_sub = p_billing.add_subparsers(dest="billing_command", required=True, metavar="ACTION")
    for name, what in (
        ("export-837p", "write the 837P of the confirmed insurance charges in a date range"),
        ("export-csv", "write every confirmed charge line in a date range as CSV"),
    ):
        p = billing_sub.add_parser(name, help=what)
        p.add_argument("--from", dest="start", required=True, type=date.fromisoformat,
                       metavar="YYYY-MM-DD", help="first date of service")  # fmt: skip
        p.add_argument("--to", dest="end", required=True, type=date.fromisoformat,
                       metavar="YYYY-MM-DD", help="last date of service")  # fmt: skip
        p.add_argument("--out", required=True, type=Path, metavar="PATH")
        p.add_argument(
            "--therapist", metavar="EMAIL", help="whose practice (needed when there are several)"
        )
        if name == "export-837p":
            p.add_argument(
                "--test", action="store_true", help="mark the interchange as a test (ISA15 T)"
            )


async def _export(settings: Settings, args: argparse.Namespace) -> Written:
    from sqlalchemy import select

    from server.db import make_engine, make_sessionmaker, transaction
    from server.models import User, UserRole
    from server.services.audit import Actor
    from server.services.billing.claims import export_837p
    from server.services.billing.ledger import ledger_csv

    engine = make_engine(settings.database_url)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            query = select(User).where(User.role == UserRole.therapist, User.is_active.is_(True))
            if args.therapist:
                query = query.where(User.email == args.therapist.strip().lower())
            therapists = list(await session.scalars(query))
            if len(therapists) != 1:
                raise SystemExit(
                    "tandem: no such therapist" if args.therapist or not therapists
                    else "tandem: several therapists: say whose with --therapist EMAIL"
                )  # fmt: skip
            therapist = therapists[0]
            actor = Actor("system", None, "cli")
            if args.billing_command == "export-837p":
                export = await export_837p(
                    session, therapist, args.start, args.end, actor, production=not args.test
                )
                held = [
                    f"{c.claim_number} {c.service_date}: " + "; ".join(p.message for p in problems)
                    for c, problems in export.held
                ]
                if export.text:
                    args.out.write_text(export.text, encoding="ascii")
                return Written(args.out, len(export.claims), held)
            text = await ledger_csv(session, therapist, args.start, args.end, actor)
            args.out.write_text(text, encoding="utf-8")
            return Written(args.out, text.count("\n") - 1, [])
    finally:
        await engine.dispose()


def run_billing(settings: Settings, args: argparse.Namespace) -> int:
    if args.end < args.start:
        print("tandem: --to is before --from", file=sys.stderr)
        return 2
    written = asyncio.run(_export(settings, args))
    for line in written.held:
        print(f"tandem: held back: {line}", file=sys.stderr)
    if args.billing_command == "export-837p":
        if written.count == 0:
            print("tandem: no confirmed insurance charge is ready in that range; nothing written",
                  file=sys.stderr)  # fmt: skip
            return 1
        print(f"tandem: wrote {written.count} claims to {written.path}")
    else:
        print(f"tandem: wrote {written.count} charge lines to {written.path}")
    return 1 if written.held else 0
