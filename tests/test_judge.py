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


def test_scores_of_the_same_model_bytes_on_the_same_folder_contents_are_reused(tmp_path):
    import json

    from judge import reuse_scores, score_file

    earlier = tmp_path / "earlier"
    earlier.mkdir()
    verdict_of_then = {"splits": {"v6": "data/a/valid", "v5": "data/b/valid", "v4": "data/d/valid"},
                       "folders": {"data/a/valid": "A", "data/b/valid": "B", "data/d/valid": "D"},
                       "models": {"candidate": {"sha256": "new"}, "incumbent": {"sha256": "shipped"}}}
    (earlier / "verdict.json").write_text(json.dumps(verdict_of_then))
    for role in ("candidate", "incumbent"):
        for split in ("v6", "v5", "v4"):
            score_file(earlier, role, split).write_text(f"{role} {split}")
    now = tmp_path / "now"
    now.mkdir()
    rule = {"splits": {"six": "data/a/valid", "other": "data/c/valid", "four": "data/d/valid"},
            "reuse": [str(earlier)]}
    folders = {"data/a/valid": "A", "data/c/valid": "C", "data/d/valid": "D rendered again"}
    reuse_scores(rule, {"candidate": "newer", "incumbent": "shipped"}, folders, now)
    assert score_file(now, "incumbent", "six").read_text() == "incumbent v6"  # same bytes, same folder
    assert not score_file(now, "incumbent", "other").exists()  # a folder the earlier verdict never scored
    assert not score_file(now, "incumbent", "four").exists()  # same folder, other contents
    assert not score_file(now, "candidate", "six").exists()  # other model bytes

    del verdict_of_then["folders"]  # a verdict that cannot show what its folders held is not reused
    (earlier / "verdict.json").write_text(json.dumps(verdict_of_then))
    later = tmp_path / "later"
    later.mkdir()
    reuse_scores(rule, {"candidate": "newer", "incumbent": "shipped"}, folders, later)
    assert not list(later.iterdir())


def test_a_folder_digest_changes_with_any_file_bytes_or_name(tmp_path):
    from judge import folder_sha256

    (tmp_path / "song").mkdir()
    (tmp_path / "song" / "vocals.wav").write_bytes(b"abc")
    first = folder_sha256(tmp_path)
    assert folder_sha256(tmp_path) == first
    (tmp_path / "song" / "vocals.wav").write_bytes(b"abd")
    assert folder_sha256(tmp_path) != first
    (tmp_path / "song" / "vocals.wav").write_bytes(b"abc")
    (tmp_path / "song" / "vocals.wav").rename(tmp_path / "song" / "drums.wav")
    assert folder_sha256(tmp_path) != first


def test_a_probe_part_reads_that_probe_alone_and_lower_can_be_better():
    rule = {"splits": {"a": ""}, "probes": {"records": ""},
            "parts": [{"probe": "records", "stat": "false_vocals_db", "margin": -1.0, "lower_is_better": True}]}

    def stats(split_avg, false_vocals):
        return {"a": {"avg": split_avg}, "records": {"false_vocals_db": false_vocals}}

    quieter = verdict(rule, {"candidate": stats(0.0, -25.0), "incumbent": stats(9.0, -16.0)})
    assert quieter["parts"][0]["gap"] == 9.0 and quieter["ships"]
    louder = verdict(rule, {"candidate": stats(9.0, -14.5), "incumbent": stats(0.0, -16.0)})
    assert louder["parts"][0]["gap"] == -1.5 and not louder["ships"]
