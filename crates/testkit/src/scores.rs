//! Scoring helpers for the evaluation tests: pairwise confusion counts and correlation, and the
//! SemEval-2022 Task 8 pairs of the shared corpus.

/// Counts of a yes/no decision against a gold answer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Confusion {
    pub tp: u32,
    pub fp: u32,
    pub fn_: u32,
    pub tn: u32,
}

impl Confusion {
    /// Counts one decision (`predicted`) against the gold answer (`actual`).
    pub fn add(&mut self, actual: bool, predicted: bool) {
        match (actual, predicted) {
            (true, true) => self.tp += 1,
            (true, false) => self.fn_ += 1,
            (false, true) => self.fp += 1,
            (false, false) => self.tn += 1,
        }
    }

    pub fn precision(&self) -> f64 {
        f64::from(self.tp) / f64::from((self.tp + self.fp).max(1))
    }

    pub fn recall(&self) -> f64 {
        f64::from(self.tp) / f64::from((self.tp + self.fn_).max(1))
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// `F1 … precision … recall … (tp … fp … fn … tn …)`, for a report line.
    pub fn summary(&self) -> String {
        format!(
            "F1 {:.3}  precision {:.3}  recall {:.3}  (tp {} fp {} fn {} tn {})",
            self.f1(),
            self.precision(),
            self.recall(),
            self.tp,
            self.fp,
            self.fn_,
            self.tn
        )
    }
}

/// Pearson's correlation of two equally long series (NaN when either is constant).
pub fn pearson(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>().sqrt();
    let sy: f64 = ys.iter().map(|y| (y - my).powi(2)).sum::<f64>().sqrt();
    sxy / (sx * sy)
}

/// One English–English pair of SemEval-2022 Task 8, rated by people.
#[derive(Debug, Clone, PartialEq)]
pub struct SemevalPair {
    /// `training` or `testing`.
    pub split: &'static str,
    pub ids: (String, String),
    pub texts: (String, String),
    /// 1 = the same story … 4 = unrelated.
    pub overall: f64,
}

/// One row of either SemEval file, as read.
struct SemevalRow {
    split: &'static str,
    ids: (String, String),
    langs: (String, String),
    texts: (String, String),
    overall: f64,
}

/// Every row of both splits (`training_set.csv`, then `testing_set.csv`), in file order.
fn semeval_rows() -> Vec<SemevalRow> {
    let dir = crate::corpus_dir().join("semeval2022-task8");
    let mut rows = Vec::new();
    for (split, file) in [
        ("training", "training_set.csv"),
        ("testing", "testing_set.csv"),
    ] {
        let path = dir.join(file);
        let mut reader =
            csv::Reader::from_path(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let headers = reader.headers().expect("a header row").clone();
        let column = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .unwrap_or_else(|| panic!("{}: no column {name}", path.display()))
        };
        let (pair, lang1, lang2, text1, text2, overall) = (
            column("pair_id"),
            column("lang1"),
            column("lang2"),
            column("text1"),
            column("text2"),
            column("Overall"),
        );
        for record in reader.records() {
            let record = record.unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            let (a, b) = record[pair]
                .split_once('_')
                .expect("pair_id is <id1>_<id2>");
            rows.push(SemevalRow {
                split,
                ids: (a.to_owned(), b.to_owned()),
                langs: (record[lang1].to_owned(), record[lang2].to_owned()),
                texts: (record[text1].to_owned(), record[text2].to_owned()),
                overall: record[overall].parse().expect("Overall is a number"),
            });
        }
    }
    rows
}

/// The English–English pairs of both splits, in file order.
pub fn semeval_english_pairs() -> Vec<SemevalPair> {
    semeval_rows()
        .into_iter()
        .filter(|row| row.langs.0 == "en" && row.langs.1 == "en")
        .map(|row| SemevalPair {
            split: row.split,
            ids: row.ids,
            texts: row.texts,
            overall: row.overall,
        })
        .collect()
}

/// Every English text of either split, on either side of a pair (English–English or not), by
/// its article id: the first text seen for an id that occurs more than once.
pub fn semeval_english_texts() -> std::collections::HashMap<String, String> {
    let mut texts = std::collections::HashMap::new();
    for row in semeval_rows() {
        for (id, lang, text) in [
            (row.ids.0, row.langs.0, row.texts.0),
            (row.ids.1, row.langs.1, row.texts.1),
        ] {
            if lang == "en" && !text.trim().is_empty() {
                texts.entry(id).or_insert(text);
            }
        }
    }
    texts
}
