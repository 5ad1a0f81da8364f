"""Fits the normalizer's main-text block model and writes it as `block-model.tsv`.

1. `cargo run -p newsflow-core --release --example block_features -- ../shared/corpus/html-eval
   > blocks.jsonl` writes every block of every page with its features and, where the gold names
   it, its label;
2. `python3 crates/core/html/fit_block_model.py blocks.jsonl ../shared/corpus/html-eval/gold.jsonl
   crates/core/html/block-model.tsv` prints the figures of a five-fold cross-validation in which
   no site is both fitted and judged (a site's pages all fall in one fold), then fits on every
   labelled block and writes the trees.

The figures are the html-eval rule's (snippets found in the text of the blocks called main
text), so they are close to, not equal to, `newsflow eval extract` (which also drops clutter
lines and reads the lede). For that exact figure, cross-validated, add `--folds DIR` (and
`--newsflow target/release/newsflow`): each fold's model is written with its held-out pages
(`DIR/fold-K/`: `pages/` as links, `gold.jsonl`, `model.tsv`), each fold is scored by
`newsflow eval extract DIR/fold-K --block-model DIR/fold-K/model.tsv --json`, and the counts
are summed. Needs numpy and scikit-learn (`pip install numpy scikit-learn`).
"""

import argparse
import collections
import json
import os
import re
import subprocess
import unicodedata

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.model_selection import GroupKFold

TREES, DEPTH, RATE, SUBSAMPLE, LEAF = 400, 4, 0.03, 0.8, 10
THRESHOLDS = (0.4, 0.45, 0.5, 0.55, 0.6)
THRESHOLD = 0.5


def norm(text):
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def site(name):
    """The first word of a page's name: its site, near enough, so one site is in one fold."""
    name = name.replace("www.", "").replace("archive.org.", "")
    return re.split(r"[.\-_]", name)[0].lower()


def model():
    return GradientBoostingClassifier(
        n_estimators=TREES, max_depth=DEPTH, learning_rate=RATE, subsample=SUBSAMPLE,
        min_samples_leaf=LEAF, random_state=1)


def score(pages, gold, chosen):
    tp = fp = fn = 0
    for name, blocks in pages.items():
        g = gold[name]
        text = " ".join(t for (t, _), c in zip(blocks, chosen[name]) if c)
        for s in g.get("with", []):
            found = norm(s) and norm(s) in text
            tp, fn = tp + bool(found), fn + (not found)
        fp += sum(1 for s in g.get("without", []) if norm(s) and norm(s) in text)
    p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return f"P {p:.3f} R {r:.3f} F1 {2 * tp / max(2 * tp + fp + fn, 1):.3f} (TP {tp} FP {fp} FN {fn})"


def main(blocks_path, gold_path, out_path, folds_dir=None, newsflow=None):
    gold = {g["file"]: g for g in map(json.loads, open(gold_path, encoding="utf-8"))}
    pages = collections.defaultdict(list)
    rows = []
    for line in open(blocks_path, encoding="utf-8"):
        o = json.loads(line)
        pages[o["file"]].append((o["text"], o["x"]))
        if o["label"] is not None:
            rows.append((o["file"], o["x"], o["label"]))
    x = np.array([r[1] for r in rows], dtype=np.float32)
    y = np.array([r[2] for r in rows])
    groups = np.array([site(r[0]) for r in rows])
    print(f"{len(pages)} pages, {len(rows)} labelled blocks ({y.mean():.2f} main text)")
    rules = {n: [b[1][0] > 0.5 for b in bl] for n, bl in pages.items()}
    print("the scoring alone:      ", score(pages, gold, rules))
    probs = {}
    names = sorted(pages)
    for _, test in GroupKFold(n_splits=5).split(names, groups=[site(n) for n in names]):
        held = {site(names[i]) for i in test}
        train = np.array([g not in held for g in groups])
        fitted = model().fit(x[train], y[train])
        for i in test:
            bl = pages[names[i]]
            probs[names[i]] = fitted.predict_proba(np.array([b[1] for b in bl], dtype=np.float32))[:, 1]
    for t in THRESHOLDS:
        mark = " (shipped)" if t == THRESHOLD else ""
        print(f"cross-validated, > {t:.2f}:", score(pages, gold, {n: p > t for n, p in probs.items()}), mark)
    if folds_dir:
        eval_folds(folds_dir, newsflow, gold_path, x, y, groups, names)
    fitted = model().fit(x, y)
    with open(out_path, "w", encoding="utf-8") as out:
        out.write("# newsflow's main-text block model: gradient-boosted trees on the log-odds that a\n")
        out.write("# block is main text (crates/core/src/normalize/html/model.rs reads it). Written by\n")
        out.write(f"# crates/core/html/fit_block_model.py: {TREES} trees of depth {DEPTH}, rate {RATE},\n")
        out.write(f"# subsample {SUBSAMPLE}, {len(rows)} labelled blocks of {len(pages)} html-eval pages.\n")
        write_trees(out, fitted, x)
    print(f"wrote {out_path}")


