//! Synthetic text for benchmarks: a fixed stream of pseudo-words, so runs are comparable and
//! every article is a distinct story (no two share a 5-word shingle by more than chance).

/// xorshift64*: a fixed, dependency-free stream of numbers.
#[derive(Debug, Clone)]
pub struct Numbers(pub u64);

impl Numbers {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Lowercase pseudo-words of 2 to 11 letters, some capitalized or with a comma or full stop.
pub fn vocabulary(numbers: &mut Numbers, size: usize) -> Vec<String> {
    (0..size)
        .map(|i| {
            let len = 2 + (numbers.next() % 10) as usize;
            let mut word: String = (0..len)
                .map(|_| char::from(b'a' + (numbers.next() % 26) as u8))
                .collect();
            match i % 17 {
                0 => word[..1].make_ascii_uppercase(),
                1 => word.push(','),
                2 => word.push('.'),
                _ => {}
            }
            word
        })
        .collect()
}

/// `paragraphs` paragraphs of `per` words drawn from `words`.
pub fn body(numbers: &mut Numbers, words: &[String], paragraphs: usize, per: usize) -> Vec<String> {
    (0..paragraphs)
        .map(|_| {
            (0..per)
                .map(|_| words[(numbers.next() % words.len() as u64) as usize].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}
