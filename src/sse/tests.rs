//! Cases written from the WHATWG "Interpreting an event stream" text. Every case is decoded
//! whole, one byte at a time, and in two-byte and seven-byte pieces: the result must not
//! depend on how the network splits the stream.

use super::*;

fn event(event_type: &str, data: &str, id: &str) -> MessageEvent {
    MessageEvent {
        event_type: event_type.to_owned(),
        data: data.to_owned(),
        last_event_id: id.to_owned(),
    }
}

fn decode_in_pieces(input: &[u8], piece: usize) -> (Vec<MessageEvent>, Decoder) {
    let mut decoder = Decoder::default();
    let mut out = Vec::new();
    for chunk in input.chunks(piece.max(1)) {
        decoder.feed(chunk, &mut out).unwrap();
    }
    (out, decoder)
}

/// Decodes `input` whole and in pieces; all must agree. Returns the events and the decoder.
fn decode(input: &[u8]) -> (Vec<MessageEvent>, Decoder) {
    let (whole, decoder) = decode_in_pieces(input, input.len());
    for piece in [1, 2, 7] {
        let (split, other) = decode_in_pieces(input, piece);
        assert_eq!(split, whole, "split into {piece}-byte pieces");
        assert_eq!(other.last_event_id(), decoder.last_event_id());
        assert_eq!(other.retry_millis(), decoder.retry_millis());
    }
    (whole, decoder)
}

fn events(input: &str) -> Vec<MessageEvent> {
    decode(input.as_bytes()).0
}

#[test]
fn spec_example_stock_ticker_data_lines_join_with_lf() {
    // "data: YHOO\ndata: +2\ndata: 10\n\n" dispatches "YHOO\n+2\n10".
    assert_eq!(
        events("data: YHOO\ndata: +2\ndata: 10\n\n"),
        [event("message", "YHOO\n+2\n10", "")]
    );
}

#[test]
fn spec_example_comments_ids_and_final_block_without_blank_line() {
    let input = ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n";
    // The third block is never terminated, so it is discarded; the id-less "id" field resets
    // the last event ID to the empty string.
    assert_eq!(
        events(input),
        [
            event("message", "first event", "1"),
            event("message", "second event", "")
        ]
    );
}

#[test]
fn spec_example_empty_data_and_trailing_newline() {
    // "data\n\ndata\ndata\n\ndata:" gives "" (dispatched? no: empty data buffer), then "\n".
    let (out, _) = decode(b"data\n\ndata\ndata\n\ndata:");
    // First block: data buffer is "\n" -> dispatched with data "" (buffer is not empty).
    assert_eq!(out, [event("message", "", ""), event("message", "\n", "")]);
}

#[test]
fn spec_example_one_leading_space_is_stripped() {
    assert_eq!(
        events("data:test\n\ndata: test\n\ndata:  test\n\n"),
        [
            event("message", "test", ""),
            event("message", "test", ""),
            event("message", " test", "")
        ]
    );
}

#[test]
fn line_ends_crlf_lf_and_cr_all_work_and_mix() {
    let expected = [event("a", "1", "x"), event("b", "2", "x")];
    assert_eq!(
        events("event: a\r\nid: x\r\ndata: 1\r\n\r\nevent: b\r\ndata: 2\r\n\r\n"),
        expected
    );
    assert_eq!(
        events("event: a\nid: x\ndata: 1\n\nevent: b\ndata: 2\n\n"),
        expected
    );
    assert_eq!(
        events("event: a\rid: x\rdata: 1\r\revent: b\rdata: 2\r\r"),
        expected
    );
    assert_eq!(
        events("event: a\rid: x\r\ndata: 1\n\revent: b\r\ndata: 2\r\n\n"),
        expected
    );
}

