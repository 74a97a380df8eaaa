"""Judge a candidate U-Net against the shipped one under a rule written down before any score.

    .venv/bin/python benchmarks/judge.py checkpoints/step27/rule.json [--jobs 2]

The rule (JSON) names the two models, the valid splits and the parts that must all hold:

    {"candidate": "checkpoints/step26/best.pth", "incumbent": "best_model.pth",
     "splits": {"v4": "data/synth_v4f11/valid", ...},
     "probes": {"real_backing": "data/real_backing/valid"},
     "parts": [{"stat": "avg", "margin": 0.0, "strict": true}, {"stat": "vocals", "margin": -0.1},
               {"probe": "real_backing", "stat": "false_vocals_db", "margin": -1.0, "lower_is_better": true}],
     "reuse": ["checkpoints/step27/scores"]}

Each model is scored on each split with ``benchmarks/select_unet.py --threads 1`` (museval SDR, the
median over songs per stem) and on each probe with ``benchmarks/real_backing_probe.py --threads 1``
(vocals and accompaniment SDR, their avg, false_vocals_db), ``--jobs`` of them at once; scores already in the rule's folder
(``scores/`` beside the rule) are kept, so an interrupted judgement resumes, and so are those of an
earlier verdict in a ``reuse`` folder for the same model file (SHA-256) on the same folder with the
same contents (a SHA-256 over its files, kept in the verdict: a folder rendered again is scored again). A part
compares the mean over the splits of one statistic ("avg" or a stem), or with ``probe`` that probe's
statistic: the candidate passes when its gap (candidate minus incumbent; the other way round with
``"lower_is_better": true``) is at least ``margin`` (greater than it with ``"strict": true``). The verdict, with every
score and each model file's SHA-256, goes to ``scores/verdict.json``; the exit status is 0 either way.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from musicsep.export import file_sha256  # noqa: E402

ROLES = ("candidate", "incumbent")
KINDS = {"splits": "select_unet.py", "probes": "real_backing_probe.py"}  # rule key: the script that scores it


def score_file(scores: Path, role: str, name: str) -> Path:
    return scores / f"{role}_{name}.json"


def sets_of(rule: dict) -> dict[str, tuple[str, str]]:
    """Every split and probe of a rule: name -> (kind, folder)."""
    return {name: (kind, folder) for kind in KINDS for name, folder in rule.get(kind, {}).items()}


def folder_sha256(folder: Path) -> str:
    """SHA-256 over every file of a folder: its relative name and its bytes' SHA-256, in name order."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    listing = "".join(f"{path.relative_to(folder)}\0{file_sha256(path)}\n" for path in files)
    return hashlib.sha256(listing.encode()).hexdigest()


def reuse_scores(rule: dict, digests: dict[str, str], folders: dict[str, str], scores: Path) -> None:
    """Copy an earlier verdict's scores of the same model bytes on the same folder with the same contents."""
    for folder in rule.get("reuse", []):
        earlier = json.loads((ROOT / folder / "verdict.json").read_text())
        if "folders" not in earlier:
            print(f"{folder}: its verdict holds no folder digests; nothing reused")
            continue
        known = {(model["sha256"], kind, found, earlier["folders"][found]): score_file(ROOT / folder, role, name)
                 for role, model in earlier["models"].items() for name, (kind, found) in sets_of(earlier).items()}
        for role, digest in digests.items():
            for name, (kind, found) in sets_of(rule).items():
                source = known.get((digest, kind, found, folders[found]))
                target = score_file(scores, role, name)
                if source is not None and not target.exists():
                    target.write_text(source.read_text())
                    print(f"reused {source} as {target.name}")


def run_score(model: Path, kind: str, folder: Path, out: Path) -> None:
    """One select_unet.py or real_backing_probe.py run; its log sits beside its scores."""
    if out.exists():
        return
    flag = "--valid" if kind == "splits" else "--probe"
    with open(out.with_suffix(".log"), "w") as log:
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / KINDS[kind]), str(model), flag, str(folder),
                        "--threads", "1", "--json", str(out)], stdout=log, stderr=subprocess.STDOUT, check=True)
    print(f"scored {out.name}", flush=True)


def stats_of(out: Path) -> dict[str, float]:
    (scores,) = json.loads(out.read_text())["scores"].values()
    return scores.get("SDR", scores)  # select_unet.py nests museval's SDR; the probe's stats are flat


def verdict(rule: dict, stats: dict[str, dict[str, dict[str, float]]]) -> dict:
    """Each part's values and whether the candidate passes it; ``ships`` iff every part passes."""
    parts = []
    for part in rule["parts"]:
        names = [part["probe"]] if "probe" in part else list(rule["splits"])
        value = {role: sum(stats[role][n][part["stat"]] for n in names) / len(names) for role in ROLES}
        gap = (value["candidate"] - value["incumbent"]) * (-1 if part.get("lower_is_better") else 1)
        passed = gap > part["margin"] if part.get("strict") else gap >= part["margin"]
        parts.append({**part, "candidate": round(value["candidate"], 3), "incumbent": round(value["incumbent"], 3),
                      "gap": round(gap, 3), "passes": bool(passed)})
    return {"parts": parts, "ships": all(p["passes"] for p in parts)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rule", type=Path)
    parser.add_argument("--jobs", type=int, default=2, help="scoring runs at once (one thread each)")
    args = parser.parse_args()
    rule = json.loads(args.rule.read_text())
    scores = args.rule.parent / "scores"
    scores.mkdir(exist_ok=True)
    models = {role: ROOT / rule[role] for role in ROLES}
    digests = {role: file_sha256(model) for role, model in models.items()}
    sets = sets_of(rule)
    folders = {found: folder_sha256(ROOT / found) for _, found in sets.values()}
    reuse_scores(rule, digests, folders, scores)
    jobs = [(models[role], kind, ROOT / folder, score_file(scores, role, name))
            for name, (kind, folder) in sets.items() for role in ROLES]
    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(lambda job: run_score(*job), jobs))
    stats = {role: {name: stats_of(score_file(scores, role, name)) for name in sets} for role in ROLES}
    result = {"rule": str(args.rule), **{kind: rule.get(kind, {}) for kind in KINDS},
              "models": {role: {"path": rule[role], "sha256": digests[role]} for role in ROLES}, "folders": folders,
              "stats": stats, **verdict(rule, stats)}
    (scores / "verdict.json").write_text(json.dumps(result, indent=2) + "\n")
    for part in result["parts"]:
        print(f"{part.get('probe', 'splits')} {part['stat']:>7}: candidate {part['candidate']:.3f}, "
              f"incumbent {part['incumbent']:.3f}, gap {part['gap']:+.3f} (needs {'>' if part.get('strict') else '>='} {part['margin']:+.2f}): "
              f"{'passes' if part['passes'] else 'FAILS'}")
    print("ships" if result["ships"] else "does not ship")
    return 0


if __name__ == "__main__":
    sys.exit(main())
