"""Measure latency, build throughput, memory and scaling side by side: `python scripts/benchmark.py --help`.

The full run (the default) uses the real 30k songs + HetRec from ../shared/data and synthetic
catalogs of 100k and 1M tracks; `--quick` runs every section on small data in a few minutes, so CI
keeps the script working. Prints a table of which targets are met and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from tunescout.cli import run, setup_logging
from tunescout.config import Settings
from tunescout.indexes.encoding.encoder import load_encoder
from tunescout.research import apibench, firstrunbench
from tunescout.research import benchmark as bench

log = logging.getLogger("benchmark")
ROOT = Path(__file__).resolve().parents[1]
# name: (tracks, users, documents actually encoded by MiniLM)
SYNTHETIC = {"quick": (3_000, 300, 3_000), "100k": (100_000, 10_000, 5_000),
             "1m": (1_000_000, 100_000, 5_000)}  # fmt: skip


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split(":")[0])
    p.add_argument("--quick", action="store_true", help="small sizes for CI (a few minutes)")
    p.add_argument(
        "--sizes",
        nargs="*",
        choices=["30k", *SYNTHETIC],
        help="catalog sizes (default: 30k 100k 1m)",
    )
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data",
                   help="the shared real data sets (default: ../shared/data)")  # fmt: skip
    p.add_argument("--real-dir", type=Path, help="an already built real data dir to reuse")
    p.add_argument("--workdir", type=Path, help="keep built catalogs here between runs")
    p.add_argument("--queries", type=int, help="timed calls per API (default: 300; quick: 40)")
    p.add_argument("--no-onnx", action="store_true", help="skip the ONNX backends")
    p.add_argument(
        "--first-run",
        action="store_true",
        help="only the first run: offline, empty data dir and model cache, through the app's "
        "background job; times until a mood search answers (with --quick: a small catalog)",
    )
    p.add_argument(
        "--api",
        action="store_true",
        help="only the HTTP API under load: scripts/serve.py on 127.0.0.1 and a bounded client at "
        "1, 8 and 32 connections (with --quick: a small catalog and few requests)",
    )
    p.add_argument(
        "--explorer",
        action="store_true",
        help="only the embedding explorer: PCA, UMAP and t-SNE of 5,000 points (PCA of 50,000 "
        "too) through its worker processes, first progress and exact neighbours of one item "
        "(with --quick: hundreds of points)",
    )
    p.add_argument("--data-dir", type=Path, help="with --api or --explorer: this built data dir")
    p.add_argument("--api-workers", type=int, default=1, help="with --api: uvicorn workers")
    p.add_argument(
        "--spark",
        action="store_true",
        help="only the Spark section: local-mode time per build stage next to the local build "
        "(30k real, and 10M interactions / 1M tracks synthetic), and IVF-PQ against 8-bit IVF "
        "(recall@10, bytes per vector); with --quick: small sizes",
    )
    p.add_argument("--master", default="local[*]", help="Spark master for --spark")
    p.add_argument(
        "--spark-sizes",
        nargs="*",
        choices=["30k", "10m", "quick"],
        help="catalogs the --spark stage timings build (default: 30k 10m; quick: quick)",
    )
    p.add_argument(
        "--pq-sizes",
        nargs="*",
        type=int,
        help="vector counts for --spark's IVF-PQ recall (default: 200000 1000000 2000000)",
    )
    p.add_argument("--out", type=Path, default=ROOT / "data" / "reports" / "benchmark.json")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p.parse_args()


def _save(results: dict, verdicts: list, out: Path, suffix: str = "") -> Path:
    """Put ``(target, measured, met)`` rows into ``results`` and write them as JSON to ``out``
    (its name with ``suffix`` for a section run alone); returns the path written."""
    results["verdicts"] = [{"target": t, "measured": m, "met": ok} for t, m, ok in verdicts]
    out = out.with_name(out.stem + suffix + ".json") if suffix else out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=float))
    return out


def _print_verdicts(results: dict) -> None:
    for row in results["verdicts"]:
        flag = {True: "MET ", False: "MISS", None: "----"}[row["met"]]
        print(f"{flag}  {row['target']}: {row['measured']}")


def _real_dir(args: argparse.Namespace, work: Path) -> Path:
    """The real data built with the documented commands (collect files, then build)."""
    import subprocess

    if args.real_dir:
        return args.real_dir
    data = work / "real"
    if (data / "indexes" / "CURRENT").exists():
        return data
    collect = [
        sys.executable, str(ROOT / "scripts" / "collect.py"), "--source", "files",
        "--spotify-csv", str(args.shared / "spotify-tracks" / "spotify_songs.csv"),
        "--lastfm-dir", str(args.shared / "hetrec2011-lastfm-2k"), "--data-dir", str(data),
    ]  # fmt: skip
    for cmd in (
        collect,
        [sys.executable, str(ROOT / "scripts" / "build.py"), "--data-dir", str(data)],
    ):
        subprocess.run(cmd, check=True)
    return data


def _in_fresh_process(fn, *a):
    """Run ``fn(*a)`` in a new interpreter, so memory figures belong to that size alone."""
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *a).result()


def _vectors(data_dir: Path, sample: int | None) -> np.ndarray:
    """The float semantic track vectors of a built catalog, as its build encoded them.

    An IVF build keeps only 8-bit codes; comparing search methods on vectors decoded from them
    would quantise twice, so those are encoded again the same way (the same sampled encoder).
    """
    from tunescout.catalog import read_catalog
    from tunescout.indexes import store
    from tunescout.indexes.semantic import SemanticIndex, documents

    settings = Settings(data_dir=data_dir)
    build = store.open_current(settings.index_dir)
    index = SemanticIndex.load(build.component_dir("semantic")).vectors("tracks")
    if index.method != "ivf":
        return np.array(index.vectors)
    log.info("encoding the %d track documents again for float vectors", len(index))
    docs = documents(read_catalog(settings.catalog_dir)).tolist()
    encoder = bench.SampledEncoder(sample=sample) if sample else load_encoder()
    return encoder.encode_documents(docs)


def first_run(args: argparse.Namespace) -> None:
    """The first-run section alone: measured in a fresh process, printed, written as JSON."""
    results: dict = {"machine": bench.machine(), "mode": "quick" if args.quick else "full"}
    with bench.workdir(args.workdir) as work:
        folder = work / time.strftime("first-run-%Y%m%dT%H%M%S")
        log.info("first run in %s (offline, empty model cache)", folder)
        results["first_run"] = _in_fresh_process(
            firstrunbench.first_run, folder, "songs for a rainy heartbreak", args.quick
        )
    found = results["first_run"]
    out = _save(results, firstrunbench.first_run_verdicts(found), args.out, "-first-run")
    print(f"first run ({found['cores']} cores, collected {found['collected'] or 'nothing'}, "
          f"job {found['state']}{': ' + found['error'] if found.get('error') else ''})")  # fmt: skip
    for build in found["builds"]:
        print(f"  build {build['id']} current at {build['current_s']:.1f} s, mood search answered "
              f"at {build['answered_s']:.1f} s ({build['results']} results): "
              f"{', '.join(build['components'])}")  # fmt: skip
    print("  job steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in found["steps"].items()))
    print(f"  job finished at {found['job_s']:.1f} s")
    print(f"\nmachine: {results['machine']}")
    print(f"load average: {found['load_average_before']:.2f} before, "
          f"{found['load_average_after']:.2f} after; CPU steal during the run: "
          f"{found['cpu_steal_s']:.1f} s")  # fmt: skip
    _print_verdicts(results)
    print(f"wrote {out}")


def api(args: argparse.Namespace) -> None:
    """The HTTP API section alone: served, loaded, printed, written as JSON."""
    count = args.queries or (60 if args.quick else 3000)
    seconds = 5.0 if args.quick else 20.0
    results: dict = {"machine": bench.machine(), "mode": "quick" if args.quick else "full"}
    with bench.workdir(args.workdir) as work:
        if args.data_dir:
            data = args.data_dir
        elif args.quick:
            data = bench.synthetic_data_dir(work / "quick", *SYNTHETIC["quick"])
        else:
            data = _real_dir(args, work)
        log.info("the API over %s: %d requests or %.0f s per run", data, count, seconds)
        results["api"] = apibench.api_benchmark(data, count, seconds, workers=args.api_workers)
    found = results["api"]
    out = _save(results, apibench.api_verdicts(found), args.out, "-api")
    print(f"HTTP API over {found['tracks']:,} tracks, {found['workers']} worker(s), "
          f"{found['cores']} cores; up to {count} requests or {seconds:.0f} s per run")  # fmt: skip
    print(f"{'answers':9} {'request':15} {'clients':>7} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'errors':>6} {'server CPU':>10} {'load avg':>8}")  # fmt: skip
    for mode, kinds in found["runs"].items():
        for kind, runs in kinds.items():
            for n, r in runs.items():
                print(f"{mode:9} {kind:15} {n:>7} {r['rps']:7.0f} {r.get('p50', 0):7.1f} "
                      f"{r.get('p99', 0):7.1f} {r['errors']:6d} "
                      f"{r['server_cpu_s'] / r['seconds']:9.0%} {r['load_average_before']:8.2f}")  # fmt: skip
    print(f"\nmachine: {results['machine']}")
    print(f"CPU steal during the runs: {found['cpu_steal_s']:.1f} s")
    _print_verdicts(results)
    print(f"wrote {out}")


def explorer(args: argparse.Namespace) -> None:
    """The explorer section alone: projections through its worker processes, printed, as JSON."""
    from tunescout.research import explorer_bench

    results: dict = {"machine": bench.machine(), "mode": "quick" if args.quick else "full"}
    sizes = (300, 1_000) if args.quick else (5_000, 50_000)
    with bench.workdir(args.workdir) as work:
        if args.data_dir:
            data = args.data_dir
        elif args.quick:
            data = bench.synthetic_data_dir(work / "quick", *SYNTHETIC["quick"])
        else:
            data = _real_dir(args, work)
        folder = work / time.strftime("projections-%Y%m%dT%H%M%S")  # empty: nothing cached
        log.info("the explorer over %s, projections in %s", data, folder)
        results["explorer"] = explorer_bench.explorer_benchmark(
            data, folder, *sizes, pause=0.5 if args.quick else 3.0
        )
    found = results["explorer"]
    out = _save(results, explorer_bench.explorer_verdicts(found), args.out, "-explorer")
    print(f"explorer: {found['space']} ({found['space_items']:,} items, {found['dims_in']} dims), "
          f"build {found['build']}, {found['cores']} cores")  # fmt: skip
    print(f"{'projection':22} {'seconds':>8} {'1st JSON':>8} {'moved':>8} {'load':>5}")
    cold = found["cold_first_job"]
    for name, r in [(cold["run"] + " cold", cold), *found["runs"].items()]:
        print(f"{name:22} {r['seconds']:8.2f} {r['first_progress_s']:8.2f} "
              f"{r['first_moved_s']:8.2f} {r['load_before']:5.1f}")  # fmt: skip
    near = found["neighbours"]
    for metric in ("cosine", "l2"):
        print(f"neighbours ({metric}) of one item over {near['items']:,}: median "
              f"{near[metric]['median_s'] * 1000:.1f} ms, max {near[metric]['max_s'] * 1000:.1f} ms")  # fmt: skip
    print(f"\nmachine: {results['machine']}")
    print(f"load average: {found['load_at_start']:.2f} at start, {found['load_at_end']:.2f} at end")
    _print_verdicts(results)
    print(f"wrote {out} in {found['seconds']:.0f} s")


# name: (tracks, users, documents actually encoded by MiniLM); 310k users play ~10M artists
SPARK_SYNTHETIC = {"quick": (3_000, 300, None), "10m": (1_000_000, 310_000, 5_000)}


def _real_raw(args: argparse.Namespace, work: Path) -> Path:
    """The real snapshots (TidyTuesday 30k songs + HetRec), collected with the documented command."""
    import subprocess

    data = work / "real-raw"
    if not (data / "raw").is_dir():
        collect = [
            sys.executable, str(ROOT / "scripts" / "collect.py"), "--source", "files",
            "--spotify-csv", str(args.shared / "spotify-tracks" / "spotify_songs.csv"),
            "--lastfm-dir", str(args.shared / "hetrec2011-lastfm-2k"), "--data-dir", str(data),
        ]  # fmt: skip
        subprocess.run(collect, check=True)
    return data / "raw"


def _pq_base(raw: Path, n_docs: int) -> np.ndarray:
    """MiniLM vectors of ``n_docs`` distinct real track documents (the sampled vectors' base)."""
    from tunescout.catalog import snapshots
    from tunescout.catalog.assemble import assemble
    from tunescout.indexes.semantic import documents

    bundles = [snapshots.read_snapshot(p) for p in snapshots.latest_sources(raw).values()]
    docs = documents(assemble(bundles)).drop_duplicates()
    docs = docs[docs != ""].sample(min(n_docs, len(docs)), random_state=0)
    return load_encoder().encode_documents(docs.tolist())


def spark(args: argparse.Namespace) -> None:
    """The Spark section alone: stage timings per engine in fresh processes, IVF-PQ recall."""
    results: dict = {"machine": bench.machine(), "mode": "quick" if args.quick else "full"}
    sizes = args.spark_sizes
    if sizes is None:
        sizes = ["quick"] if args.quick else ["30k", "10m"]
    pq_sizes = args.pq_sizes
    if pq_sizes is None:
        pq_sizes = [20_000] if args.quick else [200_000, 1_000_000, 2_000_000]
    started, steal = time.perf_counter(), bench.steal_seconds()
    with bench.workdir(args.workdir) as work:
        real = _real_raw(args, work)
        results["stages"] = {}
        for size in sizes:
            if size == "30k":
                raw, sample = real, None
            else:
                tracks, users, sample = SPARK_SYNTHETIC[size]
                raw = bench.synthetic_raw_dir(work / f"raw-{size}", tracks, users)
            results["stages"][size] = {}
            for engine in ("local", "spark"):
                log.info("%s build of the %s catalog", engine, size)
                results["stages"][size][engine] = _in_fresh_process(
                    bench.build_stage_seconds, raw, work / f"build-{size}-{engine}", engine,
                    args.master, sample,
                )  # fmt: skip
                print(json.dumps({size: {engine: results["stages"][size][engine]}},
                                 default=float), flush=True)  # fmt: skip
        results["ivfpq"] = {}
        if pq_sizes:
            base = _pq_base(real, 600 if args.quick else 4000)
            queries = load_encoder().encode(bench.mood_queries(50 if args.quick else 200, seed=1))
        for n in pq_sizes:
            # The benchmark's sampling (a MiniLM vector plus noise) at every size; mixes of real
            # vectors, closer to real documents, at the smallest (each index build takes minutes).
            kinds = [("jittered", bench.jittered)]
            if n == min(pq_sizes):
                kinds.append(("mixtures", bench.mixtures))
            for name, make in kinds:
                log.info("IVF vs IVF-PQ at %d %s vectors", n, name)
                vectors = make(base, n)
                found = bench.quantised_recall(vectors, queries)
                del vectors
                results["ivfpq"][f"{n} {name}"] = found
                print(json.dumps({f"{n} {name}": found}, default=float), flush=True)
    results["seconds"] = time.perf_counter() - started
    results["cpu_steal_s"] = bench.steal_seconds() - steal
    out = _save(results, bench.spark_verdicts(results), args.out, "-spark")
    for size, engines in results["stages"].items():
        for found in engines.values():
            stages = ", ".join(f"{k} {v:.1f}" for k, v in found["seconds"].items())
            print(f"{size} {found['engine']}: {stages} s (load {found['load_average_after']:.1f})")
    print(f"\nmachine: {results['machine']}")
    _print_verdicts(results)
    print(f"wrote {out} in {results['seconds']:.0f} s")


def main() -> None:
    args = parse_args()
    setup_logging(args.verbose)
    if args.first_run:
        first_run(args)
        return
    if args.spark:
        spark(args)
        return
    if args.api:
        api(args)
        return
    if args.explorer:
        explorer(args)
        return
    sizes = args.sizes or (["quick"] if args.quick else ["30k", "100k", "1m"])
    n = args.queries or (40 if args.quick else 300)
    results: dict = {"machine": bench.machine(), "mode": "quick" if args.quick else "full"}
    started, steal = time.perf_counter(), bench.steal_seconds()
    with bench.workdir(args.workdir) as work:
        dirs = {}
        for size in sizes:
            log.info("preparing the %s catalog", size)
            if size == "30k":
                dirs[size] = _real_dir(args, work)
            else:
                tracks, users, sample = SYNTHETIC[size]
                dirs[size] = bench.synthetic_data_dir(work / size, tracks, users, sample)

        results["engines"] = {}
        for size, data_dir in dirs.items():
            log.info("engine latency and memory at %s", size)
            results["engines"][size] = _in_fresh_process(bench.engine_latency, data_dir, n)

        from tunescout.catalog import read_catalog
        from tunescout.indexes.semantic import documents
        from tunescout.research.mood_eval import QUERIES

        first = next(iter(dirs.values()))
        catalog = read_catalog(Settings(data_dir=first).catalog_dir)
        n_docs = min(len(catalog.tracks), 600 if args.quick else 4000)
        docs = documents(catalog).sample(n_docs, random_state=0)
        sample = catalog.tracks.sample(n_docs, random_state=0)
        short = (sample["name"].fillna("") + " by " + sample["artist_name"].fillna("")).tolist()
        log.info("semantic backends on %d documents", len(docs))
        results["semantic"] = bench.semantic_backends(
            docs.tolist(), [q.text for q in QUERIES], work, onnx=not args.no_onnx, short=short
        )
        results["semantic"]["catalog"] = sizes[0]
        log.info("ALS overhead and content build")
        results["als"] = bench.als_overhead(catalog)
        results["content_build_s"] = {
            size: bench.content_build_seconds(read_catalog(Settings(data_dir=d).catalog_dir))
            for size, d in dirs.items()
        }
        queries = load_encoder().encode(bench.mood_queries(100 if args.quick else 500, seed=1))
        results["faiss"] = {}
        for size, data_dir in dirs.items():
            vectors = _vectors(data_dir, SYNTHETIC[size][2] if size in SYNTHETIC else None)
            # HNSW's build at 1M x 384 takes tens of minutes here: compared up to 100k only.
            methods = ("hnsw", "ivf") if len(vectors) <= 150_000 else ("ivf",)
            log.info("FAISS exact vs %s at %s", " and ".join(methods), size)
            results["faiss"][size] = bench.faiss_methods(vectors, queries, methods=methods)
    results["seconds"] = time.perf_counter() - started
    results["cpu_steal_s"] = bench.steal_seconds() - steal
    _save(results, bench.verdicts(results), args.out)
    print(json.dumps({k: results[k] for k in ("engines", "semantic", "als", "faiss")}, indent=1,
                     default=lambda x: round(float(x), 3)))  # fmt: skip
    print(f"\nmachine: {results['machine']}")
    _print_verdicts(results)
    print(
        f"\nCPU steal during the run: {results['cpu_steal_s']:.1f} s (time other VMs had our cores)"
    )
    print(f"wrote {args.out} in {results['seconds']:.0f} s")


if __name__ == "__main__":
    run(main)