#[test]
fn crlf_split_across_reads_is_one_line_end() {
    let mut decoder = Decoder::default();
    let mut out = Vec::new();
    decoder.feed(b"data: a\r", &mut out).unwrap();
    decoder.feed(b"\ndata: b\r", &mut out).unwrap();
    assert!(out.is_empty());
    // A CR at the end of a read followed by LF must not count as a blank line.
    decoder.feed(b"\n\r", &mut out).unwrap();
    assert_eq!(out, [event("message", "a\nb", "")]);
    // A CR that ends a read and is followed by something else is a line end of its own.
    decoder.feed(b"data: c\r", &mut out).unwrap();
    decoder.feed(b"\r", &mut out).unwrap();
    assert_eq!(out.last(), Some(&event("message", "c", "")));
}

#[test]
fn one_leading_bom_is_stripped_even_split_but_only_one() {
    assert_eq!(events("\u{FEFF}data: x\n\n"), [event("message", "x", "")]);
    // A second BOM is part of the first line: a field named "\u{FEFF}data", ignored.
    assert_eq!(
        events("\u{FEFF}\u{FEFF}data: x\n\ndata: y\n\n"),
        [event("message", "y", "")]
    );
    // A BOM later in the stream is ordinary content.
    assert_eq!(
        events("data: \u{FEFF}x\n\n"),
        [event("message", "\u{FEFF}x", "")]
    );
    // Bytes that start like a BOM but are not one are kept.
    let (out, _) = decode(b"\xEF\xBBdata: x\n\ndata: y\n\n");
    assert_eq!(out, [event("message", "y", "")]);
}

#[test]
fn comments_and_unknown_fields_are_ignored_and_names_are_case_sensitive() {
    assert_eq!(
        events(": hello\nfoo: bar\nData: nope\nEVENT: nope\nevent: real\ndata: yes\n\n"),
        [event("real", "yes", "")]
    );
}

#[test]
fn a_line_without_colon_is_a_field_with_empty_value() {
    // "data" alone appends an empty line; "event" alone sets the type to "" (message).
    assert_eq!(
        events("event: x\nevent\ndata\ndata\n\n"),
        [event("message", "\n", "")]
    );
}

#[test]
fn only_the_first_colon_separates_and_only_one_space_is_stripped() {
    assert_eq!(events("data: a: b:c\n\n"), [event("message", "a: b:c", "")]);
    assert_eq!(events("data:\n\n"), [event("message", "", "")]);
}

#[test]
fn event_type_resets_after_each_dispatch() {
    assert_eq!(
        events("event: a\ndata: 1\n\ndata: 2\n\n"),
        [event("a", "1", ""), event("message", "2", "")]
    );
    // Also when the event had no data (nothing dispatched).
    assert_eq!(
        events("event: a\n\ndata: 2\n\n"),
        [event("message", "2", "")]
    );
}

#[test]
fn ids_persist_across_events_and_nul_ids_are_ignored() {
    assert_eq!(
        events("id: 7\ndata: a\n\ndata: b\n\nid: 8\u{0}\ndata: c\n\nid: 9\ndata: d\n\n"),
        [
            event("message", "a", "7"),
            event("message", "b", "7"),
            event("message", "c", "7"),
            event("message", "d", "9")
        ]
    );
}

#[test]
fn an_id_only_block_updates_the_last_event_id_without_dispatching() {
    let (out, decoder) = decode(b"data: a\nid: 1\n\nid: 2\n\n");
    assert_eq!(out, [event("message", "a", "1")]);
    assert_eq!(decoder.last_event_id(), "2");
    // But an id that is never followed by a blank line is not committed.
    let (_, decoder) = decode(b"id: 1\n\nid: 3\ndata: partial\n");
    assert_eq!(decoder.last_event_id(), "1");
}

