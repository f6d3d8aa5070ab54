"""Evaluate recommendations and mood search on the built data dir: `python scripts/evaluate.py --help`.

Writes `<data-dir>/reports/evaluation.json` and `mood.json` for the app's model-report page.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tunescout.cli import run, setup_logging
from tunescout.config import load_settings
from tunescout.research import compositional, report
from tunescout.research.protocol import save_results
from tunescout.research.requests import QUERY_DIR
from tunescout.serving.engine import Engine

PARTS = ("known", "survey", "listeners", "mood")
ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split(":")[0])
    p.add_argument(
        "--data-dir", type=Path, help="where data lives (default: $TUNESCOUT_DATA_DIR or data/)"
    )
    p.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    p.add_argument("--models", nargs="*", help="known-user models to compare (default: all)")
    p.add_argument(
        "--seeds",
        type=int,
        nargs="*",
        default=list(report.SEEDS),
        help="split seeds (default: 0 1 2)",
    )
    p.add_argument(
        "--survey-users",
        type=int,
        default=None,
        help="listeners per survey run (default: all held-out listeners)",
    )
    p.add_argument(
        "--tune",
        action="store_true",
        help="rerun the validation grids that chose the recommendation weights "
        "(writes reports/tuning.json; slow)",
    )
    p.add_argument(
        "--deezer-dir",
        type=Path,
        default=ROOT.parent / "shared" / "data" / "deezer-mood-detection",
        help="Deezer's mood labels (default: ../shared/data/deezer-mood-detection)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p.parse_args()


def _table(results: dict, metrics: tuple[str, ...]) -> str:
    lines = [f"{'model':32s}" + "".join(f"{m:>20s}" for m in metrics)]
    for name, summary in results.items():
        cells = "".join(f"{summary[m]['mean']:>12.4f} ±{summary[m]['std']:.4f}" for m in metrics)
        lines.append(f"{name:32s}{cells}")
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    setup_logging(args.verbose)
    settings = load_settings(args.data_dir)
    engine = Engine.load(settings=settings)
    parts = args.only or list(PARTS)
    body: dict = {}
    if "known" in parts:
        body["models"] = report.run_known_users(engine, args.models, args.seeds)
        print(_table(body["models"], ("ndcg@10", "recall@20", "map@10", "coverage@10")))
    if "survey" in parts:
        body["recommendations"] = report.run_recommendations(
            engine, settings.data_dir, args.seeds, max_users=args.survey_users
        )
        # the model-report page reads the test table under "survey"
        body["survey"] = body["recommendations"]["survey"].get("test", {})
        for split, rows in body["recommendations"]["survey"].items():
            print(f"survey listeners ({split})")
            print(_table(rows, ("ndcg@10", "recall@20", "hr@10")))
        for split, rows in body["recommendations"]["similar"].items():
            print(f"similar artists against held-out co-listening ({split})")
            print(_table(rows, ("ndcg@10", "hr@10", "recall@10")))
        for split, rows in body["recommendations"]["familiarity"].items():
            print(f"familiarity bands ({split})")
            print(_table(rows, ("median_percentile", "in_band", "ndcg@10")))
    if "listeners" in parts:
        body["listeners"] = report.run_listeners(engine, settings.data_dir, args.seeds)
        for split, rows in body["listeners"].items():
            print(f"known listeners ({split})")
            print(_table(rows, ("ndcg@10", "recall@20", "hr@10")))
    if args.tune:
        from tunescout.research import tuning

        tuned = {
            "survey": tuning.tune_survey(
                tuning.survey_validation_scores(engine, settings.data_dir)
            ),
            "baselines": tuning.tune_baselines(engine, settings.data_dir),
            "listener": tuning.tune_listener(engine, settings.data_dir),
            "similar": tuning.tune_similar(engine, settings.data_dir),
        }
        path = save_results(tuned, settings.reports_dir / "tuning.json")
        print(f"saved {path}")
    if body:
        protocol = {
            "known": "per-user random 80/20 holdout, full ranking, training items filtered",
            "survey": "20% of listeners with >= 21 artists held out entirely; each reveals n "
            "random artists with 1-5 stars from their own play counts, the rest is truth; "
            "validation listeners are carved from the training listeners",
            "seeds": args.seeds,
        }
        path = save_results(
            report.envelope("evaluation", engine, body, protocol),
            settings.reports_dir / "evaluation.json",
        )
        print(f"saved {path}")
    if "mood" in parts:
        mood = report.run_mood(engine)
        mood["listener"] = compositional.run(
            engine, QUERY_DIR / "compositional_dev.json",
            QUERY_DIR / "compositional_blind.json", args.deezer_dir,
        )  # fmt: skip
        protocol = {
            "guard": "mean catalog percentile of the features each query implies, top 20",
            "listener": "share of the top 10 meeting every constraint of a compositional "
            "request (dev and blind sets), repeated songs, distinct reasons; Deezer "
            "valence/arousal lift per quadrant over all labelled catalog songs",
        }
        path = save_results(
            report.envelope("mood", engine, mood, protocol), settings.reports_dir / "mood.json"
        )
        summaries = {"search_mood": mood["summary"], "plain MiniLM": mood["baseline_summary"]}
        print(json.dumps(summaries, indent=2, default=float))
        print(compositional.table(mood["listener"]))
        print(f"saved {path}")


if __name__ == "__main__":
    run(main)
