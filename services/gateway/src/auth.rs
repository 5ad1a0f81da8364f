//! Bearer tokens: read from `--tokens-file` (one per line, `#` comments) and
//! `NEWSFLOW_GATEWAY_TOKENS` (separated by `;`), compared in constant time.

use std::path::Path;

use subtle::ConstantTimeEq as _;

/// The tokens that open `/v1/*`; none configured means the API is open.
#[derive(Clone, Default)]
pub struct Tokens {
    tokens: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens themselves.
        f.debug_struct("Tokens")
            .field("count", &self.tokens.len())
            .finish()
    }
}

impl Tokens {
    /// The tokens of a tokens file's text and of the environment variable's value.
    pub fn parse(file: Option<&str>, env: Option<&str>) -> Self {
        let from_file = file
            .into_iter()
            .flat_map(str::lines)
            .map(|line| line.split_once('#').map_or(line, |(before, _)| before));
        let from_env = env.into_iter().flat_map(|value| value.split(';'));
        let mut tokens: Vec<Vec<u8>> = from_file
            .chain(from_env)
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .map(|token| token.as_bytes().to_vec())
            .collect();
        tokens.sort();
        tokens.dedup();
        Self { tokens }
    }

    /// Reads `--tokens-file` (when given) and the environment variable's value.
    pub fn load(file: Option<&Path>, env: Option<&str>) -> anyhow::Result<Self> {
        let text = file
            .map(|path| {
                std::fs::read_to_string(path).map_err(|err| {
                    anyhow::anyhow!("cannot read the tokens file {}: {err}", path.display())
                })
            })
            .transpose()?;
        Ok(Self::parse(text.as_deref(), env))
    }

    pub fn is_open(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Whether `presented` is one of the tokens. Every token is compared, each in constant
    /// time, so the answer's timing says nothing about which one nearly matched.
    pub fn admits(&self, presented: Option<&str>) -> bool {
        if self.is_open() {
            return true;
        }
        let Some(presented) = presented else {
            return false;
        };
        let presented = presented.as_bytes();
        self.tokens
            .iter()
            .fold(subtle::Choice::from(0), |any, token| {
                any | token.as_slice().ct_eq(presented)
            })
            .into()
    }

    /// The token of an `Authorization: Bearer <token>` header value.
    pub fn bearer(header: Option<&str>) -> Option<&str> {
        let value = header?.trim();
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|token| !token.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_the_file_and_the_environment() {
        let tokens = Tokens::parse(
            Some("# newsroom\nalpha\n  beta  # the crawler\n\n#gamma\n"),
            Some("delta; ;alpha"),
        );
        assert_eq!(tokens.len(), 3);
        for good in ["alpha", "beta", "delta"] {
            assert!(tokens.admits(Some(good)), "{good}");
        }
        for bad in ["gamma", "alph", "alphaa", "", "ALPHA"] {
            assert!(!tokens.admits(Some(bad)), "{bad}");
        }
        assert!(!tokens.admits(None));
        assert!(!format!("{tokens:?}").contains("alpha"));
    }

    #[test]
    fn without_tokens_the_api_is_open() {
        let tokens = Tokens::parse(Some("# nothing yet\n"), None);
        assert!(tokens.is_open());
        assert!(tokens.admits(None));
    }

    #[test]
    fn bearer_headers_are_read() {
        assert_eq!(Tokens::bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(Tokens::bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(Tokens::bearer(Some("Basic abc")), None);
        assert_eq!(Tokens::bearer(Some("Bearer")), None);
        assert_eq!(Tokens::bearer(Some("Bearer ")), None);
        assert_eq!(Tokens::bearer(None), None);
    }
}
