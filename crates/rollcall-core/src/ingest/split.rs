//! Splitting an ingest body into events **as it arrives**, in bounded memory.
//!
//! A 64 MiB body decoded whole into a `serde_json::Value` tree took ~850 MB; the server now
//! feeds the body's chunks to a [`Splitter`] and gets each event's bytes as soon as they are
//! complete, so it holds one event (at most [`MAX_EVENT_BYTES`]) plus the chunk of events
//! being applied, never the body. [`super::split_events`] is the same splitter over a whole
//! body (what the fuzz target and the unit tests drive).
//!
//! - NDJSON: one event per line; blank lines are skipped.
//! - JSON: a lone object is one event; an array's elements are found by a scanner that
//!   tracks strings, escapes and nesting (so any valid JSON array splits exactly as a parser
//!   would split it), and each element is then parsed on its own: an element that is not
//!   valid JSON is one refused event, like a bad NDJSON line. What the scanner cannot frame
//!   (no `[`, a missing `,`, an unclosed array, text after the `]`) refuses the body: a
//!   [`Framing`] error.
//! - An event over [`MAX_EVENT_BYTES`] is [`Piece::TooLarge`]: its bytes are skipped, not
//!   kept. No field of an event comes near that size (`customer_data` is at most 2 KiB).

/// The largest event accepted, in bytes of JSON.
pub const MAX_EVENT_BYTES: usize = 64 << 10;

/// One event found in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// The event's bytes (not yet parsed). `whole` when it is the body's lone object, whose
    /// bad JSON refuses the body rather than one event.
    Event { bytes: &'a [u8], whole: bool },
    /// An event over [`MAX_EVENT_BYTES`], skipped.
    TooLarge,
}

/// Why a JSON body cannot be framed as events; the reply's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framing {
    /// Byte offset in the body where it went wrong.
    pub offset: u64,
    pub message: &'static str,
}

impl std::fmt::Display for Framing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the body is not a JSON array of events ({} at byte {}); send a JSON array of \
             events, or NDJSON with Content-Type: application/x-ndjson",
            self.message, self.offset
        )
    }
}

impl std::error::Error for Framing {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// NDJSON: inside a line (possibly empty).
    Line,
    /// JSON, before the first significant byte.
    Start,
    /// After `[`: an element or `]`.
    First,
    /// After `,`: an element.
    Next,
    /// Inside an element (or the lone object).
    Element,
    /// After an element: `,` or `]`.
    After,
    /// After the closing `]`, or after the lone object: only whitespace.
    End,
}

/// The incremental splitter: [`Splitter::feed`] each chunk, then [`Splitter::finish`].
#[derive(Debug)]
pub struct Splitter {
    phase: Phase,
    /// The current event's bytes so far, when it spans chunks (empty when it is too large).
    buf: Vec<u8>,
    /// The current event is over [`MAX_EVENT_BYTES`]: its bytes are being skipped.
    over: bool,
    /// NDJSON: the current line has a non-whitespace byte.
    nonblank: bool,
    /// JSON element scan: open brackets, inside a string, after a backslash in one.
    depth: u32,
    in_str: bool,
    escaped: bool,
    /// The element is a bare scalar (a number, `true`…), ended by a delimiter.
    scalar: bool,
    /// The element is the body's lone object.
    lone: bool,
    /// Bytes fed before the current chunk.
    offset: u64,
}

impl Splitter {
    pub fn new(ndjson: bool) -> Self {
        Self {
            phase: if ndjson { Phase::Line } else { Phase::Start },
            buf: Vec::new(),
            over: false,
            nonblank: false,
            depth: 0,
            in_str: false,
            escaped: false,
            scalar: false,
            lone: false,
            offset: 0,
        }
    }

