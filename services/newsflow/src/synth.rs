//! Load articles for `newsflow produce --repeat`: each repeat of an input is another story,
//! with a fresh id and a body of sentences drawn from several input articles by a per-repeat
//! seed, so a deduplicator rightly keeps them apart (word-5-shingle Jaccard well below 0.5).

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// Sentences of every input article, the material of synthesized bodies.
#[derive(Debug, Clone, Default)]
pub struct SentencePool {
    sentences: Vec<String>,
}

impl SentencePool {
    /// Adds the sentences of one article's text.
    pub fn add_text(&mut self, text: &str) {
        self.sentences.extend(split_sentences(text));
    }

    pub fn len(&self) -> usize {
        self.sentences.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sentences.is_empty()
    }

    /// A headline and body of `sentences` sentences drawn with `seed`, as a plain-text page:
    /// the headline, a blank line, then paragraphs of up to three sentences.
    pub fn article(&self, seed: u64, sentences: usize) -> String {
        let mut rng = StdRng::seed_from_u64(seed);
        let count = sentences.clamp(4, 40);
        let mut picked: Vec<&str> = Vec::with_capacity(count);
        let mut used = std::collections::HashSet::new();
        while picked.len() < count && used.len() < self.sentences.len() {
            let index = rng.random_range(0..self.sentences.len());
            if used.insert(index) {
                picked.push(&self.sentences[index]);
            }
        }
        let headline: String = picked
            .first()
            .map(|s| s.split_whitespace().take(9).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        let headline = headline.trim_end_matches(['.', ',', ';', ':']).to_owned();
        let body: Vec<String> = picked.chunks(3).map(|chunk| chunk.join(" ")).collect();
        format!("{headline}\n\n{}\n", body.join("\n\n"))
    }
}

/// Splits text into sentences of at least five words (shorter lines are headings, bylines,
/// datelines: not material for a body).
pub fn split_sentences(text: &str) -> Vec<String> {
    let mut sentences = Vec::new();
    for paragraph in text.split('\n') {
        let mut current = String::new();
        for word in paragraph.split_whitespace() {
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
            let ends = word
                .trim_end_matches(['"', '\'', '”', '’', ')'])
                .ends_with(['.', '!', '?']);
            if ends && word.len() > 3 {
                push_sentence(&mut sentences, std::mem::take(&mut current));
            }
        }
        push_sentence(&mut sentences, current);
    }
    sentences
}

fn push_sentence(sentences: &mut Vec<String>, sentence: String) {
    if sentence.split_whitespace().count() >= 5 {
        sentences.push(sentence);
    }
}

/// The number of sentences of `text`, to give a synthesized article a similar length.
pub fn sentence_count(text: &str) -> usize {
    split_sentences(text).len()
}

/// Word-5-shingle Jaccard similarity of two texts (lowercased words), as a deduplicator
/// would measure it.
pub fn shingle_jaccard(a: &str, b: &str) -> f64 {
    fn shingles(text: &str) -> std::collections::HashSet<Vec<String>> {
        let words: Vec<String> = text.split_whitespace().map(|w| w.to_lowercase()).collect();
        words.windows(5).map(|w| w.to_vec()).collect()
    }
    let (a, b) = (shingles(a), shingles(b));
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let common = a.intersection(&b).count();
    common as f64 / (a.len() + b.len() - common) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_are_split_and_short_lines_dropped() {
        let text = "Headline here\n\nThe first sentence has enough words. The second one \"also has words.\" Short.\nBy Someone";
        let sentences = split_sentences(text);
        assert_eq!(
            sentences,
            [
                "The first sentence has enough words.",
                "The second one \"also has words.\""
            ]
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_article() {
        let mut pool = SentencePool::default();
        for i in 0..50 {
            pool.add_text(&format!(
                "Sentence number {i} is about a particular subject today."
            ));
        }
        assert_eq!(pool.article(7, 10), pool.article(7, 10));
        assert_ne!(pool.article(7, 10), pool.article(8, 10));
    }

    #[test]
    fn jaccard_of_identical_and_disjoint_texts() {
        assert_eq!(shingle_jaccard("a b c d e f", "a b c d e f"), 1.0);
        assert_eq!(shingle_jaccard("a b c d e f", "g h i j k l"), 0.0);
    }
}
