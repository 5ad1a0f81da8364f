//! Where each node of a YAML document starts, by path (`topics[2].terms[0].weight`), so that
//! errors found after parsing can still say `file:line:column`.
//!
//! `serde_yaml` reports positions for syntax errors only; a parsed `Value` has none. This is a
//! small scanner for the block style taxonomies are written in: mappings, sequences (also
//! `- key: value` items and sequences at their key's indentation), flow sequences and mappings
//! (also over several lines), quoted scalars, comments and block scalars (`|`, `>`). What it
//! cannot place (nodes reached through an anchor alias, exotic styles) falls back to the
//! nearest ancestor it can.

use std::collections::HashMap;

/// Line and column (both 1-based) of nodes by path.
#[derive(Debug, Default)]
pub(crate) struct Locator {
    positions: HashMap<String, (usize, usize)>,
}

#[derive(Debug)]
enum Kind {
    Map { pending: Option<String> },
    Seq { next: usize },
}

#[derive(Debug)]
struct Frame {
    indent: usize,
    path: String,
    kind: Kind,
}

impl Locator {
    pub fn new(text: &str) -> Self {
        let mut scanner = Scanner {
            locator: Locator::default(),
            stack: vec![Frame {
                indent: 0,
                path: String::new(),
                kind: Kind::Map { pending: None },
            }],
            block_scalar: None,
            flow: None,
        };
        for (index, line) in text.lines().enumerate() {
            scanner.line(index + 1, line);
        }
        scanner.locator
    }

    /// The position of `path`, else of its nearest ancestor that has one, else line 1.
    pub fn position(&self, path: &str) -> (usize, usize) {
        let mut path = path;
        loop {
            if let Some(&position) = self.positions.get(path) {
                return position;
            }
            match path.rfind(['.', '[']) {
                Some(cut) => path = &path[..cut],
                None => return (1, 1),
            }
        }
    }

    fn record(&mut self, path: String, line: usize, column: usize) {
        self.positions.entry(path).or_insert((line, column));
    }
}

/// A flow collection that continues on the next lines.
#[derive(Debug)]
struct Flow {
    /// Open collections: path and, for sequences, the next item index.
    open: Vec<(String, Option<usize>)>,
    /// Whether an item or key is expected next in the innermost collection.
    expect_item: bool,
}

struct Scanner {
    locator: Locator,
    stack: Vec<Frame>,
    /// Lines indented more than this belong to a block scalar.
    block_scalar: Option<usize>,
    flow: Option<Flow>,
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

impl Scanner {
    fn line(&mut self, number: usize, line: &str) {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let content = strip_comment(&line[indent..]);
        if let Some(block_indent) = self.block_scalar {
            if content.trim().is_empty() || indent > block_indent {
                return;
            }
            self.block_scalar = None;
        }
        if self.flow.is_some() {
            self.continue_flow(number, line, indent);
            return;
        }
        let content = content.trim_end();
        if content.is_empty() || content == "---" || content == "..." {
            return;
        }
        self.node_line(number, indent, content);
    }

    /// A line starting a node at column `indent` (0-based).
    fn node_line(&mut self, number: usize, indent: usize, content: &str) {
        let is_item = content == "-" || content.starts_with("- ");
        // Close frames this line is not inside.
        while let Some(top) = self.stack.last() {
            let keep = if top.indent < indent {
                true
            } else if top.indent == indent {
                match top.kind {
                    Kind::Seq { .. } => is_item,
                    Kind::Map { .. } => true,
                }
            } else {
                false
            };
            if keep || self.stack.len() == 1 {
                break;
            }
            self.stack.pop();
        }
        // A new block collection under the pending key of the innermost mapping.
        let Some(top) = self.stack.last_mut() else {
            return;
        };
        if let Kind::Map { pending } = &mut top.kind {
            let opens_child = top.indent < indent || (top.indent == indent && is_item);
            if let Some(key) = pending.take().filter(|_| opens_child) {
                let path = join(&top.path, &key);
                let kind = if is_item {
                    Kind::Seq { next: 0 }
                } else {
                    Kind::Map { pending: None }
                };
                self.stack.push(Frame { indent, path, kind });
            }
        }
        self.content(number, indent, content);
    }

