//! The recursive-descent parser for path text, filter expressions and filter literals.

use regex::Regex;
use serde_json::{Map, Number, Value};

use super::filter::{CmpOp, Expr, Operand, PathFunction};
use super::{MAX_DEPTH, PathError, Segment, Selector, is_single};

pub(super) struct Parser<'t> {
    pub(super) text: &'t str,
    pub(super) bytes: &'t [u8],
    pub(super) pos: usize,
    /// A filter operand AWS accepts at creation but Jayway cannot compile when the path runs;
    /// kept so the path fails only when it is evaluated (see [`Parser::literal`]).
    pub(super) deferred: Option<PathError>,
}

impl Parser<'_> {
    pub(super) fn error(&self, message: &str) -> PathError {
        PathError::Syntax {
            text: self.text.to_string(),
            position: self.pos,
            message: message.to_string(),
        }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    pub(super) fn peek_char(&self) -> Option<char> {
        self.text.get(self.pos..)?.chars().next()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), PathError> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    /// Parses segments until the text ends or, inside a filter, a character that cannot continue a path.
    pub(super) fn segments(
        &mut self,
        in_filter: bool,
        depth: usize,
    ) -> Result<Vec<Segment>, PathError> {
        let mut segments = Vec::new();
        while let Some(b) = self.peek() {
            if matches!(segments.last(), Some(Segment::Function(_))) {
                if in_filter {
                    break;
                }
                return Err(self.error("a function must be the last step of a path"));
            }
            match b {
                b'.' if self.peek_at(1) == Some(b'.') => {
                    self.pos += 2;
                    let selector = match self.peek() {
                        Some(b'[') => self.bracket(depth)?,
                        Some(b'*') => self.star()?,
                        Some(b'.') | None => {
                            return Err(
                                self.error("a path must not end with '..' or contain '...'")
                            );
                        }
                        _ => match self.dot_name(in_filter)? {
                            DotName::Name(n) => Selector::Name(n),
                            DotName::Function(_) => {
                                return Err(self.error("a function cannot follow '..'"));
                            }
                        },
                    };
                    segments.push(Segment::Descendant(selector));
                }
                b'.' => {
                    self.pos += 1;
                    match self.peek() {
                        None => return Err(self.error("a path must not end with '.'")),
                        Some(b'[') => segments.push(Segment::Child(self.bracket(depth)?)),
                        Some(b'*') => segments.push(Segment::Child(self.star()?)),
                        _ => match self.dot_name(in_filter)? {
                            DotName::Name(n) => segments.push(Segment::Child(Selector::Name(n))),
                            DotName::Function(f) => segments.push(Segment::Function(f)),
                        },
                    }
                }
                b'[' => segments.push(Segment::Child(self.bracket(depth)?)),
                _ if in_filter => break,
                _ => return Err(self.error("expected '.' or '['")),
            }
        }
        Ok(segments)
    }

    fn star(&mut self) -> Result<Selector, PathError> {
        self.pos += 1;
        match self.peek() {
            None | Some(b'.' | b'[') => Ok(Selector::Wildcard),
            Some(b) if b.is_ascii_whitespace() || b"()<>=!~&|,]".contains(&b) => {
                Ok(Selector::Wildcard)
            }
            _ => Err(self.error("unexpected character after '*'")),
        }
    }

    fn dot_name(&mut self, in_filter: bool) -> Result<DotName, PathError> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b == b'.' || b == b'[' || b == b'(' {
                break;
            }
            if b == b' ' && !in_filter {
                return Err(self.error(
                    "use bracket notation ['my prop'] if a property contains blank characters",
                ));
            }
            if in_filter && (b.is_ascii_whitespace() || b")<>=!~&|,]".contains(&b)) {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error("expected a property name"));
        }
        let name = &self.text[start..self.pos];
        if self.peek() != Some(b'(') {
            return Ok(DotName::Name(name.to_string()));
        }
        self.pos += 1;
        let args_start = self.pos;
        while self.peek().is_some_and(|b| b != b')') {
            self.pos += 1;
        }
        if self.peek().is_none() {
            return Err(self.error("unterminated function call"));
        }
        let args = self.text[args_start..self.pos].trim();
        self.pos += 1;
        let function = match (name, args) {
            ("length", "") => PathFunction::Length,
            ("min", "") => PathFunction::Min,
            ("max", "") => PathFunction::Max,
            ("avg", "") => PathFunction::Avg,
            ("stddev", "") => PathFunction::Stddev,
            ("sum", "") => PathFunction::Sum,
            ("keys", "") => PathFunction::Keys,
            ("first", "") => PathFunction::First,
            ("last", "") => PathFunction::Last,
            ("index", n) => PathFunction::Index(
                n.parse()
                    .map_err(|_| self.error("index() takes one integer argument"))?,
            ),
            _ => {
                return Err(self.error(&format!(
                    "Function with name: {name} does not exist or has the wrong arguments."
                )));
            }
        };
        Ok(DotName::Function(function))
    }

    fn bracket(&mut self, depth: usize) -> Result<Selector, PathError> {
        self.pos += 1;
        self.skip_ws();
        let selector = match self.peek() {
            Some(quote @ (b'\'' | b'"')) => {
                let mut names = vec![self.raw_quoted(quote)?];
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => {
                            self.pos += 1;
                            self.skip_ws();
                            match self.peek() {
                                Some(q @ (b'\'' | b'"')) => names.push(self.raw_quoted(q)?),
                                _ => return Err(self.error("expected a quoted property name")),
                            }
                        }
                        _ => break,
                    }
                }
                if names.len() == 1 {
                    Selector::Name(names.remove(0))
                } else {
                    Selector::Names(names)
                }
            }
            Some(b'*') => {
                self.pos += 1;
                Selector::Wildcard
            }
            Some(b'?') => {
                self.pos += 1;
                self.expect(b'(', "expected '(' after '?'")?;
                let expr = self.or_expr(depth + 1)?;
                self.expect(b')', "expected ')' to close the filter")?;
                Selector::Filter(Box::new(expr))
            }
            Some(b) if b.is_ascii_digit() || b == b'-' || b == b':' => self.indexes()?,
            _ => return Err(self.error("unexpected character after '['")),
        };
        self.expect(b']', "expected ']'")?;
        Ok(selector)
    }

    /// A quoted bracket name, taken verbatim: AWS's Jayway skips escaped quotes but keeps the backslash.
    fn raw_quoted(&mut self, quote: u8) -> Result<String, PathError> {
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        while let Some(b) = self.peek() {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == quote {
                let name = self.text[start..self.pos].to_string();
                self.pos += 1;
                return Ok(name);
            }
            self.pos += 1;
        }
        Err(self.error("unterminated quoted property name"))
    }

    fn indexes(&mut self) -> Result<Selector, PathError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_digit() || b"-:, ".contains(&b))
        {
            self.pos += 1;
        }
        let body = self.text[start..self.pos].trim();
        let int = |s: &str| -> Result<Option<i64>, PathError> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            s.parse::<i64>()
                .map(Some)
                .map_err(|_| self.error(&format!("invalid array index '{s}'")))
        };
        if body.contains(':') {
            if body.contains([',', ' ']) {
                return Err(self.error(&format!("Failed to parse SliceOperation: {body}")));
            }
            // Jayway reads only `from:to`; a third part (a step) is accepted and ignored.
            let mut parts = body.split(':');
            let from = int(parts.next().unwrap_or(""))?;
            let to = int(parts.next().unwrap_or(""))?;
            for extra in parts {
                int(extra)?;
            }
            if from.is_none() && to.is_none() {
                return Err(self.error(&format!("Failed to parse SliceOperation: {body}")));
            }
            return Ok(Selector::Slice(from, to));
        }
        let mut indexes = Vec::new();
        for part in body.split(',') {
            match int(part)? {
                Some(i) => indexes.push(i),
                None => return Err(self.error("empty array index")),
            }
        }
        if indexes.len() == 1 {
            Ok(Selector::Index(indexes[0]))
        } else {
            Ok(Selector::Indexes(indexes))
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), PathError> {
        if depth > MAX_DEPTH {
            Err(self.error(&format!("nesting deeper than {MAX_DEPTH} levels")))
        } else {
            Ok(())
        }
    }

    fn or_expr(&mut self, depth: usize) -> Result<Expr, PathError> {
        self.check_depth(depth)?;
        let mut left = self.and_expr(depth)?;
        loop {
            self.skip_ws();
            if self.bytes[self.pos..].starts_with(b"||") {
                self.pos += 2;
                let right = self.and_expr(depth)?;
                left = Expr::Or(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn and_expr(&mut self, depth: usize) -> Result<Expr, PathError> {
        let mut left = self.unary(depth)?;
        loop {
            self.skip_ws();
            if self.bytes[self.pos..].starts_with(b"&&") {
                self.pos += 2;
                let right = self.unary(depth)?;
                left = Expr::And(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, PathError> {
        self.check_depth(depth)?;
        self.skip_ws();
        match self.peek() {
            Some(b'!') if self.peek_at(1) != Some(b'=') => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary(depth + 1)?)))
            }
            Some(b'(') => {
                self.pos += 1;
                let inner = self.or_expr(depth + 1)?;
                self.expect(b')', "expected ')'")?;
                Ok(inner)
            }
            _ => self.relation(depth),
        }
    }

    fn relation(&mut self, depth: usize) -> Result<Expr, PathError> {
        let left = self.operand(depth)?;
        self.skip_ws();
        let Some(op) = self.operator() else {
            return match left {
                Operand::Current(..) | Operand::Document(..) => Ok(Expr::Exists(left)),
                Operand::Literal(Value::Bool(b)) => Ok(Expr::Constant(b)),
                _ => Err(self.error("expected a comparison operator")),
            };
        };
        self.skip_ws();
        let right = self.operand(depth)?;
        if op == CmpOp::Matches && !matches!(right, Operand::Pattern(_)) {
            return Err(self.error("'=~' needs a /regular expression/ on its right"));
        }
        Ok(Expr::Compare(left, op, right))
    }

    fn operator(&mut self) -> Option<CmpOp> {
        const SYMBOLS: [(&str, CmpOp); 7] = [
            ("==", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            ("<=", CmpOp::Le),
            (">=", CmpOp::Ge),
            ("=~", CmpOp::Matches),
            ("<", CmpOp::Lt),
            (">", CmpOp::Gt),
        ];
        const WORDS: [(&str, CmpOp); 8] = [
            ("nin", CmpOp::Nin),
            ("in", CmpOp::In),
            ("subsetof", CmpOp::SubsetOf),
            ("anyof", CmpOp::AnyOf),
            ("noneof", CmpOp::NoneOf),
            ("size", CmpOp::Size),
            ("empty", CmpOp::Empty),
            ("contains", CmpOp::Contains),
        ];
        let rest = &self.text[self.pos..];
        for (symbol, op) in SYMBOLS {
            if rest.starts_with(symbol) {
                self.pos += symbol.len();
                return Some(op);
            }
        }
        for (word, op) in WORDS {
            if rest.starts_with(word)
                && !rest[word.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                self.pos += word.len();
                return Some(op);
            }
        }
        None
    }

    fn operand(&mut self, depth: usize) -> Result<Operand, PathError> {
        self.check_depth(depth)?;
        self.skip_ws();
        match self.peek() {
            Some(b'@') => {
                self.pos += 1;
                let segments = self.segments(true, depth + 1)?;
                let single = is_single(&segments);
                Ok(Operand::Current(segments, single))
            }
            Some(b'$') => {
                self.pos += 1;
                let segments = self.segments(true, depth + 1)?;
                let single = is_single(&segments);
                Ok(Operand::Document(segments, single))
            }
            Some(b'/') => self.pattern(),
            _ => Ok(Operand::Literal(self.literal(depth + 1)?)),
        }
    }

    fn pattern(&mut self) -> Result<Operand, PathError> {
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        while let Some(b) = self.peek() {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'/' {
                break;
            }
            self.pos += 1;
        }
        if self.peek() != Some(b'/') {
            return Err(self.error("unterminated regular expression"));
        }
        let body = &self.text[start..self.pos];
        self.pos += 1;
        let mut flags = String::new();
        while let Some(b) = self.peek() {
            if !b.is_ascii_alphabetic() {
                break;
            }
            // Java flags without a Rust counterpart are accepted and ignored.
            if b"imsx".contains(&b) && !flags.contains(b as char) {
                flags.push(b as char);
            }
            self.pos += 1;
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!("(?{flags})")
        };
        // Java's Matcher.matches() requires the whole input to match.
        Regex::new(&format!("{flags}^(?:{body})$"))
            .map(Operand::Pattern)
            .map_err(|e| self.error(&format!("invalid regular expression: {e}")))
    }

    /// A filter literal: JSON, but strings may use single quotes as Jayway allows.
    fn literal(&mut self, depth: usize) -> Result<Value, PathError> {
        self.check_depth(depth)?;
        self.skip_ws();
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => self.string_literal(q).map(Value::String),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.literal(depth + 1)?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::Array(items));
                        }
                        _ => return Err(self.error("expected ',' or ']' in array literal")),
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                let mut map = Map::new();
                self.skip_ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                loop {
                    self.skip_ws();
                    let key = match self.peek() {
                        Some(q @ (b'\'' | b'"')) => self.string_literal(q)?,
                        _ => return Err(self.error("expected a quoted key in object literal")),
                    };
                    self.expect(b':', "expected ':' in object literal")?;
                    let value = self.literal(depth + 1)?;
                    map.insert(key, value);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Value::Object(map));
                        }
                        _ => return Err(self.error("expected ',' or '}' in object literal")),
                    }
                }
            }
            // Source: Jayway reads a number literal as Java's BigDecimal does, so `.85`, `-.5`
            // and `1.` are numbers (an AWS sample filters on `[?(@.Score > .85)]`).
            Some(b) if b == b'-' || b == b'.' || b.is_ascii_digit() => {
                let start = self.pos;
                self.pos += 1;
                while self
                    .peek()
                    .is_some_and(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
                {
                    self.pos += 1;
                }
                let text = &self.text[start..self.pos];
                serde_json::from_str::<Number>(&json_number(text))
                    .map(Value::Number)
                    .map_err(|_| self.error(&format!("invalid number '{text}'")))
            }
            _ => {
                for (word, value) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    if self.text[self.pos..].starts_with(word) {
                        self.pos += word.len();
                        return Ok(value);
                    }
                }
                // Source: deployed definitions hold filters such as `[?(@.Name==Receipt)]` and
                // AWS creates them; at run time Jayway reads a bare word as a number literal and
                // fails to compile the filter. So the definition loads and the path fails when
                // it is evaluated, which the engine reports as States.Runtime.
                let start = self.pos;
                while self
                    .peek_char()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
                {
                    self.pos += self.peek_char().map_or(1, char::len_utf8);
                }
                if self.pos == start {
                    return Err(self.error("expected a value"));
                }
                let word = &self.text[start..self.pos];
                if self.deferred.is_none() {
                    let at = self.pos;
                    self.pos = start;
                    self.deferred = Some(self.error(&format!(
                        "the filter operand '{word}' is not a value: quote a string ('{word}')"
                    )));
                    self.pos = at;
                }
                Ok(Value::Null)
            }
        }
    }

    /// A quoted filter string; unlike bracket names these honour backslash escapes.
    fn string_literal(&mut self, quote: u8) -> Result<String, PathError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek_char() else {
                return Err(self.error("unterminated string literal"));
            };
            self.pos += c.len_utf8();
            if c as u32 == u32::from(quote) {
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(e) = self.peek_char() else {
                return Err(self.error("unterminated string literal"));
            };
            self.pos += e.len_utf8();
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{08}'),
                'f' => out.push('\u{0c}'),
                'u' => {
                    let hex = self.text.get(self.pos..self.pos + 4).unwrap_or("");
                    let code = u32::from_str_radix(hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| self.error("invalid \\u escape"))?;
                    self.pos += 4;
                    out.push(code);
                }
                other => out.push(other),
            }
        }
    }
}

enum DotName {
    Name(String),
    Function(PathFunction),
}

/// BigDecimal's number forms in JSON's: a digit on both sides of the decimal point.
fn json_number(text: &str) -> std::borrow::Cow<'_, str> {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (mantissa, exponent) = match digits.find(['e', 'E']) {
        Some(at) => digits.split_at(at),
        None => (digits, ""),
    };
    if !mantissa.bytes().any(|b| b.is_ascii_digit()) {
        return text.into();
    }
    let lead = if mantissa.starts_with('.') { "0" } else { "" };
    let trail = if mantissa.ends_with('.') { "0" } else { "" };
    if lead.is_empty() && trail.is_empty() {
        return text.into();
    }
    format!("{sign}{lead}{mantissa}{trail}{exponent}").into()
}
