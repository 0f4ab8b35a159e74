"""`scrapeguard summary` on a known decisions file."""

from pathlib import Path

from jobs.cli import main

GOLDEN = Path(__file__).parent / "golden"


def test_summary_counts_actions_reasons_and_subjects(capsys):
    assert main(["summary", "--decisions", str(GOLDEN / "logged_out_enumerator/expected.jsonl")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2 decisions on 1 subjects"
    assert "  block      1" in out and "  challenge  1" in out
    assert any(line.split() == ["ip_profile_views_1m", "2"] for line in out)
    assert any(line.split() == ["ip:192.0.2.66", "2"] for line in out)


def test_summary_of_a_missing_file_is_a_usage_error(tmp_path, capsys):
    assert main(["summary", "--decisions", str(tmp_path / "nope.jsonl")]) == 2
    assert capsys.readouterr().err == f"scrapeguard summary: --decisions {tmp_path / 'nope.jsonl'}: file not found\n"
