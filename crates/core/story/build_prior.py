#!/usr/bin/env python3
"""Builds crates/core/story/prior-en.tsv, the story stage's cold-start prior for document
frequencies: the 40,000 most frequent English words of wordfreq 3.1.1 (its `large` list), each
with its Zipf frequency (log10 of occurrences per billion words). Only words made of letters and
digits are kept, lowercased, as the story stage tokenizes text.

Reproduce (needs PyPI only):
    pip install --target /tmp/wordfreq wordfreq==3.1.1
    PYTHONPATH=/tmp/wordfreq python3 crates/core/story/build_prior.py > crates/core/story/prior-en.tsv

wordfreq's data is CC BY-SA 4.0 (Robyn Speer, Luminoso); this table is derived from it.
"""
from wordfreq import top_n_list, zipf_frequency

print("# word\tzipf  (wordfreq 3.1.1, large_en, CC BY-SA 4.0; see build_prior.py)")
seen = set()
for word in top_n_list("en", 40000, wordlist="large"):
    if not word.isalnum() or word in seen:
        continue
    seen.add(word)
    print(f"{word}\t{zipf_frequency(word, 'en', wordlist='large'):.2f}")