def write_trees(out, fitted, x):
    """The model's lines after the comments: what model.rs parses."""
    out.write(f"init\t{float(fitted._raw_predict_init(x[:1])[0, 0])!r}\n")
    out.write(f"rate\t{RATE!r}\nthreshold\t{THRESHOLD!r}\n")
    out.write("tree\tnode\tfeature\tthreshold\tleft\tright\tvalue\n")
    for t, est in enumerate(fitted.estimators_[:, 0]):
        tree = est.tree_
        for n in range(tree.node_count):
            leaf = tree.children_left[n] < 0
            out.write(f"{t}\t{n}\t{0 if leaf else tree.feature[n]}\t{0.0 if leaf else float(tree.threshold[n])!r}\t"
                      f"{tree.children_left[n]}\t{tree.children_right[n]}\t{float(tree.value[n][0][0])!r}\n")
    # Rows with scikit-learn's log-odds, for model.rs's test that the file gives the same.
    picks = [0, len(x) // 3, len(x) // 2, len(x) - 1]
    for i, value in zip(picks, fitted.decision_function(x[picks])):
        out.write(f"check\t{float(value)!r}\t{','.join(repr(float(v)) for v in x[i])}\n")


def eval_folds(folds_dir, newsflow, gold_path, x, y, groups, names):
    """The same folds, scored by `newsflow eval extract` itself: each fold's pages with the
    model fitted without them."""
    pages_dir = os.path.join(os.path.dirname(os.path.abspath(gold_path)), "pages")
    gold_lines = {json.loads(line)["file"]: line.rstrip("\n") for line in open(gold_path, encoding="utf-8")}
    totals = collections.Counter()
    for k, (_, test) in enumerate(GroupKFold(n_splits=5).split(names, groups=[site(n) for n in names])):
        held = {site(names[i]) for i in test}
        fold = os.path.join(folds_dir, f"fold-{k}")
        os.makedirs(os.path.join(fold, "pages"), exist_ok=True)
        with open(os.path.join(fold, "gold.jsonl"), "w", encoding="utf-8") as g:
            for i in sorted(test, key=lambda i: names[i]):
                g.write(gold_lines[names[i]] + "\n")
                link = os.path.join(fold, "pages", names[i])
                if not os.path.lexists(link):
                    os.symlink(os.path.join(pages_dir, names[i]), link)
        train = np.array([g not in held for g in groups])
        with open(os.path.join(fold, "model.tsv"), "w", encoding="utf-8") as out:
            write_trees(out, model().fit(x[train], y[train]), x)
        if newsflow:
            report = json.loads(subprocess.run(
                [newsflow, "eval", "extract", fold, "--block-model", os.path.join(fold, "model.tsv"), "--json"],
                check=True, capture_output=True, text=True).stdout)
            totals.update(report["counts"])
    if newsflow:
        tp, fp, fn = totals["tp"], totals["fp"], totals["fn_"]
        print(f"cross-validated by newsflow eval extract: P {tp / max(tp + fp, 1):.4f} R {tp / max(tp + fn, 1):.4f} "
              f"F1 {2 * tp / max(2 * tp + fp + fn, 1):.4f} (TP {tp} FP {fp} FN {fn})")
    else:
        print(f"wrote the folds' models and pages under {folds_dir}")


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("blocks", help="the block_features example's output")
    cli.add_argument("gold", help="the set's gold.jsonl (its pages/ beside it)")
    cli.add_argument("out", help="the model file to write (crates/core/html/block-model.tsv)")
    cli.add_argument("--folds", metavar="DIR", help="write each fold's model and held-out pages under DIR")
    cli.add_argument("--newsflow", metavar="BIN", help="with --folds: score each fold with this newsflow binary")
    a = cli.parse_args()
    main(a.blocks, a.gold, a.out, a.folds, a.newsflow)
