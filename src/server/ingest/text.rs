//! Turning feed markup into clean plain text: tags dropped (script and style with their
//! content), block elements as line breaks, entities decoded, whitespace tidied, length bounded
//! at a word boundary with an ellipsis.
//!
//! Pure functions; used by feed mapping. Feeds put anything in titles and summaries (escaped
//! HTML, CDATA, tracking pixels, `&amp;nbsp;` twice escaped); what leaves here is text a person
//! can read in a ticker.

/// Elements whose content is never text.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "iframe", "object", "head",
];
/// Elements that end a line.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "tr",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "figure",
    "figcaption",
    "hr",
    "dd",
    "dt",
];

/// Plain text from HTML (or from text that merely looks like it).
#[must_use]
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut skipping: Option<String> = None;
    while let Some(start) = rest.find('<') {
        let (text, tail) = rest.split_at(start);
        if skipping.is_none() {
            out.push_str(text);
        }
        let Some(end) = tag_end(tail) else {
            // A lone '<' (as in "a < b"): keep it as text.
            if skipping.is_none() {
                out.push('<');
            }
            rest = tail.get(1..).unwrap_or("");
            continue;
        };
        let tag = tail.get(1..end).unwrap_or("");
        rest = tail.get(end + 1..).unwrap_or("");
        if tag.starts_with("!--") {
            // A comment: skip to its real end.
            if let Some(close) = tail.find("-->") {
                rest = tail.get(close + 3..).unwrap_or("");
            }
            continue;
        }
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(skipped) = &skipping {
            if closing && &name == skipped {
                skipping = None;
            }
            continue;
        }
        if !closing && SKIPPED.contains(&name.as_str()) && !tag.ends_with('/') {
            skipping = Some(name);
            continue;
        }
        if BLOCKS.contains(&name.as_str()) {
            out.push('\n');
        } else if name == "img" || name == "td" || name == "th" {
            out.push(' ');
        }
    }
    if skipping.is_none() {
        out.push_str(rest);
    }
    tidy(&decode_entities(&out))
}

/// Where the tag starting at `text[0] == '<'` ends (index of its '>'), if it looks like a tag.
fn tag_end(text: &str) -> Option<usize> {
    let next = text.get(1..)?.chars().next()?;
    if !(next.is_ascii_alphabetic() || next == '/' || next == '!' || next == '?') {
        return None;
    }
    // Quotes inside attributes may hold '>'.
    let mut quote = None;
    for (index, c) in text.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(index),
            _ => {}
        }
    }
    None
}

/// Decodes HTML entities, twice if the feed escaped them twice (`&amp;amp;`, `&amp;nbsp;`).
#[must_use]
pub fn decode_entities(text: &str) -> String {
    let once = html_escape::decode_html_entities(text);
    let twice_escaped = once.contains('&') && once.contains(';') && once != text;
    let decoded = if twice_escaped {
        html_escape::decode_html_entities(&once).into_owned()
    } else {
        once.into_owned()
    };
    decoded.replace('\u{a0}', " ")
}

/// Collapses runs of spaces, keeps at most one blank line between paragraphs, trims, and drops
/// control characters other than line breaks and tabs.
#[must_use]
pub fn tidy(text: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut blank = false;
    for line in text.lines() {
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || (c.is_control() && c != '\t'))
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            blank = !lines.is_empty();
            continue;
        }
        if blank {
            lines.push(String::new());
            blank = false;
        }
        lines.push(words.join(" "));
    }
    lines.join("\n")
}

/// One line: all whitespace, line breaks included, collapsed to single spaces.
#[must_use]
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max_chars` characters, cut at a word boundary with `…` when it had to be cut.
#[must_use]
pub fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    let word_complete = text
        .chars()
        .nth(cut.chars().count())
        .is_some_and(char::is_whitespace);
    let at_word = match cut.rfind(char::is_whitespace) {
        Some(space) if !word_complete && space > cut.len() / 2 => cut.get(..space).unwrap_or(&cut),
        _ => &cut,
    };
    format!(
        "{}…",
        at_word.trim_end_matches(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == ':')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_scripts_comments_and_decodes_entities() {
        let html = "<p>Hello&nbsp;<b>world</b> &amp; friends</p><script>alert('x<y')</script>\
                    <!-- <p>hidden</p> --><p>Second&#8217;s &#x2014; para</p><img src=x alt=y>";
        assert_eq!(
            html_to_text(html),
            "Hello world & friends\n\nSecond\u{2019}s \u{2014} para"
        );
    }

    #[test]
    fn keeps_text_that_only_looks_like_markup() {
        assert_eq!(html_to_text("3 < 5 and 7 > 2"), "3 < 5 and 7 > 2");
        assert_eq!(html_to_text("a <b title=\"x>y\">bold</b>"), "a bold");
    }

    #[test]
    fn double_escaped_entities_are_decoded() {
        assert_eq!(
            decode_entities("Fish &amp;amp; chips&amp;nbsp;today"),
            "Fish & chips today"
        );
    }

    #[test]
    fn whitespace_is_tidied_and_paragraphs_kept() {
        assert_eq!(tidy("  a   b \n\n\n\n c\t\u{7}d  \n"), "a b\n\nc d");
        assert_eq!(one_line(" a \n b\r\nc "), "a b c");
    }

    #[test]
    fn truncation_cuts_at_words_and_marks_it() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(
            truncate("the quick brown fox jumps", 16),
            "the quick brown…"
        );
        assert_eq!(truncate("abcdefghijklmnop", 8), "abcdefg…");
        assert!(truncate(&"é".repeat(500), 300).chars().count() <= 300);
    }
}
