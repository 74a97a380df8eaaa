"""benchmarks/judge.py: a rule's parts compare the two models' means over the splits."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from judge import verdict  # noqa: E402

RULE = {"splits": {"a": "", "b": ""},
        "parts": [{"stat": "avg", "margin": 0.0, "strict": True}, {"stat": "vocals", "margin": -0.1}]}


def sdr(avg_a, avg_b, vocals_a, vocals_b):
    return {"a": {"avg": avg_a, "vocals": vocals_a}, "b": {"avg": avg_b, "vocals": vocals_b}}


def test_candidate_ships_when_ahead_on_the_mean_and_within_the_margin_on_a_stem():
    result = verdict(RULE, {"candidate": sdr(6.0, 6.4, 5.0, 5.0), "incumbent": sdr(6.2, 6.1, 5.1, 5.05)})
    assert [p["passes"] for p in result["parts"]] == [True, True]
    assert result["parts"][0]["gap"] == 0.05 and result["ships"]


def test_a_tie_fails_a_strict_part_and_one_failed_part_stops_shipping():
    tie = verdict(RULE, {"candidate": sdr(6.0, 6.0, 5.0, 5.0), "incumbent": sdr(6.0, 6.0, 5.0, 5.0)})
    assert [p["passes"] for p in tie["parts"]] == [False, True] and not tie["ships"]
    stem = verdict(RULE, {"candidate": sdr(7.0, 7.0, 4.8, 4.8), "incumbent": sdr(6.0, 6.0, 5.0, 5.0)})
    assert [p["passes"] for p in stem["parts"]] == [True, False] and not stem["ships"]
