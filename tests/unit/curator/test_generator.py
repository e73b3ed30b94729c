import ipaddress
import re
from collections import Counter

import pytest

from services.curator.core.generator import AGENTS, generate_records
from services.curator.core.validators import card_ok, iban_ok, ssn_ok


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return list(generate_records(1000, seed=11))


def test_same_records_when_seed_repeats():
    assert list(generate_records(50, seed=3)) == list(generate_records(50, seed=3))
    assert list(generate_records(50, seed=3)) != list(generate_records(50, seed=4))


def test_difficulty_skewed_like_the_seed_when_generating(records):
    assert Counter(r["difficulty"] for r in records) == {"easy": 580, "medium": 420}


def test_all_five_agents_present_with_their_system_prompt_when_generating(records):
    assert {r["agent"] for r in records} == set(AGENTS)
    assert all(
        r["messages"][0]["role"] == "system" and r["agent"] in r["messages"][0]["content"].lower() for r in records
    )


def test_every_labelled_span_is_a_valid_value_of_its_type(records):
    seen = Counter()
    for record in records:
        for label in record["pii_spans"]:
            value = record["messages"][label["message"]]["content"][label["start"] : label["end"]]
            kind = label["type"]
            seen[kind] += 1
            digits = re.sub(r"\D", "", value)
            if kind == "CARD":
                assert card_ok(digits), value
            elif kind == "IBAN":
                assert iban_ok(value.replace(" ", "")), value
            elif kind == "SSN":
                assert ssn_ok(digits[:3], digits[3:5], digits[5:]), value
            elif kind == "IP":
                ipaddress.ip_address(value.partition(":")[0] if value.count(":") == 1 else value)
            elif kind == "EMAIL":
                assert value.count("@") == 1 and value == value.strip(), value
            else:
                assert 7 <= len(digits) <= 21, value
    assert set(seen) == {"EMAIL", "PHONE", "SSN", "CARD", "IBAN", "IP"}
    assert min(seen.values()) >= 100


def test_lookalikes_present_when_generating(records):
    text = "\n".join(m["content"] for r in records for m in r["messages"])
    for pattern in (
        r"\b97[89]-\d",
        r"[0-9a-f]{8}-[0-9a-f]{4}-4",
        r"\b1Z[0-9A-Z]{16}\b",
        r"\bv?\d+\.\d+\.\d+",
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}",
        r"\$\d",
        r"\b\d{4} \d{4} \d{4} \d{4}\b",
    ):
        assert re.search(pattern, text), pattern
