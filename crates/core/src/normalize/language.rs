//! The article's language (ISO 639-1), detected by whatlang on a bounded sample of the body.

use whatlang::Lang;

/// Fewer letters than this are too little to tell languages apart.
const MIN_LETTERS: usize = 24;

/// whatlang, set up once per stage.
#[derive(Debug, Clone)]
pub(crate) struct LanguageDetector {
    detector: whatlang::Detector,
    sample_chars: usize,
}

impl LanguageDetector {
    /// `languages` (ISO 639-1) limits the candidates; empty means every language whatlang
    /// knows. The detector compares the sample with each candidate's profile, so fewer
    /// candidates make it faster. Returns the codes it does not know as the error.
    pub(crate) fn new(languages: &[String], sample_chars: usize) -> Result<Self, Vec<String>> {
        let detector = if languages.is_empty() {
            whatlang::Detector::new()
        } else {
            let mut allow = Vec::new();
            let mut unknown = Vec::new();
            for code in languages {
                let wanted = normalize_code(code);
                match Lang::all()
                    .iter()
                    .find(|lang| wanted.is_some() && iso_639_1(**lang) == wanted.as_deref())
                {
                    Some(lang) => allow.push(*lang),
                    None => unknown.push(code.clone()),
                }
            }
            if !unknown.is_empty() {
                return Err(unknown);
            }
            whatlang::Detector::with_allowlist(allow)
        };
        Ok(Self {
            detector,
            sample_chars: sample_chars.max(1),
        })
    }

    /// Detects the language of the body from its first `sample_chars` characters; `None`
    /// when the detector is not confident.
    pub(crate) fn detect(&self, paragraphs: &[String]) -> Option<String> {
        let mut sample = String::with_capacity(self.sample_chars + 8);
        let mut chars = 0;
        'outer: for paragraph in paragraphs {
            if !sample.is_empty() {
                sample.push(' ');
            }
            for c in paragraph.chars() {
                if chars >= self.sample_chars {
                    break 'outer;
                }
                sample.push(c);
                chars += 1;
            }
        }
        if sample.chars().filter(|c| c.is_alphabetic()).count() < MIN_LETTERS {
            return None;
        }
        let info = self.detector.detect(&sample)?;
        if !info.is_reliable() {
            return None;
        }
        iso_639_1(info.lang()).map(str::to_owned)
    }
}

/// A language hint as producers write it (`en`, `EN`, `en-GB`, `pt_BR`) as ISO 639-1, or
/// `None` when it is not one.
pub(crate) fn normalize_code(code: &str) -> Option<String> {
    let primary = code.trim().split(['-', '_']).next()?;
    (primary.len() == 2 && primary.chars().all(|c| c.is_ascii_alphabetic()))
        .then(|| primary.to_ascii_lowercase())
}

/// whatlang names languages by ISO 639-3 individual-language codes; newsflow publishes ISO
/// 639-1. Mandarin (`cmn`) and Iranian Persian (`pes`) have no 639-1 code of their own and take
/// their macrolanguage's (`zh`, `fa`), which is how news metadata labels them.
fn iso_639_1(lang: Lang) -> Option<&'static str> {
    Some(match lang {
        Lang::Epo => "eo",
        Lang::Eng => "en",
        Lang::Rus => "ru",
        Lang::Cmn => "zh",
        Lang::Spa => "es",
        Lang::Por => "pt",
        Lang::Ita => "it",
        Lang::Ben => "bn",
        Lang::Fra => "fr",
        Lang::Deu => "de",
        Lang::Ukr => "uk",
        Lang::Kat => "ka",
        Lang::Ara => "ar",
        Lang::Hin => "hi",
        Lang::Jpn => "ja",
        Lang::Heb => "he",
        Lang::Yid => "yi",
        Lang::Pol => "pl",
        Lang::Amh => "am",
        Lang::Jav => "jv",
        Lang::Kor => "ko",
        Lang::Nob => "nb",
        Lang::Dan => "da",
        Lang::Swe => "sv",
        Lang::Fin => "fi",
        Lang::Tur => "tr",
        Lang::Nld => "nl",
        Lang::Hun => "hu",
        Lang::Ces => "cs",
        Lang::Ell => "el",
        Lang::Bul => "bg",
        Lang::Bel => "be",
        Lang::Mar => "mr",
        Lang::Kan => "kn",
        Lang::Ron => "ro",
        Lang::Slv => "sl",
        Lang::Hrv => "hr",
        Lang::Srp => "sr",
        Lang::Mkd => "mk",
        Lang::Lit => "lt",
        Lang::Lav => "lv",
        Lang::Est => "et",
        Lang::Tam => "ta",
        Lang::Vie => "vi",
        Lang::Urd => "ur",
        Lang::Tha => "th",
        Lang::Guj => "gu",
        Lang::Uzb => "uz",
        Lang::Pan => "pa",
        Lang::Aze => "az",
        Lang::Ind => "id",
        Lang::Tel => "te",
        Lang::Pes => "fa",
        Lang::Mal => "ml",
        Lang::Ori => "or",
        Lang::Mya => "my",
        Lang::Nep => "ne",
        Lang::Sin => "si",
        Lang::Khm => "km",
        Lang::Tuk => "tk",
        Lang::Aka => "ak",
        Lang::Zul => "zu",
        Lang::Sna => "sn",
        Lang::Afr => "af",
        Lang::Lat => "la",
        Lang::Slk => "sk",
        Lang::Cat => "ca",
        Lang::Tgl => "tl",
        Lang::Hye => "hy",
        Lang::Cym => "cy",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect_one(text: &str) -> Option<String> {
        LanguageDetector::new(&[], 320)
            .unwrap()
            .detect(&[text.to_owned()])
    }

    #[test]
    fn common_languages_are_detected() {
        assert_eq!(
            detect_one(
                "The two leaders spoke during a call on Wednesday, in the first known occasion that they have talked since February."
            )
            .as_deref(),
            Some("en")
        );
        assert_eq!(
            detect_one(
                "Prezydent spotkał się w poniedziałek z przedstawicielami rządu, aby omówić sytuację na granicy i bezpieczeństwo kraju."
            )
            .as_deref(),
            Some("pl")
        );
        assert_eq!(
            detect_one(
                "Президент заявил, что переговоры продолжатся на следующей неделе в Минске, несмотря на сложную ситуацию."
            )
            .as_deref(),
            Some("ru")
        );
    }

    #[test]
    fn too_little_text_has_no_language() {
        assert_eq!(detect_one("OK 42"), None);
        assert_eq!(detect_one("£15.8m — 3-1"), None);
    }

    #[test]
    fn an_allowlist_limits_the_candidates_and_refuses_unknown_codes() {
        let detector = LanguageDetector::new(&["en".into(), "uk".into()], 320).unwrap();
        let text = "Президент заявив, що переговори продовжаться наступного тижня в Києві, попри складну ситуацію.";
        assert_eq!(detector.detect(&[text.to_owned()]).as_deref(), Some("uk"));
        assert_eq!(
            LanguageDetector::new(&["en".into(), "xx".into()], 320).unwrap_err(),
            vec!["xx".to_owned()]
        );
    }

    #[test]
    fn hints_are_normalized_to_two_letters() {
        assert_eq!(normalize_code("en-GB").as_deref(), Some("en"));
        assert_eq!(normalize_code(" PT_br ").as_deref(), Some("pt"));
        assert_eq!(normalize_code("eng"), None);
        assert_eq!(normalize_code(""), None);
    }
}
