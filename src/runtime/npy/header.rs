//! Parser for the header of a `.npy` file: the Python dict literal that NumPy writes.

/// The three keys of a `.npy` header.
#[derive(Debug, PartialEq)]
pub(super) struct Header {
    pub descr: String,
    pub fortran_order: bool,
    pub shape: Vec<i64>,
}

/// A value in the header's dict literal.
#[derive(Debug, PartialEq)]
enum Literal {
    Str(String),
    Bool(bool),
    Tuple(Vec<i64>),
}

impl Header {
    /// Parses the dict literal NumPy writes, such as
    /// `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }`.
    pub fn parse(text: &str) -> Result<Header, String> {
        let mut cursor = Cursor {
            chars: text.trim().chars().collect(),
            at: 0,
        };
        let (mut descr, mut fortran_order, mut shape) = (None, None, None);
        cursor.expect('{')?;
        while !cursor.eat('}') {
            let key = cursor.string()?;
            cursor.expect(':')?;
            let value = cursor.literal()?;
            match (key.as_str(), value) {
                ("descr", Literal::Str(s)) => descr = Some(s),
                ("fortran_order", Literal::Bool(b)) => fortran_order = Some(b),
                ("shape", Literal::Tuple(t)) => shape = Some(t),
                (key, value) => {
                    return Err(format!("unexpected .npy header entry `{key}`: {value:?}"));
                }
            }
            if !cursor.eat(',') {
                cursor.expect('}')?;
                break;
            }
        }
        Ok(Header {
            descr: descr.ok_or("the .npy header has no `descr`")?,
            fortran_order: fortran_order.ok_or("the .npy header has no `fortran_order`")?,
            shape: shape.ok_or("the .npy header has no `shape`")?,
        })
    }
}

/// A position in the header text.
struct Cursor {
    chars: Vec<char>,
    at: usize,
}

impl Cursor {
    fn skip_space(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    fn eat(&mut self, want: char) -> bool {
        self.skip_space();
        if self.chars.get(self.at) == Some(&want) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, want: char) -> Result<(), String> {
        if self.eat(want) {
            Ok(())
        } else {
            Err(format!(
                "invalid .npy header: expected `{want}` at character {}",
                self.at
            ))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.skip_space();
        let quote = match self.chars.get(self.at) {
            Some(&q @ ('\'' | '"')) => q,
            _ => {
                return Err(format!(
                    "invalid .npy header: expected a string at character {}",
                    self.at
                ));
            }
        };
        self.at += 1;
        let start = self.at;
        while self.chars.get(self.at).is_some_and(|&c| c != quote) {
            self.at += 1;
        }
        if self.at >= self.chars.len() {
            return Err("invalid .npy header: unterminated string".into());
        }
        let text = self.chars[start..self.at].iter().collect();
        self.at += 1;
        Ok(text)
    }

    fn word(&mut self) -> String {
        self.skip_space();
        let start = self.at;
        while self
            .chars
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    fn literal(&mut self) -> Result<Literal, String> {
        self.skip_space();
        match self.chars.get(self.at) {
            Some('\'' | '"') => self.string().map(Literal::Str),
            Some('(') => {
                self.at += 1;
                let mut dims = Vec::new();
                while !self.eat(')') {
                    let word = self.word();
                    // NumPy writes Python ints; older versions wrote `3L` on Python 2.
                    let digits = word.trim_end_matches('L');
                    let dim = digits
                        .parse::<i64>()
                        .map_err(|_| format!("invalid .npy shape entry `{word}`"))?;
                    dims.push(dim);
                    if !self.eat(',') {
                        self.expect(')')?;
                        break;
                    }
                }
                Ok(Literal::Tuple(dims))
            }
            _ => match self.word().as_str() {
                "True" => Ok(Literal::Bool(true)),
                "False" => Ok(Literal::Bool(false)),
                other => Err(format!("invalid .npy header value `{other}`")),
            },
        }
    }
}
