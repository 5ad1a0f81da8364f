#!/usr/bin/env python3
"""newsflow soak (issue 26): a million articles at a steady rate through the three services.

normalizer -> deduplicator -> tagger, exactly-once, on one broker, fed by
`newsflow produce bbc-2005 --repeat N --duplicate-ratio 0.02 --rate 1000` (about 1,000,000
records). Every 10 s it samples each service's resident memory (VmRSS) with the pipeline's
progress and the deduplicator's window. The window (--window, default 180 s of event time; the
articles carry no date, so their event time is when they were produced) fills within the first
quarter of the run; after that the memory of every service must stay flat. At the end:

  - no dead letters, and nothing lost or doubled: the committed outputs (enriched articles +
    duplicate notices, counted by the services at commit) equal the records produced;
  - a fresh deduplicator (a new consumer group) restores the state topic the run left, timed
    from its start to /readyz 200, with the records it read and the topic's size on disk.

It prints a Markdown table for BENCHMARKS.md and writes JSON (--json, default
target/soak/latest.json). Needs release binaries (`cargo build --release --bins`, found where
cargo puts them, CARGO_TARGET_DIR included) and a broker of its own, e.g.

  deploy/local/kafka.sh start --port 39092 --controller-port 39093 --data-dir /tmp/soak-broker
  scripts/soak.py --brokers 127.0.0.1:39092 --broker-data-dir /tmp/soak-broker

--articles and --rate make a shorter run (e.g. --articles 20000 to try it). Every process it
starts is stopped when it ends (helpers shared with scripts/bench.py).
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
from bench import ROOT, BenchError, Service, metric_sum, proc_status_kb  # noqa: E402

DUPLICATE_RATIO = 0.02


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def state_records(samples, kind: str) -> float:
    return metric_sum(samples, "newsflow_state_records_total", **{"kind": kind}) or sum(
        v for name, labels, v in samples
        if name == "newsflow_state_records_total" and kind in labels.values()
    )


def topic_bytes(data_dir: Path | None, topic: str) -> int | None:
    """Bytes of a topic's log segments in a broker's data directory (every partition)."""
    if not data_dir:
        return None
    return sum(
        f.stat().st_size
        for d in (data_dir / "kraft").glob(f"{topic}-*")
        for f in d.glob("*.log")
    )


class Soak:
    def __init__(self, args):
        self.args = args
        self.bench = bench.Bench(argparse.Namespace(
            brokers=args.brokers, corpus=args.corpus, fill="bbc-2005", no_build=args.no_build,
            partitions=args.partitions, ready_timeout=90.0, stall_timeout=120.0, poll=1.0,
            keep_topics=False,
        ))
        self.rows: list[dict] = []

    def run(self) -> dict:
        b = self.bench
        b.preflight()
        prefix = f"{b.run_id}soak."
        b.create_topics(prefix)
        corpus = Path(self.args.corpus) / "bbc-2005"
        inputs = b.count_inputs([corpus])
        repeat = max(1, math.ceil(self.args.articles / (inputs * (1 + DUPLICATE_RATIO))))
        window = f"{self.args.window}s"
        log(f"{inputs} corpus pages × {repeat} at {self.args.rate}/s, dedup window {window}")
        services = b.start_chain("pipeline", "exactly-once", prefix, prefix + "news.raw.v1",
                                 extra={"deduplicator": ["--window", window]})
        by_name = {s.name: s for s in services}
        produced: dict = {}

        def produce() -> None:
            done = b.newsflow(
                "produce", str(corpus), "--brokers", b.brokers, "--topic", prefix + "news.raw.v1",
                "--repeat", str(repeat), "--duplicate-ratio", str(DUPLICATE_RATIO), "--seed", "26",
                "--rate", str(self.args.rate), timeout=24 * 3600,
            )
            match = bench.PRODUCE_SUMMARY.search(done.stderr)
            produced["records"] = int(match.group(1)) if match else None
            produced["stderr"] = done.stderr[-2000:]

        producer = threading.Thread(target=produce, daemon=True)
        started = time.monotonic()
        producer.start()
        last_progress, last_done = started, -1.0
        next_sample = started
        try:
            while True:
                for service in services:
                    service.check_alive()
                now = time.monotonic()
                if now >= next_sample:
                    self.sample(by_name, now - started)
                    next_sample += self.args.sample_every
                done, samples = b.done_count("pipeline", services)
                if not producer.is_alive():
                    if produced.get("records") is None:
                        raise BenchError(f"newsflow produce failed:\n{produced.get('stderr', '')}")
                    if done >= produced["records"]:
                        break
                if done > last_done:
                    last_progress, last_done = now, done
                elif now - last_progress > 120:
                    raise BenchError(f"stalled at {done:.0f} outputs; logs in {b.log_dir}")
                time.sleep(1.0)
            seconds = time.monotonic() - started
            self.sample(by_name, seconds)
            dlq = sum(metric_sum(m, "newsflow_output_records_total", output="dlq") for m in samples.values())
            enriched = metric_sum(samples["tagger"], "newsflow_output_records_total", output="primary")
            duplicates = metric_sum(samples["deduplicator"], "newsflow_output_records_total",
                                    output="duplicates")
        finally:
            b.stop_services(services)
        restore = self.restore(prefix)
        return {
            "records": produced["records"], "rate": self.args.rate, "window_s": self.args.window,
            "seconds": round(seconds, 1), "enriched": enriched, "duplicates": duplicates,
            "dead_letters": dlq, "out_minus_in": enriched + duplicates - produced["records"],
            "rss": self.rows, "restore": restore, "prefix": prefix,
        }

    def sample(self, by_name: dict[str, Service], at: float) -> None:
        row = {"t": round(at)}
        for name, service in by_name.items():
            kb = proc_status_kb(service.proc.pid, "VmRSS")
            row[name] = round(kb / 1024, 1) if kb else None
        dedup = by_name["deduplicator"].metrics()
        row["window_articles"] = metric_sum(dedup, "newsflow_dedup_retained_articles")
        row["out"] = metric_sum(by_name["tagger"].metrics(), "newsflow_output_records_total",
                                output="primary")
        self.rows.append(row)
        log(" ".join(f"{k}={v}" for k, v in row.items()))

    def restore(self, prefix: str) -> dict:
        """A fresh deduplicator (its own group) restores the state topic; timed to /readyz."""
        b = self.bench
        state = prefix + "newsflow.dedup-state.v1"
        argv = [str(b.bin / "newsflow-deduplicator"), "--brokers", b.brokers,
                "--input-topic", prefix + "news.normalized.v1",
                "--output-topic", prefix + "restore.deduplicated.v1",
                "--duplicates-topic", prefix + "restore.duplicates.v1",
                "--dlq-topic", prefix + "news.dlq.v1", "--state-topic", state,
                "--group-id", prefix + "restore", "--window", f"{self.args.window}s"]
        t0 = time.monotonic()
        service = Service("restore", argv, b.log_dir)
        try:
            service.wait_ready(600)
            ready = time.monotonic() - t0
            samples = service.metrics()
            result = {
                "ready_s": round(ready, 2),
                "restore_s": metric_sum(samples, "newsflow_state_restore_seconds"),
                "records": state_records(samples, "restore"),
                "window_articles": metric_sum(samples, "newsflow_dedup_retained_articles"),
                "topic_bytes": topic_bytes(self.args.broker_data_dir, state),
                "rss_mb": (proc_status_kb(service.proc.pid, "VmRSS") or 0) / 1024,
            }
        finally:
            b.stop_services([service])
        log(f"restore: {result}")
        return result


def markdown(r: dict) -> str:
    names = ["normalizer", "deduplicator", "tagger"]
    out = ["| t (s) | normalizer RSS (MB) | deduplicator RSS (MB) | tagger RSS (MB) | window (articles) | enriched |",
           "|---:|---:|---:|---:|---:|---:|"]
    step = max(1, len(r["rss"]) // 25)  # about 25 rows
    rows = r["rss"][::step] + ([r["rss"][-1]] if (len(r["rss"]) - 1) % step else [])
    for row in rows:
        out.append(f"| {row['t']} | " + " | ".join(str(row[n]) for n in names)
                   + f" | {row['window_articles']:,.0f} | {row['out']:,.0f} |")
    quarter = [row for row in r["rss"] if row["t"] >= r["seconds"] / 4]
    if quarter:
        for n in names:
            first, peak = quarter[0][n], max(row[n] for row in quarter if row[n])
            out.append(f"\n{n}: {first} MB at a quarter of the run, peak {peak} MB after it "
                       f"({(peak - first) / first * 100:+.1f} %)")
    res = r["restore"]
    out.append(f"\nrestore: {res['records']:,.0f} records ({(res['topic_bytes'] or 0) / 1e6:.1f} MB on disk) "
               f"in {res['restore_s']:.2f} s (ready after {res['ready_s']:.2f} s), "
               f"{res['window_articles']:,.0f} articles in the window")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brokers", default="127.0.0.1:39092")
    parser.add_argument("--broker-data-dir", type=Path,
                        help="the broker's --data-dir, to measure the state topic on disk")
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared/corpus"))
    parser.add_argument("--articles", type=int, default=1_000_000, help="records to produce, about")
    parser.add_argument("--rate", type=int, default=1000, help="records per second")
    parser.add_argument("--window", type=int, default=180,
                        help="the deduplicator's window in seconds of event time (default 180)")
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--sample-every", type=float, default=10.0)
    parser.add_argument("--json", type=Path, default=ROOT / "target/soak/latest.json")
    parser.add_argument("--no-build", action="store_true", help="use the release binaries already built")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, bench._on_sigterm)
    soak = Soak(args)
    try:
        result = soak.run()
    except BenchError as err:
        print(f"soak: error: {err}", file=sys.stderr)
        return 2
    finally:
        bench.stop_all()
        soak.bench.delete_topics()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(markdown(result))
    failures = []
    if result["dead_letters"]:
        failures.append(f"{result['dead_letters']:.0f} dead letters")
    if result["out_minus_in"]:
        failures.append(f"outputs minus inputs: {result['out_minus_in']:+.0f}")
    for failure in failures:
        print(f"soak: FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
