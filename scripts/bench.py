#!/usr/bin/env python3
"""newsflow end-to-end benchmark on a real Kafka broker (issue 11).

Measures, on the local broker and with fresh topics under a unique prefix per run:

  baseline    a chain of three `newsflow relay` stages (raw -> normalized -> deduplicated ->
              enriched topic names; pure Kafka I/O), in each delivery mode: saturation
              throughput (the input topic is pre-filled with N articles from
              `newsflow produce --repeat --duplicate-ratio 0.1`, then the chain is started and
              timed from the first stage's readiness until the last stage has output N).
  pipeline    normalizer -> deduplicator -> tagger, in each mode: the same saturation
              measurement (done = tagger primary outputs + deduplicator duplicate notices +
              dead letters of every stage reach N); then end-to-end latency p50/p99/p99.9 at
              fixed produce rates (default 500, 1000, 2000 articles/s), from the deltas of the
              tagger's newsflow_end_to_end_latency_seconds histogram (ingested_at -> output
              acknowledged/committed), interpolated within buckets like histogram_quantile().
  per service CPU seconds per 1,000 articles (utime+stime from /proc/<pid>/stat over the timed
              window, divided by the articles that entered the chain) and peak RSS (VmHWM).
  in-process  `newsflow run` over the corpus mix (bbc-2005 + ukraine-war), articles/s.
  ratios      pipeline / relay-baseline saturation throughput per mode (target >= 60 %), and
              every figure against the targets of issue 11.

It prints a table and writes JSON (--json, default target/bench/latest.json). Service logs go to
target/bench/logs/<run id>/. Every process it starts is stopped when it exits (also on Ctrl-C,
SIGTERM, or when the script itself is killed: children get PR_SET_PDEATHSIG), and the run's
topics are deleted at the end (--keep-topics keeps them).

Needs a running broker (deploy/local/kafka.sh start), the corpus (../shared/corpus or
NEWSFLOW_CORPUS) and release binaries (built first with `cargo build --release --bins` unless
--no-build; found where cargo puts them, CARGO_TARGET_DIR included). Python 3 standard library
only.

  scripts/bench.py --quick      # ~1 minute after the build: proves it works, noisy figures
  scripts/bench.py              # the full run recorded in BENCHMARKS.md (~5 minutes after the build)
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True  # no __pycache__ in scripts/lib
sys.path.insert(0, str(ROOT / "scripts/lib"))
from target_dir import NotBuilt, binaries  # noqa: E402
MODES = ("exactly-once", "at-least-once")
SHORT = {"exactly-once": "eos", "at-least-once": "alo"}
CLK_TCK = os.sysconf("SC_CLK_TCK")
DUPLICATE_RATIO = 0.1

# Targets of issue 11 (two-core machine, broker included).
TARGET_RATIO = 0.60
TARGET_P99_S = 0.050
TARGET_P99_RATE = 1000
TARGET_INPROCESS = 15_000
TARGET_RSS_MB = 150
TARGET_WINDOW = 100_000


class BenchError(Exception):
    """A measurement could not be made; the message says why."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Child processes: every one is registered, killed when the script ends, and dies with it.

CHILDREN: list[subprocess.Popen] = []
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(argv: list[str], **kwargs) -> subprocess.Popen:
    proc = subprocess.Popen(argv, preexec_fn=_die_with_parent, start_new_session=True, **kwargs)
    CHILDREN.append(proc)
    return proc


def stop(procs: list[subprocess.Popen], grace: float = 15.0) -> None:
    """SIGTERM (services drain and commit), then SIGKILL after `grace` seconds."""
    for proc in procs:
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for proc in procs:
        if proc in CHILDREN:
            CHILDREN.remove(proc)


def stop_all() -> None:
    if CHILDREN:
        stop(list(CHILDREN), grace=10.0)


def _on_sigterm(signum, _frame):
    raise SystemExit(128 + signum)


# --------------------------------------------------------------------------------------------
# /proc readings.