    /// Node content at column `column`, inside the innermost frame.
    fn content(&mut self, number: usize, column: usize, content: &str) {
        let Some(top) = self.stack.last_mut() else {
            return;
        };
        if content == "-" || content.starts_with("- ") {
            let Kind::Seq { next } = &mut top.kind else {
                return;
            };
            let path = format!("{}[{}]", top.path, next);
            *next += 1;
            let rest = content[1..].trim_start();
            let rest_column = column + (content.len() - rest.len());
            if rest.is_empty() {
                self.locator.record(path.clone(), number, column + 1);
                // The item's value is on the following lines, more indented.
                self.stack.push(Frame {
                    indent: column + 1,
                    path,
                    kind: Kind::Map { pending: None },
                });
                return;
            }
            self.locator.record(path.clone(), number, rest_column + 1);
            if rest == "-" || rest.starts_with("- ") {
                self.stack.push(Frame {
                    indent: rest_column,
                    path,
                    kind: Kind::Seq { next: 0 },
                });
                self.content(number, rest_column, rest);
            } else if split_key(rest).is_some() {
                self.stack.push(Frame {
                    indent: rest_column,
                    path,
                    kind: Kind::Map { pending: None },
                });
                self.content(number, rest_column, rest);
            } else {
                self.scalar_or_flow(number, rest_column, rest, path);
            }
            return;
        }
        let Kind::Map { pending } = &mut top.kind else {
            return;
        };
        let Some((key, value, value_offset)) = split_key(content) else {
            return;
        };
        let path = join(&top.path, &key);
        self.locator.record(path.clone(), number, column + 1);
        if value.is_empty() {
            *pending = Some(key);
        } else if value.starts_with('|') || value.starts_with('>') {
            *pending = None;
            self.block_scalar = Some(column);
        } else {
            *pending = None;
            self.scalar_or_flow(number, column + value_offset, value, path);
        }
    }

    fn scalar_or_flow(&mut self, number: usize, column: usize, value: &str, path: String) {
        if value.starts_with('[') || value.starts_with('{') {
            self.flow = Some(Flow {
                open: Vec::new(),
                expect_item: false,
            });
            self.flow_text(number, column, value, Some(path));
        }
    }

    fn continue_flow(&mut self, number: usize, line: &str, indent: usize) {
        let text = strip_comment(&line[indent..]);
        self.flow_text(number, indent, text, None);
    }

    /// Scans flow text starting at `column`; `root` is the path of a collection opening here.
    fn flow_text(&mut self, number: usize, column: usize, text: &str, mut root: Option<String>) {
        let Some(flow) = self.flow.as_mut() else {
            return;
        };
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match b {
                b'[' | b'{' => {
                    let path = match root.take() {
                        Some(path) => path,
                        None => match flow.open.last_mut() {
                            Some((parent, Some(next))) => {
                                let path = format!("{parent}[{next}]");
                                *next += 1;
                                path
                            }
                            Some((parent, None)) => parent.clone(),
                            None => String::new(),
                        },
                    };
                    flow.open.push((path, (b == b'[').then_some(0)));
                    flow.expect_item = true;
                    i += 1;
                }
                b']' | b'}' => {
                    flow.open.pop();
                    flow.expect_item = false;
                    i += 1;
                    if flow.open.is_empty() {
                        self.flow = None;
                        return;
                    }
                }
                b',' => {
                    flow.expect_item = true;
                    i += 1;
                }
                b' ' | b'\t' => i += 1,
                _ => {
                    // A scalar (or `key: value` in a flow mapping).
                    let end = scalar_end(bytes, i);
                    if flow.expect_item {
                        if let Some((parent, index)) = flow.open.last_mut() {
                            match index {
                                Some(next) => {
                                    let path = format!("{parent}[{next}]");
                                    *next += 1;
                                    self.locator.record(path, number, column + i + 1);
                                }
                                None => {
                                    let key = unquote(text[i..end].trim_end_matches(':').trim());
                                    let path = join(parent, &key);
                                    self.locator.record(path, number, column + i + 1);
                                }
                            }
                        }
                        flow.expect_item = false;
                    }
                    i = end.max(i + 1);
                }
            }
        }
    }
}

