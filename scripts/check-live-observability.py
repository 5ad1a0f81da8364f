#!/usr/bin/env python3
"""The monitoring, live: the four stage services and the gateway on a real broker, a real Prometheus
scraping them, a known number of corpus articles fed through (a few of them POSTed to the
gateway, with one SSE client reading the enriched feed), and then every query of the Grafana
dashboard asked of Prometheus. Each must return data, and the counters must match what was fed
(not merely present, not all zero).

    scripts/check-live-observability.py [--binaries DIR] --brokers 127.0.0.1:19092

The binaries are the debug build in cargo's target directory (CARGO_TARGET_DIR counts) unless
--binaries names a folder.

Needs `prometheus` on PATH (Debian's package) and the shared corpus (NEWSFLOW_CORPUS, default
../shared/corpus). Topics, consumer groups and ports are its own, so it can share a broker.
"""

import argparse
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True  # no __pycache__ in scripts/lib
sys.path.insert(0, str(ROOT / "scripts/lib"))
from target_dir import NotBuilt, binaries  # noqa: E402
DASHBOARD = ROOT / "deploy/grafana/dashboards/newsflow.json"
STAGES = ("normalizer", "deduplicator", "tagger", "clusterer")

# What is fed: real articles (war reports, so the tagger has tags to count, and BBC business
# stories), exact copies of some of them under other paths, and inputs the normalizer rejects.
WAR_ARTICLES = 30
BBC_ARTICLES = 20
COPIES = 5
FEED_RATE = 15  # articles/s: the feed spans several scrapes, so rates are not zero
# POSTed to the gateway (war reports after the fed ones), and one request it must refuse (400).
GATEWAY_ARTICLES = 3
GATEWAY_TOKEN = "obs-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