def proc_cpu_seconds(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def proc_status_kb(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def system_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (everything but idle and iowait)."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in parts[:8]]
    return (sum(values) - values[3] - values[4]) / CLK_TCK


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------------------------
# Prometheus text parsing.

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match:
            labels = dict(_LABEL.findall(match.group(2) or ""))
            try:
                samples.append((match.group(1), labels, float(match.group(3))))
            except ValueError:
                pass
    return samples


def metric_sum(samples, name: str, **labels: str) -> float:
    return sum(
        value
        for sample_name, sample_labels, value in samples
        if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items())
    )


def histogram(samples, name: str) -> dict:
    buckets = {}
    for sample_name, labels, value in samples:
        if sample_name == name + "_bucket":
            le = labels["le"]
            buckets[math.inf if le == "+Inf" else float(le)] = value
    return {
        "buckets": buckets,
        "count": metric_sum(samples, name + "_count"),
        "sum": metric_sum(samples, name + "_sum"),
    }


def histogram_delta(after: dict, before: dict) -> dict:
    return {
        "buckets": {le: n - before["buckets"].get(le, 0.0) for le, n in after["buckets"].items()},
        "count": after["count"] - before["count"],
        "sum": after["sum"] - before["sum"],
    }


def histogram_quantile(q: float, hist: dict) -> tuple[float | None, bool]:
    """Prometheus-style: linear interpolation inside the bucket holding rank q*count.
    Returns (seconds, capped): capped when the rank falls in +Inf (value = largest bound)."""
    bounds = sorted(hist["buckets"])
    total = hist["buckets"].get(math.inf, hist["count"])
    if total <= 0:
        return None, False
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        cumulative = hist["buckets"][bound]
        if cumulative >= rank:
            if bound == math.inf:
                finite = [b for b in bounds if b != math.inf]
                return (finite[-1] if finite else None), True
            inside = cumulative - below
            fraction = (rank - below) / inside if inside > 0 else 1.0
            return lower + (bound - lower) * fraction, False
        lower, below = bound, cumulative
    return None, False


def share_at_most(bound: float, hist: dict) -> float | None:
    total = hist["buckets"].get(math.inf, hist["count"])
    if total <= 0 or bound not in hist["buckets"]:
        return None
    return hist["buckets"][bound] / total


# --------------------------------------------------------------------------------------------
# One service process with its admin server.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    def __init__(self, name: str, argv: list[str], log_dir: Path):
        self.name = name
        self.port = free_port()
        self.log_path = log_dir / f"{name}.log"
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "warn")
        self.argv = argv + ["--admin-addr", f"127.0.0.1:{self.port}"]
        self._log = open(self.log_path, "wb")
        self.proc = spawn(self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.cpu_mark = 0.0

    def _get(self, path: str, timeout: float = 2.0) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            return err.code, ""
        except (urllib.error.URLError, OSError):
            return 0, ""

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise BenchError(
                f"{self.name} exited with status {self.proc.returncode}; "
                f"last lines of {self.log_path}:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join("    " + line for line in text[-lines:])

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self._get("/readyz", timeout=1.0)[0] == 200:
                return
            time.sleep(0.02)
        raise BenchError(
            f"{self.name} was not ready within {timeout:.0f} s (its /readyz never said 200); "
            f"last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def metrics(self) -> list:
        status, text = self._get("/metrics")
        if status != 200:
            self.check_alive()
            raise BenchError(f"{self.name}: /metrics answered {status or 'nothing'}")
        return parse_metrics(text)

    def cpu(self) -> float:
        return proc_cpu_seconds(self.proc.pid) or 0.0

    def peak_rss_mb(self) -> float | None:
        kb = proc_status_kb(self.proc.pid, "VmHWM")
        return None if kb is None else kb / 1024

    def close(self) -> None:
        self._log.close()


# --------------------------------------------------------------------------------------------
# The benchmark.

PRODUCE_SUMMARY = re.compile(
    r"newsflow produce: (\d+) records \((\d+) articles, (\d+) copies\) to (\S+), "
    r"([\d.]+) MB in ([\d.]+) s"
)


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = Path()  # cargo's release folder, once preflight has found the binaries there
        self.brokers = args.brokers
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.run_id = f"bench.{stamp}-{os.getpid()}."
        self.log_dir = ROOT / "target" / "bench" / "logs" / self.run_id.rstrip(".")
        self.broker_pid: int | None = None
        self.broker_classpath: str | None = None
        self.topic_prefixes: list[str] = []
        self.errors: list[str] = []
        self.corpus = Path(args.corpus)
        self.fill_inputs = [self.corpus / name for name in args.fill.split(",")]
        self.result: dict = {}

    # -- helpers ---------------------------------------------------------------------------

    def newsflow(self, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
        proc = spawn(
            [str(self.bin / "newsflow"), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            CHILDREN.remove(proc)
        if proc.returncode != 0:
            raise BenchError(
                f"`newsflow {' '.join(argv[:3])} …` failed (status {proc.returncode}):\n"
                + "\n".join("    " + line for line in (err or out).strip().splitlines()[-10:])
            )
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def create_topics(self, prefix: str) -> None:
        self.topic_prefixes.append(prefix)
        self.newsflow(
            "topics", "create", "--brokers", self.brokers, "--prefix", prefix,
            "--partitions", str(self.args.partitions), timeout=120,
        )

    def produce(self, inputs: list[Path], topic: str, repeat: int, seed: int, source: str,
                rate: float | None = None) -> dict:
        argv = ["produce", *map(str, inputs), "--brokers", self.brokers, "--topic", topic,
                "--repeat", str(repeat), "--duplicate-ratio", str(DUPLICATE_RATIO),
                "--seed", str(seed), "--source", source]
        if rate:
            argv += ["--rate", str(rate)]
        before = children_cpu_seconds()
        done = self.newsflow(*argv, timeout=3600)
        match = PRODUCE_SUMMARY.search(done.stderr)
        if not match:
            raise BenchError(f"cannot read the summary of newsflow produce:\n{done.stderr[-2000:]}")
        records, articles, copies = (int(match.group(i)) for i in (1, 2, 3))
        return {
            "records": records, "articles": articles, "copies": copies,
            "bytes": float(match.group(5)) * 1e6, "seconds": float(match.group(6)),
            "cpu_seconds": children_cpu_seconds() - before,
        }

    def count_inputs(self, inputs: list[Path]) -> int:
        suffixes = {".txt", ".html", ".htm", ".json", ".jsonl", ".ndjson"}
        return sum(
            1 for root in inputs for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
        )

    def broker_cpu(self) -> float:
        return (proc_cpu_seconds(self.broker_pid) or 0.0) if self.broker_pid else 0.0

    # -- preflight -------------------------------------------------------------------------

    def preflight(self) -> None:
        host, _, port = self.brokers.split(",")[0].rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=3):
                pass
        except (OSError, ValueError) as err:
            raise BenchError(
                f"no Kafka broker answers at {self.brokers} ({err}). Start the local one with "
                "`deploy/local/kafka.sh start` (or pass --brokers)."
            ) from None
        status = subprocess.run(
            [str(ROOT / "deploy/local/kafka.sh"), "status"], capture_output=True, text=True
        )
        match = re.search(r"pid (\d+)", status.stdout)
        if status.returncode == 0 and match and self.brokers.startswith("127.0.0.1:9092"):
            self.broker_pid = int(match.group(1))
            try:
                cmdline = Path(f"/proc/{self.broker_pid}/cmdline").read_bytes().split(b"\0")
                cp = cmdline[cmdline.index(b"-cp") + 1].decode()
                self.broker_classpath = cp
            except (OSError, ValueError, IndexError):
                pass
        for folder in {self.corpus / "bbc-2005", self.corpus / "ukraine-war", *self.fill_inputs}:
            if not folder.is_dir():
                raise BenchError(
                    f"the corpus folder {folder} is missing (set NEWSFLOW_CORPUS or --corpus)"
                )
        if not self.args.no_build:
            log("building release binaries (cargo build --release --bins)…")
            env = dict(os.environ)
            env.setdefault("CARGO_BUILD_JOBS", "2")
            build = subprocess.run(
                ["cargo", "build", "--release", "--bins", "-q"], cwd=ROOT, env=env
            )
            if build.returncode != 0:
                raise BenchError("cargo build --release --bins failed")
        try:
            self.bin = binaries("release")
        except NotBuilt as err:
            raise BenchError(str(err)) from None
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def broker_idle_cores(self, seconds: float = 2.0) -> float | None:
        """The broker's CPU use, in cores, over a short wait before anything runs."""
        if not self.broker_pid:
            return None
        before = self.broker_cpu()
        time.sleep(seconds)
        return round((self.broker_cpu() - before) / seconds, 2)

    def machine(self) -> dict:
        cpu_model = next(
            (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
             if line.startswith("model name")), platform.processor() or "unknown")
        mem_kb = proc_status_kb_meminfo("MemTotal")
        version = None
        if self.broker_classpath:
            match = re.search(r"kafka-(\d[\w.]*)/lib", self.broker_classpath)
            version = match.group(1) if match else None
        git = {}
        try:
            git["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                           capture_output=True, text=True).stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                   cwd=ROOT, capture_output=True, text=True).stdout
            git["modified_files"] = [line[3:] for line in dirty.splitlines() if line.strip()]
            git["dirty"] = bool(git["modified_files"])
        except OSError:
            pass
        return {
            "nproc": os.cpu_count(),
            "cpu_model": cpu_model,
            "memory_gib": round(mem_kb / 1024 / 1024, 1) if mem_kb else None,
            "kernel": platform.release(),
            "python": platform.python_version(),
            "kafka_version": version,
            "brokers": self.brokers,
            "loadavg_at_start": os.getloadavg(),
            # With little free memory (a page cache filled by the broker's writes) the kernel
            # reclaims on every allocation and every process runs slower: compare runs with this
            # in mind (`sync; echo 1 > /proc/sys/vm/drop_caches` as root frees it).
            "memory_free_gib_at_start": round((proc_status_kb_meminfo("MemFree") or 0) / 1024 / 1024, 1),
            "page_cache_gib_at_start": round((proc_status_kb_meminfo("Cached") or 0) / 1024 / 1024, 1),
            "broker_idle_cores_at_start": self.broker_idle_cores(),
            "git": git,
        }

    # -- saturation ------------------------------------------------------------------------

    def start_chain(self, kind: str, mode: str, prefix: str, input_topic: str,
                    extra: dict[str, list[str]] | None = None) -> list[Service]:
        """Starts the three stages last-first, each ready before the one before it starts, so
        the first stage finds its consumers waiting. Returns them first-to-last. `extra` adds
        flags per service name (e.g. the deduplicator's --window)."""
        b = [ "--brokers", self.brokers, "--guarantee", mode]
        t = lambda name: prefix + name  # noqa: E731
        dlq = ["--dlq-topic", t("news.dlq.v1")]
        if kind == "relay":
            hops = [input_topic, t("news.normalized.v1"), t("news.deduplicated.v1"), t("news.enriched.v1")]
            specs = [
                (f"relay{i + 1}", [str(self.bin / "newsflow"), "relay", "--event-kind", "raw",
                                   "--input-topic", hops[i], "--output-topic", hops[i + 1],
                                   "--group-id", t(f"relay{i + 1}"), *dlq, *b])
                for i in range(3)
            ]
        else:
            specs = [
                ("normalizer", [str(self.bin / "newsflow-normalizer"), "--input-topic", input_topic,
                                "--output-topic", t("news.normalized.v1"),
                                "--group-id", t("normalizer"), *dlq, *b]),
                ("deduplicator", [str(self.bin / "newsflow-deduplicator"),
                                  "--input-topic", t("news.normalized.v1"),
                                  "--output-topic", t("news.deduplicated.v1"),
                                  "--duplicates-topic", t("news.duplicates.v1"),
                                  "--state-topic", t("newsflow.dedup-state.v1"),
                                  "--group-id", t("deduplicator"), *dlq, *b]),
                ("tagger", [str(self.bin / "newsflow-tagger"),
                            "--input-topic", t("news.deduplicated.v1"),
                            "--output-topic", t("news.enriched.v1"),
                            "--tag-topic-prefix", prefix,
                            "--tag-topic-partitions", str(self.args.partitions),
                            "--group-id", t("tagger"), *dlq, *b]),
            ]
        log_dir = self.log_dir / prefix[len(self.run_id):].rstrip(".")
        log_dir.mkdir(parents=True, exist_ok=True)
        services: list[Service] = []
        try:
            for name, argv in reversed(specs):
                service = Service(name, argv + (extra or {}).get(name, []), log_dir)
                services.insert(0, service)
                service.wait_ready(self.args.ready_timeout)
        except BaseException:
            self.stop_services(services)
            raise
        return services

    def stop_services(self, services: list[Service]) -> None:
        stop([s.proc for s in services])
        for service in services:
            service.close()

    @staticmethod
    def done_count(kind: str, services: list[Service]) -> tuple[float, dict]:
        """Inputs of the chain fully handled: last stage's primary outputs (+ duplicate notices
        for the pipeline) + dead letters of every stage."""
        samples = {s.name: s.metrics() for s in services}
        dlq = sum(metric_sum(m, "newsflow_output_records_total", output="dlq") for m in samples.values())
        last = samples[services[-1].name]
        done = metric_sum(last, "newsflow_output_records_total", output="primary") + dlq
        if kind == "pipeline":
            done += metric_sum(samples["deduplicator"], "newsflow_output_records_total", output="duplicates")
        return done, samples

    def wait_done(self, kind: str, services: list[Service], target: int, what: str) -> dict:
        last_progress, last_done = time.monotonic(), -1.0
        while True:
            for service in services:
                service.check_alive()
            done, samples = self.done_count(kind, services)
            now = time.monotonic()
            if done >= target:
                return samples
            if done > last_done:
                last_progress, last_done = now, done
            elif now - last_progress > self.args.stall_timeout:
                raise BenchError(
                    f"{what}: stalled at {done:.0f} of {target} articles (no progress for "
                    f"{self.args.stall_timeout:.0f} s); logs in {self.log_dir}"
                )
            time.sleep(self.args.poll)

    def saturation(self, kind: str, mode: str, source_topic: str, fill: dict) -> dict:
        prefix = f"{self.run_id}{kind}-{SHORT[mode]}."
        self.create_topics(prefix)
        n = fill["records"]
        log(f"saturation: {kind}, {mode}: {n} articles…")
        services = self.start_chain(kind, mode, prefix, source_topic)
        try:
            t0 = time.monotonic()
            cpu0 = {s.name: s.cpu() for s in services}
            # The stage's own time in process() (wall time, so only on a quiet machine close to
            # its CPU time): against the service's CPU it shows what the hop costs.
            stage0 = {s.name: metric_sum(s.metrics(), "newsflow_stage_duration_seconds_sum")
                      for s in services}
            broker0, busy0 = self.broker_cpu(), system_busy_seconds()
            samples = self.wait_done(kind, services, n, f"{kind} {mode}")
            t1 = time.monotonic()
            cpu1 = {s.name: s.cpu() for s in services}
            broker1, busy1 = self.broker_cpu(), system_busy_seconds()
            rss = {s.name: s.peak_rss_mb() for s in services}
        finally:
            self.stop_services(services)
        seconds = t1 - t0
        ours = sum(cpu1[k] - cpu0[k] for k in cpu0) + (broker1 - broker0)
        result = {
            "articles": n,
            "seconds": round(seconds, 3),
            "articles_per_s": round(n / seconds, 1),
            "mb_per_s": round(fill["bytes"] / 1e6 / seconds, 2),
            "cpu_s_per_1000": {k: round((cpu1[k] - cpu0[k]) / n * 1000, 3) for k in cpu0},
            "stage_s_per_1000": {
                k: round((metric_sum(samples[k], "newsflow_stage_duration_seconds_sum") - stage0[k])
                         / n * 1000, 3) for k in cpu0
            },
            "broker_cpu_s_per_1000": round((broker1 - broker0) / n * 1000, 3) if self.broker_pid else None,
            "peak_rss_mb": {k: round(v, 1) if v else None for k, v in rss.items()},
            "other_load_cores": round(max(0.0, (busy1 - busy0) - ours) / seconds, 2),
            "dead_letters": {
                k: metric_sum(m, "newsflow_output_records_total", output="dlq") for k, m in samples.items()
            },
        }
        if kind == "pipeline":
            result["duplicates"] = metric_sum(samples["deduplicator"], "newsflow_output_records_total",
                                              output="duplicates")
            result["dedup_retained_articles"] = metric_sum(samples["deduplicator"],
                                                           "newsflow_dedup_retained_articles")
        log(f"  {kind} {mode}: {result['articles_per_s']:,.0f} articles/s, "
            f"{result['mb_per_s']:.1f} MB/s in {seconds:.1f} s (other load {result['other_load_cores']} cores)")
        return result

    # -- latency at fixed rates -------------------------------------------------------------

    def latency(self, mode: str, n_inputs: int) -> dict:
        prefix = f"{self.run_id}latency-{SHORT[mode]}."
        self.create_topics(prefix)
        raw = prefix + "news.raw.v1"
        log(f"latency: pipeline, {mode}: rates {self.args.rates} for ~{self.args.rate_seconds:.0f} s each…")
        services = self.start_chain("pipeline", mode, prefix, raw)
        by_name = {s.name: s for s in services}
        segments, cumulative = [], 0
        try:
            # Warm-up, not measured: every input once (--repeat 1) at the first rate, so
            # connections, per-tag topics' metadata and caches are warm.
            warm = self.produce(self.fill_inputs, raw, 1, seed=999, source=f"bench-{SHORT[mode]}-warm",
                                rate=self.args.rates[0])
            cumulative += warm["records"]
            self.wait_done("pipeline", services, cumulative, f"latency warm-up {mode}")
            for index, rate in enumerate(self.args.rates):
                repeat = max(1, round(rate * self.args.rate_seconds / (n_inputs * (1 + DUPLICATE_RATIO))))
                before = {s.name: s.metrics() for s in services}
                hist0 = {name: histogram(m, "newsflow_end_to_end_latency_seconds") for name, m in before.items()}
                commits0 = {name: metric_sum(m, "newsflow_transactions_total", outcome="committed")
                            for name, m in before.items()}
                commit_time0 = {name: histogram(m, "newsflow_transaction_commit_duration_seconds")
                                for name, m in before.items()}
                # Read -> acknowledged inside each service, to tell a stage's own delay from
                # time spent before it could read the record.
                inside0 = {name: histogram(m, "newsflow_input_duration_seconds") for name, m in before.items()}
                cpu0 = {s.name: s.cpu() for s in services}
                broker0, busy0, t0 = self.broker_cpu(), system_busy_seconds(), time.monotonic()
                sent = self.produce(self.fill_inputs, raw, repeat, seed=1000 + index,
                                    source=f"bench-{SHORT[mode]}-{rate}", rate=rate)
                produced_at = time.monotonic()
                cumulative += sent["records"]
                samples = self.wait_done("pipeline", services, cumulative, f"latency {mode} {rate}/s")
                t1 = time.monotonic()
                cpu1 = {s.name: s.cpu() for s in services}
                broker1, busy1 = self.broker_cpu(), system_busy_seconds()
                hists = {name: histogram_delta(histogram(samples[name], "newsflow_end_to_end_latency_seconds"),
                                               hist0[name]) for name in hist0}
                hist = hists["tagger"]
                per_stage = {}
                for name, h in hists.items():
                    p50, _ = histogram_quantile(0.5, h)
                    p99, _ = histogram_quantile(0.99, h)
                    commits = metric_sum(samples[name], "newsflow_transactions_total", outcome="committed")
                    commit_time = histogram_delta(
                        histogram(samples[name], "newsflow_transaction_commit_duration_seconds"), commit_time0[name])
                    inside = histogram_delta(histogram(samples[name], "newsflow_input_duration_seconds"),
                                             inside0[name])
                    inside_p99, _ = histogram_quantile(0.99, inside)
                    per_stage[name] = {"read_to_ack_p99_ms": None if inside_p99 is None else round(inside_p99 * 1000, 1),
                                       "commit_mean_ms": round(commit_time["sum"] / commit_time["count"] * 1000, 1)
                                       if commit_time["count"] else None,
"p50_ms": None if p50 is None else round(p50 * 1000, 1),
                                       "p99_ms": None if p99 is None else round(p99 * 1000, 1),
                                       "observations": h["count"],
                                       "buckets": {("+Inf" if le == math.inf else str(le)): v
                                                   for le, v in sorted(h["buckets"].items())},
                                       "transactions_per_s": round((commits - commits0[name]) / (time.monotonic() - t0), 2)}
                quantiles = {}
                for label, q in (("p50", 0.5), ("p99", 0.99), ("p99_9", 0.999)):
                    value, capped = histogram_quantile(q, hist)
                    quantiles[label + "_ms"] = None if value is None else round(value * 1000, 1)
                    if capped:
                        quantiles[label + "_above_largest_bucket"] = True
                ours = sum(cpu1[k] - cpu0[k] for k in cpu0) + (broker1 - broker0) + sent["cpu_seconds"]
                segment = {
                    "rate": rate,
                    "articles": sent["records"],
                    "achieved_produce_rate": round(sent["records"] / sent["seconds"], 1),
                    "produce_seconds": sent["seconds"],
                    "drain_after_produce_s": round(t1 - produced_at, 2),
                    "observations": hist["count"],
                    "mean_ms": round(hist["sum"] / hist["count"] * 1000, 1) if hist["count"] else None,
                    **quantiles,
                    "share_within_50ms": share_at_most(0.05, hist),
                    "per_stage": per_stage,
                    "buckets": {("+Inf" if le == math.inf else str(le)): v for le, v in sorted(hist["buckets"].items())},
                    "cpu_s_per_1000": {k: round((cpu1[k] - cpu0[k]) / sent["records"] * 1000, 3) for k in cpu0},
                    "other_load_cores": round(max(0.0, (busy1 - busy0) - ours) / (t1 - t0), 2),
                }
                segments.append(segment)
                log(f"  {mode} {rate}/s: p50 {segment['p50_ms']} ms, p99 {segment['p99_ms']} ms, "
                    f"p99.9 {segment['p99_9_ms']} ms ({hist['count']:.0f} observations; drained "
                    f"{segment['drain_after_produce_s']} s after the producer)")
            final = by_name["deduplicator"].metrics()
            rss = {s.name: s.peak_rss_mb() for s in services}
        finally:
            self.stop_services(services)
        return {
            "segments": segments,
            "articles_total": cumulative,
            "peak_rss_mb": {k: round(v, 1) if v else None for k, v in rss.items()},
            "dedup_retained_articles": metric_sum(final, "newsflow_dedup_retained_articles"),
        }

    # -- in-process ------------------------------------------------------------------------

    def inprocess(self) -> dict:
        inputs = [self.corpus / "bbc-2005", self.corpus / "ukraine-war"]
        log(f"in-process: newsflow run over {', '.join(p.name for p in inputs)} ×{self.args.inprocess_runs}…")

        def one(argv: list[str]) -> tuple[float, float, str]:
            before = children_cpu_seconds()
            t0 = time.monotonic()
            done = self.newsflow("run", *argv, "--output", os.devnull, "--dlq", os.devnull)
            return time.monotonic() - t0, children_cpu_seconds() - before, done.stderr

        startup = min(one([])[0] for _ in range(3))  # the four shipped samples: start-up cost
        runs = []
        for _ in range(self.args.inprocess_runs):
            wall, cpu, stderr = one([str(p) for p in inputs])
            match = re.search(r"(\d+) articles written, (\d+) rejected", stderr)
            if not match:
                raise BenchError(f"cannot read the summary of newsflow run:\n{stderr[-2000:]}")
            written, rejected = int(match.group(1)), int(match.group(2))
            runs.append({"wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                         "written": written, "rejected": rejected})
        wall = statistics.median(r["wall_s"] for r in runs)
        cpu = statistics.median(r["cpu_s"] for r in runs)
        articles = runs[0]["written"] + runs[0]["rejected"]
        result = {
            "inputs": [p.name for p in inputs],
            "articles": articles,
            "runs": runs,
            "startup_s": round(startup, 3),
            "articles_per_s": round(articles / wall, 1),
            "articles_per_s_excluding_startup": round(articles / max(1e-6, wall - startup), 1),
            "articles_per_cpu_s": round(articles / cpu, 1) if cpu > 0 else None,
        }
        log(f"  in-process: {result['articles_per_s']:,.0f} articles/s "
            f"({result['articles_per_s_excluding_startup']:,.0f}/s without the {startup:.2f} s start-up)")
        return result

    # -- the whole run ---------------------------------------------------------------------

    def section(self, name: str, fn, *args):
        try:
            return fn(*args)
        except BenchError as err:
            message = f"{name}: {err}"
            log("ERROR " + message)
            self.errors.append(message)
            return {"error": str(err)}

    def run(self) -> dict:
        args = self.args
        started = dt.datetime.now(dt.timezone.utc)
        self.preflight()
        result = self.result
        result.update({
            "started_at": started.isoformat(timespec="seconds"),
            "mode": "quick" if args.quick else "full",
            "command": " ".join(["scripts/bench.py", *sys.argv[1:]]),
            "run_id": self.run_id,
            "machine": self.machine(),
            "settings": {
                "partitions": args.partitions, "target_articles": args.articles, "fill": args.fill,
                "rates": args.rates, "rate_seconds": args.rate_seconds,
                "duplicate_ratio": DUPLICATE_RATIO, "modes": args.modes,
                "latency_method": "tagger newsflow_end_to_end_latency_seconds histogram deltas, "
                                  "linear interpolation within buckets (histogram_quantile)",
            },
        })
        if "inprocess" in args.sections:
            result["inprocess"] = self.section("in-process", self.inprocess)

        sat = {}
        if "baseline" in args.sections or "pipeline" in args.sections:
            n_inputs = self.count_inputs(self.fill_inputs)
            repeat = max(1, math.ceil(args.articles / (n_inputs * (1 + DUPLICATE_RATIO))))
            source_prefix = f"{self.run_id}source."
            self.create_topics(source_prefix)
            log(f"pre-filling {source_prefix}news.raw.v1: {args.fill} --repeat {repeat} "
                f"--duplicate-ratio {DUPLICATE_RATIO}…")
            fill = self.produce(self.fill_inputs, source_prefix + "news.raw.v1", repeat, seed=7, source="bench")
            fill["average_kb"] = round(fill["bytes"] / fill["records"] / 1000, 2)
            log(f"  {fill['records']} records ({fill['copies']} copies), {fill['bytes'] / 1e6:.1f} MB, "
                f"{fill['average_kb']} kB each, in {fill['seconds']:.1f} s")
            result["fill"] = fill
            for mode in args.modes:
                sat[mode] = {}
                for kind in ("relay", "pipeline"):
                    if (kind == "relay" and "baseline" in args.sections) or (
                            kind == "pipeline" and "pipeline" in args.sections):
                        sat[mode][kind] = self.section(
                            f"saturation {kind} {mode}", self.saturation, kind, mode,
                            source_prefix + "news.raw.v1", fill)
                relay, pipe = sat[mode].get("relay", {}), sat[mode].get("pipeline", {})
                if "articles_per_s" in relay and "articles_per_s" in pipe:
                    sat[mode]["ratio"] = round(pipe["articles_per_s"] / relay["articles_per_s"], 3)
            result["saturation"] = sat

        if "latency" in args.sections:
            n_inputs = self.count_inputs(self.fill_inputs)
            result["latency"] = {
                mode: self.section(f"latency {mode}", self.latency, mode, n_inputs) for mode in args.modes
            }
        result["targets"] = self.targets()
        result["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        result["machine"]["loadavg_at_end"] = os.getloadavg()
        result["errors"] = self.errors
        return result

    def targets(self) -> list[dict]:
        r, rows = self.result, []
        for mode, sat in r.get("saturation", {}).items():
            if "ratio" in sat:
                rows.append({"target": f"pipeline ≥ 60 % of relay baseline ({mode})",
                             "value": f"{sat['ratio'] * 100:.0f} %", "met": sat["ratio"] >= TARGET_RATIO})
        for mode, lat in r.get("latency", {}).items():
            for seg in lat.get("segments", []):
                if seg["rate"] == TARGET_P99_RATE and seg.get("p99_ms") is not None:
                    name = f"p99 ≤ 50 ms at 1,000/s ({mode})"
                    if mode != "at-least-once":
                        name += " (report only)"
                    share = seg.get("share_within_50ms")
                    rows.append({"target": name,
                                 "value": f"{seg['p99_ms']} ms ({share * 100:.2f} % ≤ 50 ms)" if share is not None
                                 else f"{seg['p99_ms']} ms",
                                 "met": share is not None and share >= 0.99})
        ip = r.get("inprocess", {})
        if "articles_per_s" in ip:
            rows.append({"target": "in-process ≥ 15,000 articles/s (corpus mix)",
                         "value": f"{ip['articles_per_s']:,.0f}/s ({ip['articles_per_s_excluding_startup']:,.0f}/s "
                                  "without start-up)",
                         "met": ip["articles_per_s"] >= TARGET_INPROCESS})
        peaks: dict[str, float] = {}
        window = 0.0
        for sat in r.get("saturation", {}).values():
            pipe = sat.get("pipeline", {})
            for k, v in pipe.get("peak_rss_mb", {}).items():
                peaks[k] = max(peaks.get(k, 0.0), v or 0.0)
            window = max(window, pipe.get("dedup_retained_articles", 0.0))
        for lat in r.get("latency", {}).values():
            for k, v in lat.get("peak_rss_mb", {}).items():
                peaks[k] = max(peaks.get(k, 0.0), v or 0.0)
            window = max(window, lat.get("dedup_retained_articles", 0.0))
        if peaks:
            worst = max(peaks, key=peaks.get)
            note = "" if window >= TARGET_WINDOW else f"; only {window:,.0f} articles in the window, target says 100,000"
            rows.append({"target": "peak RSS ≤ 150 MB per service (100,000 articles in window)",
                         "value": f"max {peaks[worst]:.0f} MB ({worst}){note}",
                         "met": peaks[worst] <= TARGET_RSS_MB if window >= TARGET_WINDOW else None})
        return rows

    def delete_topics(self) -> None:
        if self.args.keep_topics or not self.topic_prefixes:
            return
        if not self.broker_classpath or not shutil.which("java"):
            log(f"topics under {self.run_id}* are kept (no broker jars found to delete them); "
                "the broker's retention removes their data")
            return
        pattern = re.escape(self.run_id) + ".*"
        log(f"deleting the run's topics ({pattern})…")
        try:
            done = subprocess.run(
                ["java", "-Xmx256m", "-cp", self.broker_classpath, "org.apache.kafka.tools.TopicCommand",
                 "--bootstrap-server", self.brokers, "--delete", "--topic", pattern],
                capture_output=True, text=True, timeout=120, preexec_fn=_die_with_parent,
            )
            if done.returncode != 0:
                log(f"could not delete the topics: {done.stderr.strip()[-500:]}")
        except (OSError, subprocess.TimeoutExpired) as err:
            log(f"could not delete the topics: {err}")


def proc_status_kb_meminfo(key: str) -> int | None:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


# --------------------------------------------------------------------------------------------
# Output.


def fmt(value, spec: str = ",.0f", unit: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:{spec}}{unit}"


def print_table(r: dict) -> None:
    m = r["machine"]
    out = []
    out.append(f"newsflow benchmark, {r['mode']} run, {r['started_at']}  (run id {r['run_id']})")
    out.append(f"machine: {m['nproc']} cores, {m['cpu_model']}, {m['memory_gib']} GiB, Linux {m['kernel']}, "
               f"Kafka {m['kafka_version'] or '?'} at {m['brokers']}; load average at start "
               f"{m['loadavg_at_start'][0]:.2f}, at end {m.get('loadavg_at_end', [0])[0]:.2f}; "
               f"at start {m.get('memory_free_gib_at_start')} GiB free, "
               f"{m.get('page_cache_gib_at_start')} GiB page cache, broker idle "
               f"{fmt(m.get('broker_idle_cores_at_start'), '.2f')} cores")
    modes = r["settings"]["modes"]
    if "saturation" in r:
        fill = r["fill"]
        out.append("")
        out.append(f"Saturation: {fill['records']:,} articles ({fill['copies']:,} true copies), "
                   f"{fill['average_kb']} kB each, {r['settings']['partitions']} partition(s) per topic")
        out.append(f"{'':24}" + "".join(f"{mode:>32}" for mode in modes))
        for kind, label in (("relay", "relay ×3 (baseline)"), ("pipeline", "normalize→dedup→tag")):
            cells = []
            for mode in modes:
                x = r["saturation"][mode].get(kind, {})
                if "error" in x:
                    cells.append(f"{'ERROR':>32}")
                elif x:
                    cells.append(f"{fmt(x['articles_per_s']) + ' art/s ' + fmt(x['mb_per_s'], '.1f') + ' MB/s':>32}")
                else:
                    cells.append(f"{'–':>32}")
            out.append(f"{label:24}" + "".join(cells))
        out.append(f"{'pipeline / relay':24}" + "".join(
            f"{fmt(r['saturation'][mode].get('ratio', None) and r['saturation'][mode]['ratio'] * 100, '.0f', ' %'):>32}"
            for mode in modes))
        out.append("")
        out.append("CPU s per 1,000 articles (saturation window) and peak RSS (MB):")
        for mode in modes:
            for kind in ("relay", "pipeline"):
                x = r["saturation"][mode].get(kind, {})
                if "cpu_s_per_1000" not in x:
                    continue
                parts = [f"{k} {v:.3f} s / {x['peak_rss_mb'].get(k) or 0:.0f} MB"
                         for k, v in x["cpu_s_per_1000"].items()]
                broker = x.get("broker_cpu_s_per_1000")
                out.append(f"  {mode:14} {kind:9} " + "; ".join(parts)
                           + (f"; broker {broker:.3f} s" if broker is not None else "")
                           + f"; other load {x['other_load_cores']} cores")
                if kind == "pipeline":
                    out.append(f"  {'':14} {'':9} {x['duplicates']:,.0f} duplicate notices for "
                               f"{r['fill']['copies']:,} true copies sent; dead letters "
                               f"{sum(x['dead_letters'].values()):,.0f}; {x['dedup_retained_articles']:,.0f} "
                               "articles in the dedup window at the end")
    if "latency" in r:
        out.append("")
        out.append("End-to-end latency, ingested_at → tagger output acknowledged (committed in exactly-once),")
        out.append("from the tagger's histogram (buckets 5, 10, 25, 50, 100, 250, 500 ms, 1 s, …; interpolated):")
        out.append(f"  {'mode':14} {'rate/s':>7} {'sent/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} "
                   f"{'≤50 ms':>8} {'drain s':>8}  CPU s/1000 (norm, dedup, tag)")
        for mode in modes:
            lat = r["latency"].get(mode, {})
            if "error" in lat:
                out.append(f"  {mode:14} ERROR: {lat['error'].splitlines()[0]}")
                continue
            for seg in lat.get("segments", []):
                share = seg.get("share_within_50ms")
                cpu = seg["cpu_s_per_1000"]
                out.append(
                    f"  {mode:14} {seg['rate']:>7} {seg['achieved_produce_rate']:>7.0f} {fmt(seg['p50_ms'], '.1f'):>8} "
                    f"{fmt(seg['p99_ms'], '.1f'):>8} {fmt(seg['p99_9_ms'], '.1f'):>9} "
                    f"{fmt(share and share * 100, '.2f', '%'):>8} {seg['drain_after_produce_s']:>8.2f}  "
                    + ", ".join(f"{cpu.get(k, 0):.3f}" for k in ("normalizer", "deduplicator", "tagger")))
                stages = seg.get("per_stage", {})
                out.append(f"  {'':14} {'':>7} cumulative p50/p99 ms after each stage: " + ", ".join(
                    f"{k} {fmt(v['p50_ms'], '.1f')}/{fmt(v['p99_ms'], '.1f')}"
                    + (f" (read→ack p99 {fmt(v['read_to_ack_p99_ms'], '.0f')} ms)" if v.get("read_to_ack_p99_ms") is not None else "")
                    + (f" ({v['transactions_per_s']:.1f} tx/s, commit {fmt(v.get('commit_mean_ms'), '.0f')} ms)"
                       if v.get("transactions_per_s") else "")
                    for k, v in stages.items()))
            if lat.get("peak_rss_mb"):
                out.append(f"  {mode:14} peak RSS after {lat['articles_total']:,} articles: "
                           + ", ".join(f"{k} {v:.0f} MB" for k, v in lat["peak_rss_mb"].items())
                           + f" ({lat['dedup_retained_articles']:,.0f} articles in the dedup window)")
    if "inprocess" in r and "articles_per_s" in r["inprocess"]:
        ip = r["inprocess"]
        out.append("")
        out.append(f"In-process (newsflow run {' + '.join(ip['inputs'])}, {ip['articles']:,} articles): "
                   f"{ip['articles_per_s']:,.0f} articles/s wall, {ip['articles_per_s_excluding_startup']:,.0f}/s "
                   f"without the {ip['startup_s']:.2f} s start-up, {fmt(ip['articles_per_cpu_s'])} per CPU second")
    out.append("")
    out.append("Targets (issue 11):")
    for row in r["targets"]:
        met = {True: "met", False: "NOT met", None: "not judged"}[row["met"]]
        out.append(f"  {row['target']:60} {row['value']:46} {met}")
    if r["errors"]:
        out.append("")
        out.append("Errors:")
        out.extend("  " + e.splitlines()[0] for e in r["errors"])
    print("\n".join(out))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a short run (~5,000 articles, 6 s per rate, one in-process run)")
    parser.add_argument("--json", type=Path, default=ROOT / "target/bench/latest.json",
                        help="where to write the results (default: target/bench/latest.json)")
    parser.add_argument("--brokers", default=os.environ.get("NEWSFLOW_BROKERS", "127.0.0.1:9092"))
    parser.add_argument("--corpus", default=os.environ.get("NEWSFLOW_CORPUS", str(ROOT.parent / "shared/corpus")),
                        help="the shared corpus folder (bbc-2005 and ukraine-war are used)")
    parser.add_argument("--fill", default="ukraine-war",
                        help="corpus folder(s), comma-separated, that `newsflow produce --repeat` draws the "
                             "Kafka runs' articles from (default ukraine-war: ~3.1 kB raw events)")
    parser.add_argument("--partitions", type=int, default=3, help="partitions per topic (default 3)")
    parser.add_argument("--articles", type=int,
                        help="saturation input size, at least (default 100,000; quick 5,000)")
    parser.add_argument("--rates", type=lambda s: [int(x) for x in s.split(",")], default=[500, 1000, 2000],
                        help="produce rates for the latency runs, comma-separated (default 500,1000,2000)")
    parser.add_argument("--rate-seconds", type=float, help="length of each latency run (default 25; quick 6)")
    parser.add_argument("--modes", type=lambda s: s.split(","), default=list(MODES),
                        help="delivery modes, comma-separated (default exactly-once,at-least-once)")
    parser.add_argument("--only", dest="sections", type=lambda s: s.split(","),
                        default=["baseline", "pipeline", "latency", "inprocess"],
                        help="sections to run, comma-separated: baseline,pipeline,latency,inprocess")
    parser.add_argument("--inprocess-runs", type=int, help="newsflow run repetitions (median; default 5; quick 1)")
    parser.add_argument("--stall-timeout", type=float, default=60.0,
                        help="give a measurement up when nothing progressed for this many seconds")
    parser.add_argument("--ready-timeout", type=float, default=90.0)
    parser.add_argument("--poll", type=float, default=0.05, help="metrics polling interval, seconds")
    parser.add_argument("--no-build", action="store_true", help="use the release binaries already built")
    parser.add_argument("--keep-topics", action="store_true", help="do not delete the run's topics at the end")
    args = parser.parse_args()
    for mode in args.modes:
        if mode not in MODES:
            parser.error(f"unknown mode {mode!r}; use {', '.join(MODES)}")
    unknown = set(args.sections) - {"baseline", "pipeline", "latency", "inprocess"}
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    args.articles = args.articles or (5_000 if args.quick else 100_000)
    args.rate_seconds = args.rate_seconds or (6.0 if args.quick else 25.0)
    args.inprocess_runs = args.inprocess_runs or (1 if args.quick else 5)

    signal.signal(signal.SIGTERM, _on_sigterm)
    bench = Bench(args)
    try:
        result = bench.run()
    except BenchError as err:
        print(f"bench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        stop_all()
        bench.delete_topics()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print_table(result)
    print(f"\nJSON: {args.json}   logs: {bench.log_dir}", file=sys.stderr)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