/// Where a plain or quoted scalar starting at `i` ends in flow context (at `,`, `]`, `}` or
/// after a key's `:`).
fn scalar_end(bytes: &[u8], i: usize) -> usize {
    let mut j = i;
    if bytes[i] == b'"' || bytes[i] == b'\'' {
        let quote = bytes[i];
        j += 1;
        while j < bytes.len() && bytes[j] != quote {
            if quote == b'"' && bytes[j] == b'\\' {
                j += 1;
            }
            j += 1;
        }
        j = (j + 1).min(bytes.len());
        if j < bytes.len() && bytes[j] == b':' {
            j += 1;
        }
        return j;
    }
    while j < bytes.len() && !matches!(bytes[j], b',' | b']' | b'}') {
        if bytes[j] == b':' && (j + 1 == bytes.len() || bytes[j + 1] == b' ') {
            return j + 1;
        }
        j += 1;
    }
    j
}

/// `key: value` → (key, value, offset of value); `None` when the content is no mapping entry.
fn split_key(content: &str) -> Option<(String, &str, usize)> {
    let bytes = content.as_bytes();
    let (key_end, after) = if bytes.first().is_some_and(|b| *b == b'"' || *b == b'\'') {
        let quote = bytes[0];
        let close = content[1..].find(char::from(quote))? + 1;
        let rest = &content[close + 1..];
        if !rest.starts_with(':') {
            return None;
        }
        (close + 1, close + 2)
    } else {
        if matches!(
            bytes.first(),
            Some(b'[' | b'{' | b'"' | b'\'' | b'|' | b'>')
        ) {
            return None;
        }
        let mut found = None;
        for (i, b) in bytes.iter().enumerate() {
            if *b == b':' && (i + 1 == bytes.len() || bytes[i + 1] == b' ') {
                found = Some(i);
                break;
            }
        }
        let colon = found?;
        (colon, colon + 1)
    };
    let key = unquote(content[..key_end].trim());
    let value = content[after..].trim_start();
    let offset = content.len() - value.len();
    Some((key, value.trim_end(), offset))
}

fn unquote(key: &str) -> String {
    let trimmed = key.trim();
    if trimmed.len() >= 2
        && ((trimmed.starts_with('"') && trimmed.ends_with('"'))
            || (trimmed.starts_with('\'') && trimmed.ends_with('\'')))
    {
        trimmed[1..trimmed.len() - 1].to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// The line without its comment (a `#` at the start or after white space, outside quotes).
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut quote = None;
    for (i, &b) in bytes.iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            // An apostrophe inside a plain word (`Xi's`) opens nothing.
            None if (b == b'"' || b == b'\'')
                && (i == 0 || matches!(bytes[i - 1], b' ' | b'[' | b'{' | b',' | b':' | b'-')) =>
            {
                quote = Some(b);
            }
            None if b == b'#' && (i == 0 || bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') => {
                return &line[..i];
            }
            None => {}
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_and_flow_nodes_are_placed() {
        let text = "\
version: 1   # comment
topics:
  - id: a
    terms:
      - Kyiv
      - {term: Kiev, weight: 2}
    groups:
    - name: g
      all:
        - [China, 'Xi']
        - [Russia,
           Moscow]
  - id: b
    label: |
      text: not a key
    threshold: 3
";
        let locator = Locator::new(text);
        assert_eq!(locator.position("version"), (1, 1));
        assert_eq!(locator.position("topics[0]"), (3, 5));
        assert_eq!(locator.position("topics[0].id"), (3, 5));
        assert_eq!(locator.position("topics[0].terms[0]"), (5, 9));
        assert_eq!(locator.position("topics[0].terms[1].weight"), (6, 22));
        assert_eq!(locator.position("topics[0].groups[0].name"), (8, 7));
        assert_eq!(locator.position("topics[0].groups[0].all[0][1]"), (10, 19));
        assert_eq!(locator.position("topics[0].groups[0].all[1][1]"), (12, 12));
        assert_eq!(locator.position("topics[1].threshold"), (16, 5));
        assert_eq!(locator.position("topics[1].label.text"), (14, 5));
        assert_eq!(locator.position("topics[7].id"), (2, 1));
    }
}
