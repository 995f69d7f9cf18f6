//! The SCIM filter language (RFC 7644 section 3.4.2.2) and attribute paths (3.5.2), parsed
//! into a syntax tree.
//!
//! IdPs send filters in look-ups (`userName eq "ada@acme.test"`) and paths in PATCH operations
//! (`members[value eq "42"]`, `emails[type eq "work"].value`). Keywords and operators are
//! case-insensitive (Entra ID and Okta differ). The tree's depth is limited so that a hostile
//! filter cannot exhaust the stack of whatever walks it; what a comparison means for a given
//! attribute (case-exact or not, its type) is decided by the code that evaluates the tree, which
//! knows the schema.

use std::fmt;

/// Deepest syntax tree accepted. Real IdP filters are two or three levels deep.
pub const MAX_DEPTH: usize = 24;

/// Longest filter or path accepted, in bytes.
pub const MAX_LENGTH: usize = 4096;

/// An attribute reference: `userName`, `name.givenName`, or fully qualified with its schema,
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN, when the path is qualified with one.
    pub schema: Option<String>,
    pub name: String,
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// True when this path names `name` (attribute names are case-insensitive, RFC 7643 2.1).
    pub fn is(&self, name: &str) -> bool {
        self.sub_attr.is_none() && self.name.eq_ignore_ascii_case(name)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.schema {
            write!(f, "{s}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn from_word(w: &str) -> Option<CompareOp> {
        Some(match w.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }
}

/// The literal a comparison compares with: JSON's `false`, `null`, `true`, a number or a string.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr op value`.
    Compare(AttrPath, CompareOp, CompValue),
    /// `attr pr`: the attribute has a value.
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work" and primary eq true]`: some value of a multi-valued attribute
    /// matches the inner filter, whose paths are relative to that value.
    ValuePath(AttrPath, Box<Filter>),
}

impl Filter {
    /// Depth of the tree: 1 for a single comparison.
    pub fn depth(&self) -> usize {
        match self {
            Filter::Compare(..) | Filter::Present(_) => 1,
            Filter::And(a, b) | Filter::Or(a, b) => 1 + a.depth().max(b.depth()),
            Filter::Not(f) | Filter::ValuePath(_, f) => 1 + f.depth(),
        }
    }
}

/// A PATCH operation's `path`: an attribute, or the values of a multi-valued one selected by a
/// filter, optionally narrowed to a sub-attribute (`emails[type eq "work"].value`).
#[derive(Debug, Clone, PartialEq)]
pub enum Path {
    Attr(AttrPath),
    Values { attr: AttrPath, filter: Filter, sub_attr: Option<String> },
}

/// Why a filter or path was refused; rendered as a SCIM `invalidFilter` or `invalidPath`
/// error by the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {position})")]
pub struct SyntaxError {
    pub message: String,
    /// 1-based character position of the problem.
    pub position: usize,
}

/// Parses a filter, as in `GET /Users?filter=...`.
pub fn parse_filter(text: &str) -> Result<Filter, SyntaxError> {
    let mut p = Parser::new(text)?;
    let f = p.or_expr(false)?;
    p.end()?;
    Ok(f)
}

/// Parses a PATCH path.
pub fn parse_path(text: &str) -> Result<Path, SyntaxError> {
    let mut p = Parser::new(text)?;
    let attr = p.attr_path()?;
    let path = if p.peek() == Some(&Tok::LBracket) {
        p.next();
        let filter = p.value_filter()?;
        p.expect(&Tok::RBracket, "`]` to close the value filter")?;
        let sub_attr = match p.peek() {
            Some(Tok::Word(w)) if w.starts_with('.') => {
                let w = w.clone();
                let at = p.position();
                p.next();
                let name = &w[1..];
                if !is_attr_name(name) {
                    return Err(SyntaxError { message: format!("`{name}` is not an attribute name"), position: at });
                }
                Some(name.to_owned())
            }
            _ => None,
        };
        Path::Values { attr, filter, sub_attr }
    } else {
        Path::Attr(attr)
    };
    p.end()?;
    Ok(path)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// An attribute path, keyword, operator or literal word (`true`, `null`).
    Word(String),
    Str(String),
    Number(serde_json::Number),
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
    end: usize,
    /// Open parentheses, `not`s and value filters around the current token.
    nesting: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.' | '$')
}

fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    // `$ref` is the one attribute name that starts with something other than a letter.
    (s == "$ref")
        || (chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, SyntaxError> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (byte, c) = chars[i];
        let position = i + 1;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' | ')' | '[' | ']' => {
                out.push((
                    match c {
                        '(' => Tok::LParen,
                        ')' => Tok::RParen,
                        '[' => Tok::LBracket,
                        _ => Tok::RBracket,
                    },
                    position,
                ));
                i += 1;
            }
            '"' => {
                // A JSON string: find its closing quote, then let serde_json decode the escapes.
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => {
                            return Err(SyntaxError { message: "a string is not closed".into(), position });
                        }
                        Some((_, '\\')) => j += 2,
                        Some((_, '"')) => break,
                        Some(_) => j += 1,
                    }
                }
                let end = chars.get(j + 1).map_or(text.len(), |(b, _)| *b);
                let s: String = serde_json::from_str(&text[byte..end])
                    .map_err(|e| SyntaxError { message: format!("a string is not valid: {e}"), position })?;
                out.push((Tok::Str(s), position));
                i = j + 1;
            }
            c if c == '-' || c.is_ascii_digit() => {
                let mut j = i;
                while chars.get(j).is_some_and(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.')) {
                    j += 1;
                }
                let end = chars.get(j).map_or(text.len(), |(b, _)| *b);
                let word = &text[byte..end];
                let n: serde_json::Number = serde_json::from_str(word)
                    .map_err(|_| SyntaxError { message: format!("`{word}` is not a number"), position })?;
                out.push((Tok::Number(n), position));
                i = j;
            }
            c if is_word_char(c) => {
                let mut j = i;
                while chars.get(j).is_some_and(|(_, c)| is_word_char(*c)) {
                    j += 1;
                }
                let end = chars.get(j).map_or(text.len(), |(b, _)| *b);
                out.push((Tok::Word(text[byte..end].to_owned()), position));
                i = j;
            }
            other => {
                return Err(SyntaxError { message: format!("unexpected character `{other}`"), position });
            }
        }
    }
    Ok(out)
}