    /// Feed the next chunk of the body; `out` gets each event completed in it, in order.
    pub fn feed(&mut self, chunk: &[u8], out: &mut impl FnMut(Piece<'_>)) -> Result<(), Framing> {
        let r = if self.phase == Phase::Line {
            self.feed_lines(chunk, out);
            Ok(())
        } else {
            self.feed_json(chunk, out)
        };
        self.offset += chunk.len() as u64;
        r
    }

    /// The body has ended: emit a last NDJSON line, or check the JSON was complete.
    pub fn finish(mut self, out: &mut impl FnMut(Piece<'_>)) -> Result<(), Framing> {
        let offset = self.offset;
        let fail = move |message| Err(Framing { offset, message });
        match self.phase {
            Phase::Line => {
                if self.nonblank {
                    self.emit(&[], out);
                }
                Ok(())
            }
            Phase::End => Ok(()),
            Phase::Element if self.scalar => fail("the array is not closed"),
            Phase::Start => fail("the body is empty"),
            _ => fail("the body ends before the array is closed"),
        }
    }

    /// Hand out the current event: `tail` completes what `buf` holds.
    fn emit(&mut self, tail: &[u8], out: &mut impl FnMut(Piece<'_>)) {
        let whole = self.lone;
        if self.over || self.buf.len() + tail.len() > MAX_EVENT_BYTES {
            out(Piece::TooLarge);
        } else if self.buf.is_empty() {
            out(Piece::Event { bytes: tail, whole });
        } else {
            self.buf.extend_from_slice(tail);
            out(Piece::Event {
                bytes: &self.buf,
                whole,
            });
        }
        self.buf.clear();
        self.over = false;
        self.nonblank = false;
    }

    /// Keep `part` of an event that continues in the next chunk, unless it is too large.
    fn keep(&mut self, part: &[u8]) {
        if self.over {
            return;
        }
        if self.buf.len() + part.len() > MAX_EVENT_BYTES {
            self.over = true;
            self.buf = Vec::new();
        } else {
            self.buf.extend_from_slice(part);
        }
    }

    fn feed_lines(&mut self, chunk: &[u8], out: &mut impl FnMut(Piece<'_>)) {
        let mut rest = chunk;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let line = &rest[..nl];
            self.nonblank |= !line.iter().all(u8::is_ascii_whitespace);
            if self.nonblank {
                self.emit(line, out);
            } else {
                self.buf.clear();
                self.over = false;
            }
            rest = &rest[nl + 1..];
        }
        // Kept even while the line is blank so far: its leading whitespace belongs to the
        // event if content follows in a later chunk, exactly as when the line comes whole
        // (found by the fuzz target: a cut after a line's tab dropped the tab). `keep`
        // bounds it; a line that stays blank is cleared at its newline.
        self.nonblank |= !rest.iter().all(u8::is_ascii_whitespace);
        self.keep(rest);
    }

    fn feed_json(&mut self, chunk: &[u8], out: &mut impl FnMut(Piece<'_>)) -> Result<(), Framing> {
        // Where the current element's bytes start in this chunk.
        let mut start = 0;
        let mut i = 0;
        while i < chunk.len() {
            let b = chunk[i];
            let offset = self.offset + i as u64;
            let fail = move |message| Err(Framing { offset, message });
            match self.phase {
                Phase::Line => unreachable!("NDJSON is fed by feed_lines"),
                Phase::Start if b.is_ascii_whitespace() => {}
                Phase::Start if b == b'[' => self.phase = Phase::First,
                Phase::Start if b == b'{' => {
                    self.lone = true;
                    self.begin(b);
                    start = i;
                }
                Phase::Start => return fail("it must start with [ or {"),
                Phase::First | Phase::Next | Phase::After | Phase::End
                    if b.is_ascii_whitespace() => {}
                Phase::First if b == b']' => self.phase = Phase::End,
                Phase::Next if b == b']' => return fail("a comma before ]"),
                Phase::First | Phase::Next if b == b',' => return fail("a missing element"),
                Phase::First | Phase::Next => {
                    self.begin(b);
                    start = i;
                }
                Phase::After if b == b',' => self.phase = Phase::Next,
                Phase::After if b == b']' => self.phase = Phase::End,
                Phase::After => return fail("a missing comma"),
                Phase::End => return fail("text after the JSON"),
                Phase::Element if self.scalar => {
                    if b == b',' || b == b']' || b.is_ascii_whitespace() {
                        self.emit(&chunk[start..i], out);
                        self.phase = Phase::After;
                        // The delimiter is read again, as what follows the element.
                        continue;
                    }
                }
                Phase::Element => {
                    if self.in_str {
                        if self.escaped {
                            self.escaped = false;
                        } else if b == b'\\' {
                            self.escaped = true;
                        } else if b == b'"' {
                            self.in_str = false;
                        }
                    } else if b == b'"' {
                        self.in_str = true;
                    } else if b == b'{' || b == b'[' {
                        self.depth += 1;
                    } else if b == b'}' || b == b']' {
                        self.depth -= 1;
                    }
                    if self.depth == 0 && !self.in_str {
                        self.emit(&chunk[start..=i], out);
                        self.phase = if self.lone { Phase::End } else { Phase::After };
                    }
                }
            }
            i += 1;
        }
        if self.phase == Phase::Element {
            self.keep(&chunk[start..]);
        }
        Ok(())
    }

    /// An element starts with `b`.
    fn begin(&mut self, b: u8) {
        self.phase = Phase::Element;
        self.in_str = b == b'"';
        self.escaped = false;
        self.scalar = !matches!(b, b'{' | b'[' | b'"');
        self.depth = u32::from(matches!(b, b'{' | b'['));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pieces of `body` fed in chunks of `size`, as owned bytes (`None`: too large), or
    /// the framing error.
    fn pieces(body: &[u8], ndjson: bool, size: usize) -> Result<Vec<Option<Vec<u8>>>, String> {
        let mut out = Vec::new();
        let mut push = |p: Piece<'_>| {
            out.push(match p {
                Piece::Event { bytes, .. } => Some(bytes.to_vec()),
                Piece::TooLarge => None,
            })
        };
        let mut s = Splitter::new(ndjson);
        for chunk in body.chunks(size.max(1)) {
            s.feed(chunk, &mut push).map_err(|e| e.message.to_owned())?;
        }
        s.finish(&mut push).map_err(|e| e.message.to_owned())?;
        Ok(out)
    }

    #[test]
    fn an_array_splits_the_same_whatever_the_chunks() {
        let body = br#" [ {"a": "x]}\"y", "b": [1, {"c": "}"}]}, 17 ,"s\\" , true,[2,[3]],
            {"d":null} ] "#;
        let whole = pieces(body, false, body.len()).unwrap();
        let want: Vec<&[u8]> = vec![
            br#"{"a": "x]}\"y", "b": [1, {"c": "}"}]}"#,
            b"17",
            br#""s\\""#,
            b"true",
            b"[2,[3]]",
            br#"{"d":null}"#,
        ];
        assert_eq!(
            whole,
            want.iter().map(|w| Some(w.to_vec())).collect::<Vec<_>>()
        );
        for size in 1..body.len() {
            assert_eq!(
                pieces(body, false, size).unwrap(),
                whole,
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn ndjson_lines_split_the_same_whatever_the_chunks() {
        let body = b"{\"a\":1}\n\n   \n{\"b\":\"\\n\"}\r\nnot json\n \t{\"d\":4}\n{\"c\":3}";
        let whole = pieces(body, true, body.len()).unwrap();
        assert_eq!(whole.len(), 5, "{whole:?}");
        assert_eq!(whole[1].as_deref(), Some(&b"{\"b\":\"\\n\"}\r"[..]));
        // Leading whitespace stays with its line, wherever a chunk ends inside it.
        assert_eq!(whole[3].as_deref(), Some(&b" \t{\"d\":4}"[..]));
        assert_eq!(whole[4].as_deref(), Some(&b"{\"c\":3}"[..]));
        for size in 1..body.len() {
            assert_eq!(pieces(body, true, size).unwrap(), whole, "chunks of {size}");
        }
    }

    #[test]
    fn an_event_over_the_limit_is_skipped_not_kept() {
        let big = format!("{{\"x\": \"{}\"}}", "y".repeat(MAX_EVENT_BYTES));
        let body = format!("[{big}, {{}}]");
        for size in [7, 4096, body.len()] {
            assert_eq!(
                pieces(body.as_bytes(), false, size).unwrap(),
                [None, Some(b"{}".to_vec())],
                "chunks of {size}"
            );
            let lines = format!("{big}\n{{}}\n");
            assert_eq!(
                pieces(lines.as_bytes(), true, size).unwrap(),
                [None, Some(b"{}".to_vec())]
            );
        }
        let mut s = Splitter::new(true);
        s.feed(big.as_bytes(), &mut |_| {}).unwrap();
        assert!(
            s.buf.is_empty(),
            "the bytes of a too large event are not held"
        );
    }

    #[test]
    fn what_cannot_be_framed_is_refused_with_where() {
        for (body, why) in [
            ("", "the body is empty"),
            ("  1", "it must start with [ or {"),
            ("[1 2]", "a missing comma"),
            ("[1,]", "a comma before ]"),
            ("[,1]", "a missing element"),
            ("[1] x", "text after the JSON"),
            ("{} {}", "text after the JSON"),
            ("[{\"a\": 1}", "the body ends before the array is closed"),
            ("[1", "the array is not closed"),
            ("{\"a\": \"", "the body ends before the array is closed"),
        ] {
            assert_eq!(
                pieces(body.as_bytes(), false, 2).err().as_deref(),
                Some(why),
                "{body:?}"
            );
        }
        let mut s = Splitter::new(false);
        let err = s.feed(b"[1 2]", &mut |_| {}).unwrap_err();
        assert_eq!(err.offset, 3);
        assert!(pieces(b"[]", false, 1).unwrap().is_empty());
        assert!(pieces(b"", true, 1).unwrap().is_empty());
    }

    #[test]
    fn a_lone_object_is_one_whole_event() {
        let mut seen = Vec::new();
        let mut s = Splitter::new(false);
        s.feed(b" {\"a\": [1]} \n", &mut |p| seen.push(format!("{p:?}")))
            .unwrap();
        s.finish(&mut |_| {}).unwrap();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].contains("whole: true"), "{seen:?}");
    }
}
