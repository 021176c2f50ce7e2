//! The parser for intrinsic call text: function names, arguments and nested calls.

use serde_json::{Number, Value};

use super::{
    Arg, Call, Function, IntrinsicError, MAX_NESTING, Path, TextLiteral, normalize_negative_zero,
};

pub(super) struct Parser<'t> {
    pub(super) text: &'t str,
    pub(super) bytes: &'t [u8],
    pub(super) pos: usize,
}

impl Parser<'_> {
    pub(super) fn error(&self, message: &str) -> IntrinsicError {
        IntrinsicError::Syntax {
            text: self.text.to_string(),
            position: self.pos,
            message: message.to_string(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub(super) fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    pub(super) fn call(&mut self, depth: usize) -> Result<Call, IntrinsicError> {
        if depth >= MAX_NESTING {
            return Err(self.error(&format!(
                "intrinsic functions are nested more than {MAX_NESTING} levels deep"
            )));
        }
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'.')
        {
            self.pos += 1;
        }
        let name = &self.text[start..self.pos];
        if !name.starts_with("States.") {
            return Err(self.error("expected an intrinsic function name such as States.Format"));
        }
        let function =
            Function::from_name(name).ok_or_else(|| IntrinsicError::UnknownFunction {
                name: name.to_string(),
            })?;
        self.skip_ws();
        if self.peek() != Some(b'(') {
            return Err(self.error("expected '(' after the function name"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b')') {
            self.pos += 1;
        } else {
            loop {
                args.push(self.arg(depth)?);
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error("expected ',' or ')' after an argument")),
                }
            }
        }
        let (min, max) = function.arity();
        if args.len() < min || max.is_some_and(|m| args.len() > m) {
            let expected = match (min, max) {
                (min, None) => format!("at least {min} argument(s)"),
                (min, Some(max)) if min == max => format!("{min} argument(s)"),
                (min, Some(max)) => format!("{min} to {max} arguments"),
            };
            return Err(IntrinsicError::Arity {
                function: function.name().to_string(),
                expected,
                found: args.len(),
            });
        }
        Ok(Call { function, args })
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, IntrinsicError> {
        self.skip_ws();
        match self.peek() {
            Some(b'\'') => self.text_literal().map(Arg::Text),
            Some(b'$') => self.path().map(Arg::Path),
            Some(b) if b == b'-' || b.is_ascii_digit() => self.number().map(Arg::Literal),
            Some(b'S') if self.text[self.pos..].starts_with("States.") => {
                self.call(depth + 1).map(|c| Arg::Call(Box::new(c)))
            }
            _ => {
                for (word, value) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    let rest = &self.bytes[self.pos..];
                    if rest.starts_with(word.as_bytes())
                        && !rest
                            .get(word.len())
                            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    {
                        self.pos += word.len();
                        return Ok(Arg::Literal(value));
                    }
                }
                Err(self.error(
                    "expected an argument: a 'string', a number, true, false, null, a path or an intrinsic function",
                ))
            }
        }
    }

    fn text_literal(&mut self) -> Result<TextLiteral, IntrinsicError> {
        self.pos += 1;
        let mut value = String::new();
        let mut holes = Vec::new();
        loop {
            let Some(c) = self.text[self.pos..].chars().next() else {
                return Err(self.error("unterminated string literal"));
            };
            self.pos += c.len_utf8();
            match c {
                '\'' => return Ok(TextLiteral { value, holes }),
                '\\' => {
                    let Some(escaped) = self.text[self.pos..].chars().next() else {
                        return Err(self.error("unterminated escape sequence"));
                    };
                    // AWS accepts only these four escapes; `\"` and friends make the
                    // definition invalid (recorded: ESCAPE_SEQUENCES_ILLEGAL_INTRINSIC_FUNCTION).
                    if !matches!(escaped, '\'' | '{' | '}' | '\\') {
                        return Err(self.error(&format!(
                            "invalid escape sequence '\\{escaped}': only \\', \\{{, \\}} and \\\\ may be escaped"
                        )));
                    }
                    self.pos += escaped.len_utf8();
                    value.push(escaped);
                }
                '{' if self.peek() == Some(b'}') => {
                    self.pos += 1;
                    holes.push(value.len());
                    value.push_str("{}");
                }
                c => value.push(c),
            }
        }
    }

    /// A path runs to the next top-level `,` or `)`; brackets, parentheses and quotes inside it are skipped over.
    fn path(&mut self) -> Result<Path, IntrinsicError> {
        let start = self.pos;
        let mut brackets = 0usize;
        let mut parens = 0usize;
        let mut quote: Option<u8> = None;
        let mut escaped = false;
        while let Some(b) = self.peek() {
            if let Some(q) = quote {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == q {
                    quote = None;
                }
            } else {
                match b {
                    b'\'' | b'"' if brackets > 0 => quote = Some(b),
                    b'[' => brackets += 1,
                    b']' => brackets = brackets.saturating_sub(1),
                    b'(' => parens += 1,
                    b')' if parens == 0 => break,
                    b')' => parens -= 1,
                    b',' if brackets == 0 && parens == 0 => break,
                    _ => {}
                }
            }
            self.pos += 1;
        }
        let text = self.text[start..self.pos].trim_end();
        Path::parse(text).map_err(|e| IntrinsicError::Syntax {
            text: self.text.to_string(),
            position: start,
            message: format!("invalid path argument: {e}"),
        })
    }

    fn number(&mut self) -> Result<Value, IntrinsicError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_digit() || b".eE+-".contains(&b))
        {
            self.pos += 1;
        }
        let text = &self.text[start..self.pos];
        let mut value = serde_json::from_str::<Number>(text)
            .map(Value::Number)
            .map_err(|_| self.error(&format!("invalid number '{text}'")))?;
        normalize_negative_zero(&mut value);
        Ok(value)
    }
}
