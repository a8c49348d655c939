//! A Server-Sent Events decoder that follows the WHATWG HTML "Server-sent events" parsing rules
//! (section 9.2.6, "Interpreting an event stream") exactly, for any SSE server, not just ours.
//!
//! Feed it bytes as they arrive, in chunks of any size; it yields [`MessageEvent`]s with the
//! values a browser's `MessageEvent` would carry. It never fails on content (invalid UTF-8
//! becomes U+FFFD), only on size: a line or event beyond the configured [`Limits`] ends the
//! stream with [`DecodeError`] instead of growing memory. Work is linear in the input: each byte
//! is looked at a bounded number of times however the input is split.
//!
//! Used by `client::Connection` and `tidings tail --raw`. No I/O here.

/// Size limits that protect memory against a misbehaving server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line (field name and value), in bytes.
    pub max_line_bytes: usize,
    /// Largest event (all its `data` together), in bytes.
    pub max_event_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line_bytes: 8 * 1024 * 1024,
            max_event_bytes: 16 * 1024 * 1024,
        }
    }
}

/// The stream exceeded a limit; the connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A line grew beyond `Limits::max_line_bytes`.
    #[error("the server sent a line longer than {limit} bytes")]
    LineTooLong {
        /// The limit.
        limit: usize,
    },
    /// An event's data grew beyond `Limits::max_event_bytes`.
    #[error("the server sent an event larger than {limit} bytes")]
    EventTooLarge {
        /// The limit.
        limit: usize,
    },
}

/// A dispatched event: what a browser's `MessageEvent` would carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEvent {
    /// The event type (`message` when the stream gave none).
    pub event_type: String,
    /// The data, lines joined with `\n`, without the final line break.
    pub data: String,
    /// The last event ID in effect when it was dispatched (possibly from earlier events).
    pub last_event_id: String,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The incremental decoder. One per stream; the last event ID and the reconnection time
/// survive [`Decoder::reset_connection`] as the spec says they survive reconnects.
#[derive(Debug, Clone)]
pub struct Decoder {
    limits: Limits,
    /// Bytes of the line being read (without its terminator).
    line: Vec<u8>,
    /// The previous chunk ended in CR: a leading LF in the next one belongs to it.
    after_cr: bool,
    /// Bytes seen so far of a possible leading BOM (0..=3), or `None` once decided.
    bom_seen: Option<usize>,
    data: String,
    event_type: String,
    id_buffer: String,
    last_event_id: String,
    retry_millis: Option<u64>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl Decoder {
    /// A decoder with the given limits.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            line: Vec::new(),
            after_cr: false,
            bom_seen: Some(0),
            data: String::new(),
            event_type: String::new(),
            id_buffer: String::new(),
            last_event_id: String::new(),
            retry_millis: None,
        }
    }

    /// A decoder that resumes after `last_event_id` (sent as `Last-Event-ID` on connect).
    #[must_use]
    pub fn with_last_event_id(limits: Limits, last_event_id: &str) -> Self {
        let mut decoder = Self::new(limits);
        decoder.last_event_id = last_event_id.to_owned();
        decoder.id_buffer = last_event_id.to_owned();
        decoder
    }

    /// The last event ID string: what to send as `Last-Event-ID` when reconnecting.
    #[must_use]
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time most recently set by a `retry:` field, in milliseconds.
    #[must_use]
    pub fn retry_millis(&self) -> Option<u64> {
        self.retry_millis
    }

    /// A new connection begins: drop any partial line and event (the spec discards them at
    /// the end of a stream) but keep the last event ID and the reconnection time.
    pub fn reset_connection(&mut self) {
        self.line.clear();
        self.after_cr = false;
        self.bom_seen = Some(0);
        self.data.clear();
        self.event_type.clear();
        self.id_buffer.clone_from(&self.last_event_id);
    }

    /// Decodes `bytes`, appending dispatched events to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<MessageEvent>) -> Result<(), DecodeError> {
        let mut rest = self.strip_bom(bytes);
        while !rest.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if let Some(after_lf) = rest.strip_prefix(b"\n") {
                    rest = after_lf;
                    continue;
                }
            }
            match rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
                Some(end) => {
                    let (content, tail) = rest.split_at(end);
                    self.extend_line(content)?;
                    self.after_cr = tail.first() == Some(&b'\r');
                    rest = tail.get(1..).unwrap_or_default();
                    self.end_line(out)?;
                }
                None => {
                    self.extend_line(rest)?;
                    rest = &[];
                }
            }
        }
        Ok(())
    }

    /// Removes one leading U+FEFF, even when it arrives split across chunks.
    fn strip_bom<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        let Some(seen) = self.bom_seen else {
            return bytes;
        };
        let mut matched = seen;
        let mut used = 0;
        while matched < BOM.len() {
            match bytes.get(used) {
                None => {
                    // The chunk ended inside a possible BOM: wait for more.
                    self.bom_seen = Some(matched);
                    return &[];
                }
                Some(byte) if Some(byte) == BOM.get(matched) => {
                    matched += 1;
                    used += 1;
                }
                Some(_) => {
                    // Not a BOM: the bytes held back so far are ordinary content.
                    self.bom_seen = None;
                    self.line
                        .extend_from_slice(BOM.get(..seen).unwrap_or_default());
                    return bytes;
                }
            }
        }
        self.bom_seen = None;
        bytes.get(used..).unwrap_or_default()
    }

    fn extend_line(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        if self.line.len() + bytes.len() > self.limits.max_line_bytes {
            return Err(DecodeError::LineTooLong {
                limit: self.limits.max_line_bytes,
            });
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn end_line(&mut self, out: &mut Vec<MessageEvent>) -> Result<(), DecodeError> {
        // Anything before a line end decides the BOM question.
        self.bom_seen = None;
        let line = std::mem::take(&mut self.line);
        let result = self.process_line(&line, out);
        // Keep the allocation for the next line unless it was unusually large.
        if line.capacity() <= 64 * 1024 {
            self.line = line;
            self.line.clear();
        }
        result
    }

    fn process_line(
        &mut self,
        line: &[u8],
        out: &mut Vec<MessageEvent>,
    ) -> Result<(), DecodeError> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line.first() == Some(&b':') {
            return Ok(());
        }
        let (name, value) = match line.iter().position(|b| *b == b':') {
            Some(colon) => {
                let (name, value) = line.split_at(colon);
                let value = value.get(1..).unwrap_or_default();
                (name, value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match name {
            b"event" => self.event_type = String::from_utf8_lossy(value).into_owned(),
            b"data" => {
                if self.data.len() + value.len() + 1 > self.limits.max_event_bytes {
                    return Err(DecodeError::EventTooLarge {
                        limit: self.limits.max_event_bytes,
                    });
                }
                self.data.push_str(&String::from_utf8_lossy(value));
                self.data.push('\n');
            }
            b"id" if !value.contains(&0) => {
                self.id_buffer = String::from_utf8_lossy(value).into_owned();
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // Absurdly long digit strings saturate instead of being ignored.
                let millis = std::str::from_utf8(value)
                    .ok()
                    .and_then(|text| text.parse::<u64>().ok())
                    .unwrap_or(u64::MAX);
                self.retry_millis = Some(millis);
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<MessageEvent>) {
        self.last_event_id.clone_from(&self.id_buffer);
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        let event_type = std::mem::take(&mut self.event_type);
        out.push(MessageEvent {
            event_type: if event_type.is_empty() {
                "message".to_owned()
            } else {
                event_type
            },
            data,
            last_event_id: self.last_event_id.clone(),
        });
    }
}

#[cfg(test)]
mod tests;
