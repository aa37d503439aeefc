"""Network test bed fixtures: namespaces the test makes and removes (root, iproute2, iptables)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from netbed import NetBed, Sites, bed_missing
from services import service_missing


@pytest.fixture
def bed() -> Iterator[NetBed]:
    missing = bed_missing()
    if missing:
        service_missing(missing)
    with NetBed() as made:
        yield made


@pytest.fixture
def sites(bed: NetBed) -> Sites:
    return Sites.make(bed)