impl Parser {
    fn new(text: &str) -> Result<Parser, SyntaxError> {
        if text.len() > MAX_LENGTH {
            return Err(SyntaxError { message: format!("longer than {MAX_LENGTH} bytes"), position: MAX_LENGTH });
        }
        let toks = tokenize(text)?;
        if toks.is_empty() {
            return Err(SyntaxError { message: "empty".into(), position: 1 });
        }
        Ok(Parser { toks, at: 0, end: text.chars().count() + 1, nesting: 0 })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(t, _)| t)
    }

    fn position(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |(_, p)| *p)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).map(|(t, _)| t.clone());
        self.at += 1;
        t
    }

    fn fail<T>(&self, message: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError { message: message.into(), position: self.position() })
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<(), SyntaxError> {
        if self.peek() == Some(tok) {
            self.next();
            Ok(())
        } else {
            self.fail(format!("expected {what}"))
        }
    }

    fn end(&self) -> Result<(), SyntaxError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.fail("unexpected text after the end"),
        }
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
    }

    fn checked(&self, f: Filter) -> Result<Filter, SyntaxError> {
        if f.depth() > MAX_DEPTH { self.fail(format!("nested deeper than {MAX_DEPTH} levels")) } else { Ok(f) }
    }

    /// `or` binds loosest, then `and`, then `not` and grouping (RFC 7644 table 5).
    fn or_expr(&mut self, in_value: bool) -> Result<Filter, SyntaxError> {
        let mut left = self.and_expr(in_value)?;
        while self.keyword("or") {
            self.next();
            let right = self.and_expr(in_value)?;
            left = self.checked(Filter::Or(Box::new(left), Box::new(right)))?;
        }
        Ok(left)
    }

    fn and_expr(&mut self, in_value: bool) -> Result<Filter, SyntaxError> {
        let mut left = self.unary(in_value)?;
        while self.keyword("and") {
            self.next();
            let right = self.unary(in_value)?;
            left = self.checked(Filter::And(Box::new(left), Box::new(right)))?;
        }
        Ok(left)
    }

    /// Enters a `not`, a group or a value filter; refuses before the recursion gets deep.
    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH { self.fail(format!("nested deeper than {MAX_DEPTH} levels")) } else { Ok(()) }
    }

    fn unary(&mut self, in_value: bool) -> Result<Filter, SyntaxError> {
        if self.keyword("not") {
            self.next();
            self.expect(&Tok::LParen, "`(` after `not`")?;
            self.enter()?;
            let inner = self.or_expr(in_value)?;
            self.expect(&Tok::RParen, "`)`")?;
            self.nesting -= 1;
            return self.checked(Filter::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.next();
            self.enter()?;
            let inner = self.or_expr(in_value)?;
            self.expect(&Tok::RParen, "`)`")?;
            self.nesting -= 1;
            return self.checked(inner);
        }
        let attr = self.attr_path()?;
        if self.peek() == Some(&Tok::LBracket) {
            if in_value {
                return self.fail("a value filter cannot contain another one");
            }
            self.next();
            self.enter()?;
            let inner = self.value_filter()?;
            self.expect(&Tok::RBracket, "`]` to close the value filter")?;
            self.nesting -= 1;
            return self.checked(Filter::ValuePath(attr, Box::new(inner)));
        }
        let op = match self.next() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("pr") => return Ok(Filter::Present(attr)),
            Some(Tok::Word(w)) => match CompareOp::from_word(&w) {
                Some(op) => op,
                None => {
                    self.at -= 1;
                    return self.fail(format!("`{w}` is not an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)"));
                }
            },
            _ => {
                self.at = self.at.saturating_sub(1);
                return self.fail(format!("expected an operator after `{attr}`"));
            }
        };
        let value = match self.next() {
            Some(Tok::Str(s)) => CompValue::String(s),
            Some(Tok::Number(n)) => CompValue::Number(n),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            _ => {
                self.at = self.at.saturating_sub(1);
                return self.fail("expected a value: a \"string\", a number, true, false or null");
            }
        };
        Ok(Filter::Compare(attr, op, value))
    }

    fn value_filter(&mut self) -> Result<Filter, SyntaxError> {
        self.or_expr(true)
    }

    fn attr_path(&mut self) -> Result<AttrPath, SyntaxError> {
        let position = self.position();
        let word = match self.next() {
            Some(Tok::Word(w)) => w,
            _ => {
                self.at = self.at.saturating_sub(1);
                return self.fail("expected an attribute name");
            }
        };
        let bad = |why: &str| Err(SyntaxError { message: format!("`{word}` {why}"), position });
        // A schema URN ends at the last colon; what follows is `name` or `name.sub`.
        let (schema, rest) = match word.rfind(':') {
            Some(i) => {
                if !word[..i].to_ascii_lowercase().starts_with("urn:") {
                    return bad("is not an attribute name (a qualified name starts with a urn: schema)");
                }
                (Some(word[..i].to_owned()), &word[i + 1..])
            }
            None => (None, word.as_str()),
        };
        let (name, sub_attr) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        if !is_attr_name(name) || sub_attr.is_some_and(|s| !is_attr_name(s)) {
            return bad("is not an attribute name");
        }
        Ok(AttrPath { schema, name: name.to_owned(), sub_attr: sub_attr.map(str::to_owned) })
    }
}
