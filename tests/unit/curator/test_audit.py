from services.curator.core.audit import Auditor, render_markdown
from services.curator.core.spans import PiiType


def record(content: str, difficulty: str | None = "easy", agent: str = "qa") -> dict:
    result = {"agent": agent, "messages": [{"role": "user", "content": content}]}
    if difficulty:
        result["difficulty"] = difficulty
    return result


def test_audit_counts_pii_difficulty_and_duplicates_when_records_stream_in(detector):
    auditor = Auditor(detector.detect)
    for item in [
        record("mail a@b.io or call 201-555-0123"),
        record("Mail A@B.io  or call 201-555-0123"),
        record("clean text", "hard", "legal"),
        record("clean text", "hard", "legal"),
        record("clean text", "hard", "legal"),
        record("no label", None),
    ]:
        auditor.add(item)
    auditor.add_malformed()
    result = auditor.result
    assert result.records == 6 and result.malformed == 1
    assert result.pii == {PiiType.EMAIL: 2, PiiType.PHONE: 2}
    assert result.records_with_pii == 2
    assert result.difficulty == {"easy": 2, "hard": 3, "missing": 1}
    assert (result.duplicates, result.duplicate_groups) == (3, 2)
    assert result.agents == {"qa": 3, "legal": 3}


def test_report_marks_checks_and_lists_malformed_lines_when_rendered(detector):
    auditor = Auditor(detector.detect)
    for difficulty, count in (("easy", 30), ("medium", 45), ("hard", 25)):
        for i in range(count):
            auditor.add(record(f"{difficulty} question {i}", difficulty))
    text = render_markdown(
        auditor.result, "data/clean", "2025-11-08 12:00 UTC", ["data/clean/a.jsonl:3: not valid JSON"]
    )
    assert text.startswith("# Training quality audit v2\n")
    assert "| no PII left | ✅ pass | 0 values in 0 records |" in text
    assert "| difficulty within 5 points of 30/45/25 | ✅ pass | easy 30%, medium 45%, hard 25% |" in text
    assert "| every line is a record | ✅ pass |" in text
    assert "- data/clean/a.jsonl:3: not valid JSON" in text


def test_report_fails_checks_when_pii_and_skew_remain(detector):
    auditor = Auditor(detector.detect)
    auditor.add(record("card 4111 1111 1111 1111"))
    checks = {name: ok for name, ok, _ in auditor.result.checks()}
    assert checks["no PII left"] is False
    assert checks["difficulty within 5 points of 30/45/25"] is False
