"""Mutated signaling frames for the fuzz tests: valid messages of every client type, broken in
the ways attackers and buggy clients break them (seeded, so a failure can be replayed)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

SEEDS: list[dict[str, Any]] = [
    {"type": "join", "v": 1, "client_id": "fuzz-client-0001", "token": "abc.def"},
    {"type": "join", "v": 1, "client_id": "fuzz-client-0001", "rejoin": "abc.def", "token": "x"},
    {"type": "admit", "participant_id": "p_abc"},
    {"type": "decline", "participant_id": "p_abc"},
    {"type": "remove", "participant_id": "p_abc"},
    {"type": "end"},
    {"type": "answer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n", "revision": 1},
    {"type": "media_state", "audio": True, "video": False},
    {"type": "keyframe", "publisher_id": "t_abc"},
    {"type": "leave"},
    {"type": "ping"},
    {"type": "record", "action": "request"},
    {"type": "consent", "request_id": "r_1", "accept": True},
    {"type": "observer_annotations", "allowed": True},
    {"type": "note", "client_ref": "n1", "text": "stacked 3 blocks", "goal_id": "g1"},
    {"type": "tag", "client_ref": "t1", "tag": "independent", "target": "p_abc"},
    {
        "type": "draw",
        "client_ref": "d1",
        "target": "p_abc",
        "show_to": ["t_abc"],
        "color": "#00ff00",
        "shapes": [{"kind": "arrow", "points": [[0.1, 0.1], [0.5, 0.5]], "width": 0.01}],
        "fade_ms": 2000,
    },
    {"type": "snapshot", "client_ref": "s1", "target": "p_abc"},
]

ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 2**63, -(2**70), 1.5, 1e308, "", " ", "\u0000", "\ud7ff\u202e",
    "x" * 5000, "../../etc/passwd", "<script>alert(1)</script>", "' OR 1=1 --", [], {}, [[[]]],
    {"type": "ping"}, ["p_abc"] * 40, "p_" + "a" * 70, "#zzzzzz", "NaN",
]  # fmt: skip


def _deep(rng: random.Random) -> str:
    depth = rng.choice([50, 999, 1001, 5000, 20_000])
    if rng.random() < 0.5:
        return '{"type":"ping","x":' + "[" * depth + "]" * depth + "}"
    depth = min(depth, 9000)
    return '{"type":"ping","x":' + '{"a":' * depth + "0" + "}" * depth + "}"


def _mutate_value(rng: random.Random, message: dict[str, Any]) -> dict[str, Any]:
    message = json.loads(json.dumps(message))
    ops = rng.randint(1, 3)
    for _ in range(ops):
        keys = list(message)
        choice = rng.random()
        if choice < 0.3 and keys:
            message[rng.choice(keys)] = rng.choice(ODD_VALUES)
        elif choice < 0.45 and keys:
            del message[rng.choice(keys)]
        elif choice < 0.6:
            message[rng.choice(["extra", "__proto__", "Type", "type "])] = rng.choice(ODD_VALUES)
        elif choice < 0.7:
            message["type"] = rng.choice([*(s["type"] for s in SEEDS), "PING", "", "welcome"])
        elif choice < 0.85 and "shapes" in message and isinstance(message["shapes"], list):
            shape = {"kind": "stroke", "points": [[rng.random(), rng.random()]] * 501}
            message["shapes"] = [shape] * rng.choice([1, 51])
        else:
            message = {"type": rng.choice(ODD_VALUES)}
    return message


def _mutate_text(rng: random.Random, text: str) -> str:
    data = bytearray(text.encode())
    choice = rng.random()
    if choice < 0.3 and data:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif choice < 0.5:
        data = data[: rng.randrange(len(data) + 1)]
    elif choice < 0.65:
        at = rng.randrange(len(data) + 1)
        data[at:at] = rng.choice([b"{", b"}", b"[", b'"', b"\\", b",", b":", b"\\u0000", b"\xff"])
    elif choice < 0.8:
        return text.replace('"', "'")
    else:
        return text + text
    return data.decode("utf-8", errors="replace")


def frames(seed: int, count: int) -> Iterator[str]:
    """`count` frames as text: mutated values, broken bytes, deep nesting and whole garbage."""
    rng = random.Random(seed)
    for _ in range(count):
        base = rng.choice(SEEDS)
        roll = rng.random()
        if roll < 0.45:
            yield json.dumps(_mutate_value(rng, base))
        elif roll < 0.8:
            yield _mutate_text(rng, json.dumps(base))
        elif roll < 0.87:
            yield _deep(rng)
        elif roll < 0.93:
            yield json.dumps(base)  # valid frames in between keep the state machine moving
        else:
            yield "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(1, 200)))


def mutated_sdp(rng: random.Random, sdp: str) -> str:
    """A real answer with lines dropped, repeated, reordered or corrupted."""
    lines = sdp.split("\r\n")
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(lines))
        roll = rng.random()
        if roll < 0.3:
            del lines[at]
        elif roll < 0.5:
            lines.insert(at, lines[rng.randrange(len(lines))])
        elif roll < 0.7:
            line = lines[at]
            cut = rng.randrange(len(line) + 1)
            lines[at] = line[:cut] + rng.choice(["", " ", ":", "999999999999", "\u0000", "a=x"])
        elif roll < 0.85:
            lines[at] = rng.choice(
                ["m=video 9 UDP/TLS/RTP/SAVPF", "a=rtpmap:96 VP8/0", "a=sendrecv", "a=mid:",
                 "a=fingerprint:sha-256 ZZ", "a=ssrc:-1 cname:x", "c=IN IP4 999.1.1.1",
                 "a=candidate:1 1 udp 1 1.2.3.4 99999 typ host", "a=setup:nonsense"]
            )  # fmt: skip
        else:
            rng.shuffle(lines)
    return "\r\n".join(lines)