def wait_for(what, condition, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
            if last:
                return last
        except OSError as err:
            last = err
        time.sleep(0.5)
    sys.exit(f"FAIL: {what} (within {timeout} s; last: {last!r})")


def prom_query(base, expr):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    _, body = http_get(url)
    answer = json.loads(body)
    if answer.get("status") != "success":
        sys.exit(f"FAIL: Prometheus refused {expr!r}: {answer}")
    return answer["data"]["result"]


def total(base, expr):
    return sum(float(r["value"][1]) for r in prom_query(base, expr))


def dashboard_queries():
    dashboard = json.loads(DASHBOARD.read_text())
    queries = []

    def walk(panels):
        for panel in panels:
            walk(panel.get("panels", []))
            for target in panel.get("targets", []):
                queries.append((panel.get("title", "?"), target["expr"]))

    walk(dashboard["panels"])
    return queries


def post_to_gateway(port, corpus):
    """POSTs GATEWAY_ARTICLES pages as text/plain, then one without its source (400); returns
    the number accepted and the bytes sent in accepted requests. The requests are 2 s apart:
    a (route, status) series first appears with its first count, so its rate() is only above
    zero once later requests add to it across scrapes."""
    pages = sorted((corpus / "ukraine-war").glob("*.txt"))[WAR_ARTICLES:WAR_ARTICLES + GATEWAY_ARTICLES]
    if len(pages) < GATEWAY_ARTICLES:
        sys.exit(f"FAIL: the corpus at {corpus} lacks the articles this check POSTs")
    sent = 0
    for i, page in enumerate(pages + [None]):
        if i:
            time.sleep(2)
        body = (page or pages[0]).read_bytes()
        headers = {"Authorization": f"Bearer {GATEWAY_TOKEN}", "Content-Type": "text/plain"}
        if page is not None:
            headers["X-Newsflow-Source"] = "obs-gateway"
            headers["X-Newsflow-Id"] = f"obs-gateway-{i}"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/v1/articles", body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read().decode()
        connection.close()
        want = 202 if page is not None else 400
        if response.status != want:
            sys.exit(f"FAIL: POST /v1/articles answered {response.status} (want {want}): {answer}")
        sent += len(body) if page is not None else 0
    return len(pages), sent


class StreamClient:
    """One SSE client of the gateway's enriched feed, counting the articles it gets."""

    def __init__(self, port):
        self.articles = 0
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.connection.request("GET", "/v1/stream",
                                headers={"Authorization": f"Bearer {GATEWAY_TOKEN}",
                                         "Accept": "text/event-stream"})
        response = self.connection.getresponse()
        if response.status != 200:
            sys.exit(f"FAIL: GET /v1/stream answered {response.status}: {response.read()!r}")
        self.response = response
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for line in self.response:
                if line.rstrip(b"\r\n") == b"event: article":
                    self.articles += 1
        except (OSError, ValueError, AttributeError):
            pass  # closed by close()

    def close(self):
        self.connection.close()


def feed_dir(corpus, work):
    """Writes the inputs; returns (folder, articles, exact copies, rejects)."""
    feed = work / "feed"
    (feed / "copies").mkdir(parents=True)
    war = sorted((corpus / "ukraine-war").glob("*.txt"))[:WAR_ARTICLES]
    bbc = sorted((corpus / "bbc-2005/business").glob("*.txt"))[:BBC_ARTICLES]
    originals = war + bbc
    if len(originals) < WAR_ARTICLES + BBC_ARTICLES:
        sys.exit(f"FAIL: the corpus at {corpus} lacks the articles this check feeds")
    for i, path in enumerate(originals):
        shutil.copy(path, feed / f"{i:03}-{path.name}")
    for i, path in enumerate(originals[:COPIES]):
        shutil.copy(path, feed / "copies" / f"{i:03}-{path.name}")
    # Rejected by the normalizer (empty_content, unknown_content_type); last, once scraping runs.
    (feed / "zz-empty.txt").write_text(" \n\n ")
    (feed / "zz-bad.jsonl").write_text(
        json.dumps({"id": "obs-pdf", "source": "obs", "content_type": "application/pdf",
                    "content": "%PDF-1.4"}) + "\n")
    # Byte-identical texts among the originals are exact copies too.
    distinct = len({hashlib.sha256(p.read_bytes()).digest() for p in originals})
    exact = (len(originals) - distinct) + COPIES
    return feed, len(originals) + COPIES, exact, 2


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binaries", type=Path,
                        help="the folder of the service binaries (default: cargo's debug build)")
    parser.add_argument("--brokers", default=os.environ.get("NEWSFLOW_TEST_BROKERS", "127.0.0.1:9092"))
    parser.add_argument("--corpus", type=Path,
                        default=Path(os.environ.get("NEWSFLOW_CORPUS", ROOT.parent / "shared/corpus")))
    args = parser.parse_args()
    try:
        bins = binaries("debug", args.binaries)
    except NotBuilt as err:
        sys.exit(f"FAIL: {err}")
    if not shutil.which("prometheus"):
        sys.exit("FAIL: prometheus is not installed (apt-get install prometheus)")

    work = Path(tempfile.mkdtemp(prefix="newsflow-obs-"))
    processes = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env["RUST_LOG"] = env.get("RUST_LOG", "warn")

    def start(name, argv):
        log = open(work / f"{name}.log", "w")
        processes.append((name, subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)))

    try:
        prefix = f"obs{os.getpid()}{int(time.time()) % 100000}."
        topic = lambda name: prefix + name  # noqa: E731
        subprocess.run([bins / "newsflow", "topics", "create", "--brokers", args.brokers,
                        "--prefix", prefix, "--partitions", "2"], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        common = ["--brokers", args.brokers, "--dlq-topic", topic("news.dlq.v1"),
                  "--kafka-option", "session.timeout.ms=6000"]
        ports = {stage: free_port() for stage in (*STAGES, "gateway")}
        api_port = free_port()
        start("normalizer", [bins / "newsflow-normalizer", *common,
                             "--group-id", prefix + "normalizer",
                             "--admin-addr", f"127.0.0.1:{ports['normalizer']}",
                             "--input-topic", topic("news.raw.v1"),
                             "--output-topic", topic("news.normalized.v1")])
        start("deduplicator", [bins / "newsflow-deduplicator", *common,
                               "--group-id", prefix + "deduplicator",
                               "--admin-addr", f"127.0.0.1:{ports['deduplicator']}",
                               "--input-topic", topic("news.normalized.v1"),
                               "--output-topic", topic("news.deduplicated.v1"),
                               "--duplicates-topic", topic("news.duplicates.v1"),
                               "--state-topic", topic("newsflow.dedup-state.v1")])
        start("tagger", [bins / "newsflow-tagger", *common,
                         "--group-id", prefix + "tagger",
                         "--admin-addr", f"127.0.0.1:{ports['tagger']}",
                         "--input-topic", topic("news.deduplicated.v1"),
                         "--output-topic", topic("news.enriched.v1"),
                         "--tag-topic-prefix", prefix, "--tag-topic-partitions", "1"])
        start("clusterer", [bins / "newsflow-clusterer", *common,
                            "--group-id", prefix + "clusterer",
                            "--admin-addr", f"127.0.0.1:{ports['clusterer']}",
                            "--input-topic", topic("news.enriched.v1"),
                            "--duplicates-topic", topic("news.duplicates.v1"),
                            "--stories-topic", topic("news.stories.v1"),
                            "--state-topic", topic("newsflow.story-state.v1")])
        (work / "tokens").write_text(f"# the live check's client\n{GATEWAY_TOKEN}\n")
        start("gateway", [bins / "newsflow-gateway", "--brokers", args.brokers,
                          "--topic-prefix", prefix, "--tokens-file", work / "tokens",
                          "--listen", f"127.0.0.1:{api_port}",
                          "--admin-addr", f"127.0.0.1:{ports['gateway']}"])

        prom_port = free_port()
        targets = ", ".join(f"'127.0.0.1:{port}'" for port in ports.values())
        (work / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"scrape_configs:\n  - job_name: newsflow\n    static_configs:\n      - targets: [{targets}]\n")
        start("prometheus", ["prometheus", f"--config.file={work / 'prometheus.yml'}",
                             f"--storage.tsdb.path={work / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{prom_port}"])
        prom = f"http://127.0.0.1:{prom_port}"

        for service in ports:
            wait_for(f"{service} ready", lambda s=service: http_get(
                f"http://127.0.0.1:{ports[s]}/readyz")[0] == 200, 90)
        wait_for("Prometheus scraping the four services and the gateway",
                 lambda: total(prom, 'sum(up{job="newsflow"})') == len(ports), 60)
        print(f"four services and the gateway ready, Prometheus at {prom}; topics {prefix}*")

        # One SSE client on the enriched feed from before the first article, then the gateway's
        # articles into news.raw.v1 (they go through the pipeline with the rest).
        client = StreamClient(api_port)
        posted, posted_bytes = post_to_gateway(api_port, args.corpus)
        print(f"POSTed {posted} articles ({posted_bytes} bytes) to the gateway, one bad request")

        feed, articles, exact, rejects = feed_dir(args.corpus, work)
        articles += posted
        fed = articles + rejects
        subprocess.run([bins / "newsflow", "produce", feed, "--brokers", args.brokers,
                        "--topic", topic("news.raw.v1"), "--rate", str(FEED_RATE)],
                       check=True, env=env)
        print(f"fed {fed} records: {articles} articles ({exact} exact copies), {rejects} to reject")

        def scraped(expr, want):
            return wait_for(f"{expr} == {want} in Prometheus",
                            lambda: total(prom, expr) == want, 90)

        scraped('sum(newsflow_input_records_total{stage="normalizer"})', fed)
        scraped('sum(newsflow_dead_letters_total{stage="normalizer"})', rejects)
        scraped('sum(newsflow_input_records_total{stage="deduplicator"})', articles)
        duplicates = wait_for(
            "the deduplicator's outputs adding up to its input",
            lambda: (lambda d, u: d if d + u == articles else None)(
                total(prom, 'sum(newsflow_output_records_total{stage="deduplicator",output="duplicates"})'),
                total(prom, 'sum(newsflow_output_records_total{stage="deduplicator",output="primary"})')),
            90)
        if duplicates < exact:
            sys.exit(f"FAIL: {duplicates} duplicates flagged, {exact} exact copies fed")
        unique = articles - duplicates
        scraped('sum(newsflow_input_records_total{stage="tagger"})', unique)
        scraped('sum(newsflow_output_records_total{stage="tagger",output="primary"})', unique)
        tags = total(prom, 'sum(newsflow_tags_total)')
        copies = total(prom, 'sum(newsflow_output_records_total{stage="tagger",output="topic"})')
        if tags <= 0 or tags != copies:
            sys.exit(f"FAIL: {tags} tags counted, {copies} per-topic copies produced")
        print(f"counters match: normalizer {fed} in / {rejects} dead letters, deduplicator "
              f"{articles} in / {duplicates:.0f} duplicates, tagger {unique} in / {tags:.0f} tags")
        # The clusterer reads every article and notice; each is placed in one story once.
        scraped('sum(newsflow_input_records_total{stage="clusterer"})', articles)
        placed = wait_for(
            "every article placed in a story",
            lambda: (lambda n: n if n >= articles else None)(
                total(prom, 'sum(newsflow_story_records_total{stage="clusterer",change=~"opened|joined|merged"})')),
            90)
        opened = total(prom, 'sum(newsflow_story_records_total{stage="clusterer",change="opened"})')
        if not 0 < opened <= unique:
            sys.exit(f"FAIL: {opened} stories opened for {unique} unique articles")
        print(f"clusterer: {articles} in, {opened:.0f} stories opened, {placed:.0f} records placing articles")
        scraped('sum(newsflow_gateway_ingested_records_total)', posted)
        scraped('sum(newsflow_gateway_ingested_bytes_total)', posted_bytes)
        scraped('sum(newsflow_gateway_requests_total{route="/v1/articles",status="202"})', posted)
        scraped('sum(newsflow_gateway_requests_total{route="/v1/articles",status="400"})', 1)
        scraped('sum(newsflow_gateway_clients)', 1)
        # Every enriched article reaches the client that was connected before the first one.
        scraped('sum(newsflow_gateway_events_sent_total)', unique)
        wait_for(f"the SSE client receiving {unique} articles", lambda: client.articles == unique, 30)
        print(f"gateway: {posted} records ingested, {unique} articles sent to its stream client")

        time.sleep(3)  # one more scrape after the last record, for the rate() windows
        failures = []
        for title, expr in dashboard_queries():
            result = prom_query(prom, expr)
            values = [float(r["value"][1]) for r in result]
            if not result:
                failures.append(f"no data: [{title}] {expr}")
            elif "rate(" in expr and not any(v > 0 for v in values if v == v):
                failures.append(f"all zero: [{title}] {expr} -> {values}")
            else:
                print(f"  ok [{title}] {expr} -> {[round(v, 3) for v in values][:6]}")
        if failures:
            sys.exit("FAIL:\n  " + "\n  ".join(failures))
        print(f"every dashboard query returns data ({len(dashboard_queries())} queries)")
        client.close()
    finally:
        for name, process in reversed(processes):
            process.send_signal(signal.SIGTERM)
        for name, process in processes:
            try:
                code = process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                code = "killed"
            if name != "prometheus" and code != 0:
                print(f"{name} exited {code}; its log:\n" + (work / f"{name}.log").read_text()[-3000:])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
