"""The observation summary as the session console shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from server.http.templating import make_templates
from server.services.video.observation import (
    GoalTally,
    ObservationSummary,
    Presence,
    RecordedSpan,
)

T0 = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


@dataclass
class Viewer:
    time_zone: str = "America/New_York"


def render(summary: ObservationSummary) -> str:
    template = make_templates().env.get_template("sessions/_observation.html")
    return template.render(summary=summary, current_user=Viewer())


def test_the_summary_lists_goals_tags_presence_and_recordings() -> None:
    summary = ObservationSummary(
        tag_counts=(("trial success", 7), ("trial fail", 3)),
        goals=(GoalTally("grasp", 7, 10, (("independent", 5),)),),
        attendance=(
            Presence("p_1", "Pat <Parent>", "parent", ((T0, T0 + timedelta(minutes=2)),), 125_000),
        ),
        recorded_spans=(RecordedSpan("r_1", T0, T0 + timedelta(seconds=90), 90_000),),
        recorded_ms=90_000,
        notes=1,
        drawings=2,
        snapshots=0,
    )
    page = render(summary)
    assert "grasp: 7 of 10 trials successful (independent 5)" in page
    assert 'data-tag="trial fail">trial fail: 3<' in page
    assert "Pat &lt;Parent&gt;" in page  # names are escaped
    assert "2 min 5 s" in page
    assert "10:00:00 AM\u201310:01:30 AM" in page  # in the viewer's zone, en dash between
    assert "90 s recorded in total" in page
    assert "1 note, 2 drawings, 0 snapshots" in page


def test_an_empty_session_says_so() -> None:
    page = render(ObservationSummary((), (), (), (), 0, 0, 0, 0))
    assert "Nothing was tagged, noted or recorded" in page
    assert "goal-tally" not in page
