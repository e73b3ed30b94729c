import json

import pytest
from typer.testing import CliRunner

from services.curator.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_llm(monkeypatch):
    # The developer's own endpoint, if any, must not leak into these tests.
    monkeypatch.setenv("GENESIS_LLM_BASE_URL", "")


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_generate_scrub_audit_rebalance_pipeline_leaves_no_pii_and_the_target_mix(tmp_path):
    assert invoke("generate", tmp_path / "raw", "--count", 400, "--seed", 3).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == [
        f"{a}_agent_examples.jsonl" for a in ("analyst", "content", "legal", "qa", "support")
    ]
    scrubbed = invoke("scrub", tmp_path / "raw", tmp_path / "clean")
    assert scrubbed.exit_code == 0, scrubbed.output
    assert "400 records written, 0 rejected" in scrubbed.output
    rebalanced = invoke("rebalance", tmp_path / "clean", tmp_path / "balanced.jsonl", "--seed", 1, "--json")
    assert rebalanced.exit_code == 0, rebalanced.output
    assert json.loads(rebalanced.output)["maker"] == "compose"
    audited = invoke("audit", tmp_path / "balanced.jsonl", "--json", "--report", tmp_path / "audit.md")
    report = json.loads(audited.output)
    assert all(check["passed"] for check in report["checks"]), report["checks"]
    assert (tmp_path / "audit.md").read_text().startswith("# Training quality audit v2")


def test_evaluate_prints_scores_for_ours_and_the_seed_when_asked_for_json():
    result = invoke("evaluate", "--set", "generated", "--count", 200, "--no-peers", "--json")
    scores = json.loads(result.output)
    assert set(scores) == {"ours", "seed regexes"}
    assert scores["ours"]["CARD"]["recall"] >= scores["seed regexes"]["CARD"]["recall"]


def test_evaluate_reports_per_locale_and_lookalikes_when_scoring_the_independent_set():
    result = invoke("evaluate", "--count", 300, "--no-peers", "--json")
    ours = json.loads(result.output)["ours"]
    assert len(ours["locales"]) >= 21 and "libphonenumber" in ours["locales"]
    assert set(ours["lookalikes"]) >= {"part number", "order id", "isbn", "timestamp", "version", "price"}
    assert ours["NAME"]["labelled"] > 0 and ours["NAME"]["recall"] == 0.0  # names are not ours to find


def test_evaluate_refuses_an_unknown_set_with_usage_error():
    result = invoke("evaluate", "--set", "mine")
    assert result.exit_code == 2 and "--set" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("rebalance", "IN", "OUT", "--target", "easy=0.5,medium=0.6"),
        ("scrub", "missing.jsonl", "OUT"),
        ("audit", "missing-folder"),
        ("generate", "OUT.jsonl", "--agents", "qa,pirate"),
        ("scrub", "IN", "OUT", "--workers", "-1"),
    ],
)
def test_usage_error_exits_2_with_one_line_reason_when_input_is_bad(tmp_path, args):
    (tmp_path / "IN").write_text('{"messages": []}\n')
    result = invoke(*(str(tmp_path / a) if a in ("IN", "OUT", "OUT.jsonl") else a for a in args))
    assert result.exit_code == 2, result.output


def test_rebalance_names_file_and_line_when_a_record_is_malformed(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"messages": [], "difficulty": "easy"}\n{oops\n')
    result = invoke("rebalance", tmp_path / "in.jsonl", tmp_path / "out.jsonl")
    assert result.exit_code == 2
    assert f"{tmp_path / 'in.jsonl'}:2: not valid JSON" in result.output.replace("\n", "")


def test_bad_field_path_setting_exits_2_before_writing_when_scrubbing(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"messages": []}\n')
    result = invoke("scrub", tmp_path / "in.jsonl", tmp_path / "out.jsonl", "--field", "messages[].")
    assert result.exit_code == 2 and "bad field path" in result.output
    assert not (tmp_path / "out.jsonl").exists()