#[test]
fn retry_needs_only_ascii_digits_and_dispatches_nothing() {
    let (out, decoder) = decode(b"retry: 2500\n\n");
    assert!(out.is_empty());
    assert_eq!(decoder.retry_millis(), Some(2500));
    for ignored in [
        "retry: 25x\n",
        "retry: -1\n",
        "retry: 1.5\n",
        "retry:\n",
        "retry: \u{0661}\n",
        "retry:  10\n",
    ] {
        let (_, decoder) = decode(format!("retry: 100\n{ignored}\n").as_bytes());
        assert_eq!(decoder.retry_millis(), Some(100), "{ignored:?}");
    }
    let (_, decoder) = decode(b"retry: 99999999999999999999999\n");
    assert_eq!(decoder.retry_millis(), Some(u64::MAX));
}

#[test]
fn pending_data_is_discarded_at_end_of_stream_and_on_reconnect() {
    let mut decoder = Decoder::default();
    let mut out = Vec::new();
    decoder
        .feed(
            b"id: 5\ndata: done\n\nevent: x\nid: 6\ndata: half",
            &mut out,
        )
        .unwrap();
    decoder.reset_connection();
    decoder.feed(b"data: fresh\n\n", &mut out).unwrap();
    assert_eq!(
        out,
        [
            event("message", "done", "5"),
            event("message", "fresh", "5")
        ]
    );
}

#[test]
fn invalid_utf8_becomes_replacement_characters() {
    let (out, _) = decode(b"data: a\xFFb\xC3\ndata: \xE2\x82\n\n");
    assert_eq!(out, [event("message", "a\u{FFFD}b\u{FFFD}\n\u{FFFD}", "")]);
    // A multi-byte character split across reads is fine.
    let (out, _) = decode("data: \u{20AC}\u{1F600}\n\n".as_bytes());
    assert_eq!(out, [event("message", "\u{20AC}\u{1F600}", "")]);
}

#[test]
fn limits_end_the_stream_with_an_error_instead_of_growing() {
    let limits = Limits {
        max_line_bytes: 16,
        max_event_bytes: 20,
    };
    let mut decoder = Decoder::new(limits);
    let mut out = Vec::new();
    let error = decoder.feed(&[b'x'; 17], &mut out).unwrap_err();
    assert_eq!(error, DecodeError::LineTooLong { limit: 16 });
    let mut decoder = Decoder::new(limits);
    let error = decoder
        .feed(b"data: 0123456789\ndata: 0123456789\n", &mut out)
        .unwrap_err();
    assert_eq!(error, DecodeError::EventTooLarge { limit: 20 });
    // Byte by byte the same.
    let mut decoder = Decoder::new(limits);
    let result: Result<(), DecodeError> = [b'y'; 40]
        .chunks(1)
        .try_for_each(|byte| decoder.feed(byte, &mut out));
    assert_eq!(result.unwrap_err(), DecodeError::LineTooLong { limit: 16 });
}

#[test]
fn resume_starts_from_a_known_last_event_id() {
    let mut decoder = Decoder::with_last_event_id(Limits::default(), "41");
    let mut out = Vec::new();
    decoder.feed(b"data: x\n\n", &mut out).unwrap();
    assert_eq!(out, [event("message", "x", "41")]);
}

#[test]
fn a_sixteen_mebibyte_data_line_decodes_quickly_in_small_reads() {
    let mut input = b"data: ".to_vec();
    input.extend(std::iter::repeat_n(b'z', 16 * 1024 * 1024));
    input.extend_from_slice(b"\n\n");
    let mut decoder = Decoder::new(Limits {
        max_line_bytes: 32 * 1024 * 1024,
        max_event_bytes: 32 * 1024 * 1024,
    });
    let mut out = Vec::new();
    let started = std::time::Instant::now();
    for chunk in input.chunks(1500) {
        decoder.feed(chunk, &mut out).unwrap();
    }
    // Generous even for an unoptimised build on a loaded machine; quadratic work would take
    // minutes. The measured figure (about 30 ms optimised) is in docs/benchmarks.md.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].data.len(), 16 * 1024 * 1024);
}
