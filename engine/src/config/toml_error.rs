//! TOML parse errors made readable: the dotted key the error is about (derived from the error's
//! span and the source text: the table header above it and the keys on its line), and serde's
//! wording rephrased where it says nothing to a person writing a scenario.

use std::ops::Range;

/// The dotted key at `span` in `source`, e.g. `simulation.seed`,
/// `world.provider[1].ttft.lognormal.sigma`; `None` when nothing can be derived.
pub fn key_at(source: &str, span: &Range<usize>) -> Option<String> {
    let start = floor_char_boundary(source, span.start.min(source.len()));
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..]
        .find('\n')
        .map_or(source.len(), |i| start + i);
    let line = &source[line_start..line_end];
    let mut parts: Vec<String> = Vec::new();
    if let Some(header) = header_name(line) {
        // The error is about a table header itself.
        parts.push(indexed_header(source, line_start, &header));
        return Some(parts.join("."));
    }
    if let Some(header_start) = header_above(source, line_start) {
        let header_line = source[header_start..].lines().next().unwrap_or_default();
        if let Some(header) = header_name(header_line) {
            parts.push(indexed_header(source, header_start, &header));
        }
    }
    let mut keys = keys_before(&line[..start - line_start]);
    if keys.last().is_none_or(Option::is_none) {
        // The span may point at a key itself (an unknown field): `key = …`.
        let rest = &source[start..line_end];
        if let Some((key, _)) = rest.split_once('=') {
            let key = clean_key(key);
            if !key.is_empty() && !key.contains(['{', '}', ',', '[', ']', '"']) {
                keys.push(Some(key));
            }
        }
    }
    parts.extend(keys.into_iter().flatten());
    (!parts.is_empty()).then(|| parts.join("."))
}

/// The 1-based line of a plain table's field such as `retry.max_attempts` in `source`: the
/// key's line inside `[retry]` (or a top-level `retry.max_attempts = …`), else the table's
/// header line; `None` for a table the source does not write. For the checks made after
/// parsing on tables that keep no span.
pub fn line_of_field(source: &str, field: &str) -> Option<usize> {
    let (table, rest) = field.split_once('.')?;
    let key = rest.split(['.', '[']).next().unwrap_or(rest);
    let mut header = None;
    let mut top_level = true;
    for (i, line) in source.lines().enumerate() {
        if let Some(name) = header_name(line) {
            if header.is_some() {
                break;
            }
            top_level = false;
            if name == table && !is_array_header(line) {
                header = Some(i + 1);
            }
            continue;
        }
        let Some((k, _)) = line.split_once('=') else {
            continue;
        };
        let k = clean_key(k);
        let here = if header.is_some() {
            k == key
        } else {
            top_level
                && k.split('.')
                    .map(clean_key)
                    .eq([table, key].map(str::to_owned))
        };
        if here {
            return Some(i + 1);
        }
    }
    header
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn clean_key(k: &str) -> String {
    k.trim().trim_matches('"').trim_matches('\'').to_owned()
}

/// `[a.b]` or `[[a.b]]` → `a.b`.
pub fn header_name(line: &str) -> Option<String> {
    let t = line.trim();
    let t = t.split_once('#').map_or(t, |(h, _)| h).trim_end();
    let inner = t.strip_prefix("[[").and_then(|r| r.strip_suffix("]]"));
    let inner = inner.or_else(|| t.strip_prefix('[').and_then(|r| r.strip_suffix(']')))?;
    let name: Vec<String> = inner.split('.').map(clean_key).collect();
    Some(name.join("."))
}

fn is_array_header(line: &str) -> bool {
    line.trim_start().starts_with("[[")
}

/// Byte offset of the nearest header line strictly above `line_start`.
fn header_above(source: &str, line_start: usize) -> Option<usize> {
    let mut end = line_start;
    while end > 0 {
        let s = source[..end - 1].rfind('\n').map_or(0, |i| i + 1);
        if header_name(&source[s..end - 1]).is_some() {
            return Some(s);
        }
        end = s;
    }
    None
}

/// `world.provider` at `header_start` → `world.provider[i]` when it is the i-th `[[…]]` of
/// that name under its parent.
fn indexed_header(source: &str, header_start: usize, name: &str) -> String {
    let line = source[header_start..].lines().next().unwrap_or_default();
    if !is_array_header(line) {
        // `[world.provider.ttft]` belongs to the last `[[world.provider]]` above it.
        let mut at = header_start;
        while let Some(s) = header_above(source, at) {
            let l = source[s..].lines().next().unwrap_or_default();
            if let Some(n) = header_name(l) {
                if is_array_header(l) {
                    if let Some(rest) = name.strip_prefix(&format!("{n}.")) {
                        return format!("{}.{rest}", indexed_header(source, s, &n));
                    }
                }
            }
            at = s;
        }
        return name.to_owned();
    }
    let mut index = 0;
    let mut at = header_start;
    while let Some(s) = header_above(source, at) {
        let l = source[s..].lines().next().unwrap_or_default();
        match header_name(l) {
            Some(n) if n == name && is_array_header(l) => index += 1,
            Some(n) if name.starts_with(&format!("{n}.")) => break,
            _ => {}
        }
        at = s;
    }
    // A nested array's parent may itself be indexed: `world.provider[1].deployment[0]`.
    match name.rsplit_once('.') {
        Some((parent, leaf)) => match header_above_named(source, header_start, parent) {
            Some(ps) => format!("{}.{leaf}[{index}]", indexed_header(source, ps, parent)),
            None => format!("{name}[{index}]"),
        },
        None => format!("{name}[{index}]"),
    }
}

fn header_above_named(source: &str, line_start: usize, name: &str) -> Option<usize> {
    let mut at = line_start;
    while let Some(s) = header_above(source, at) {
        let l = source[s..].lines().next().unwrap_or_default();
        if header_name(l).as_deref() == Some(name) {
            return Some(s);
        }
        at = s;
    }
    None
}

/// The keys of the inline tables open at the end of `prefix`, then the key being assigned
/// (`None` where a position holds no key, e.g. after a comma).
fn keys_before(prefix: &str) -> Vec<Option<String>> {
    let mut stack: Vec<Option<String>> = Vec::new();
    let mut current: Option<String> = None;
    let mut token = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in prefix.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q == '"' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            token.push(c);
            continue;
        }
        match c {
            '"' | '\'' => {
                quote = Some(c);
                token.push(c);
            }
            '=' => {
                current = Some(clean_key(&token));
                token.clear();
            }
            '{' | '[' => {
                stack.push(current.take());
                token.clear();
            }
            '}' | ']' => {
                current = stack.pop().flatten();
                token.clear();
            }
            ',' => {
                current = None;
                token.clear();
            }
            '#' => break,
            c => token.push(c),
        }
    }
    stack.push(current);
    stack
}

/// Rephrases serde's and toml's messages where they are cryptic, and shortens long values.
pub fn readable(message: &str) -> String {
    let m = message.trim_end();
    let m = if m.contains("wanted exactly 1 element") {
        "expected exactly one kind as the only key, e.g. { poisson = { rate = 2.0 } } or \
         { lognormal = { median = \"1s\", p99 = \"3s\" } }; found none or several"
            .to_owned()
    } else if m.starts_with("wanted string or table") {
        "wrong type; expected a table naming one kind, e.g. { constant = 10 } or \
         { poisson = { rate = 2.0 } }"
            .to_owned()
    } else if let Some(rest) =
        m.strip_prefix("data did not match any variant of untagged enum Value")
    {
        format!("expected a number or a duration string such as \"400ms\"{rest}")
    } else {
        m.replace("invalid type: ", "wrong type: found ")
            .replace("invalid length ", "wrong number of entries: ")
            .replace(
                ", expected u64",
                ", expected a whole number from 0 to 18446744073709551615",
            )
            .replace(
                ", expected u32",
                ", expected a whole number from 0 to 4294967295",
            )
            .replace(", expected i64", ", expected a whole number")
            .replace(", expected f64", ", expected a number")
            .replace("found map", "found a table")
            .replace("expected a sequence", "expected an array")
    };
    let m = m
        .replace("struct variant ", "")
        .replace("expected struct ", "expected ");
    let words: Vec<String> = m.split(' ').map(|w| internal_names(&shorten(w))).collect();
    words.join(" ")
}

/// `struct variant DistSpec::Lognormal`, `struct RawWorldDeployment` → `a table`.
fn internal_names(word: &str) -> String {
    let trimmed = word.trim_end_matches([',', ';']);
    let internal = trimmed.contains("::")
        || (trimmed.starts_with("Raw") && trimmed.chars().all(char::is_alphanumeric));
    if internal {
        word.replacen(trimmed, "(a table)", 1)
    } else {
        word.to_owned()
    }
}

/// A word over 80 characters cut to its first 60 and an ellipsis.
fn shorten(word: &str) -> String {
    if word.chars().count() > 80 {
        let cut: String = word.chars().take(60).collect();
        format!("{cut}…")
    } else {
        word.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_tables_field_is_found_by_name() {
        let src = "[[tier]]\nname = \"t\"\n\n[retry]\nmax_wait = \"1s\"\nmax_attempts = 0\n\n[health]\ncooldown = \"1s\"\n";
        assert_eq!(line_of_field(src, "retry.max_attempts"), Some(6));
        assert_eq!(
            line_of_field(src, "retry.retry_on[1]"),
            Some(4),
            "the header"
        );
        assert_eq!(line_of_field(src, "health.cooldown"), Some(9));
        assert_eq!(line_of_field(src, "balancing.error_sensitivity"), None);
        let dotted = "retry.max_attempts = 0\n[[tier]]\nretry.max_attempts = 1\n";
        assert_eq!(line_of_field(dotted, "retry.max_attempts"), Some(1));
        assert_eq!(
            line_of_field("[[tier]]\nretry.max_attempts = 1\n", "retry.max_attempts"),
            None
        );
    }

    fn key(src: &str, needle: &str) -> Option<String> {
        let at = src.find(needle).expect("needle");
        key_at(src, &(at..at + needle.len()))
    }

    #[test]
    fn keys_from_headers_and_inline_tables() {
        let src = "[simulation]\nseed = \"x\"\n\n[workload]\narrivals = { bursty = { base_rate = 1.0, mean_gap = 7 } }\n\
                   [[world.provider]]\nname = \"a\"\n[[world.provider.deployment]]\nid = \"a\"\n\
                   [[world.provider]]\nname = \"b\"\nttft = { lognormal = { median = \"1s\", sigma = \"q\" } }\n\
                   [[world.provider.deployment]]\nid = \"b\"\n[[world.provider.deployment]]\nrpm = \"z\"\n";
        assert_eq!(key(src, "\"x\"").as_deref(), Some("simulation.seed"));
        assert_eq!(
            key(src, "7 }").as_deref(),
            Some("workload.arrivals.bursty.mean_gap")
        );
        assert_eq!(
            key(src, "base_rate").as_deref(),
            Some("workload.arrivals.bursty.base_rate")
        );
        assert_eq!(
            key(src, "\"q\"").as_deref(),
            Some("world.provider[1].ttft.lognormal.sigma")
        );
        assert_eq!(
            key(src, "\"z\"").as_deref(),
            Some("world.provider[1].deployment[1].rpm")
        );
        assert_eq!(key(src, "[workload]").as_deref(), Some("workload"));
    }

    #[test]
    fn sub_tables_of_array_tables_are_indexed() {
        let src = "[[world.provider]]\nname = \"a\"\n[[world.provider]]\nname = \"b\"\n\
                   [world.provider.ttft.lognormal]\nmedian = 5\n";
        assert_eq!(
            key(src, "5\n").as_deref(),
            Some("world.provider[1].ttft.lognormal.median")
        );
    }

    #[test]
    fn serde_wording_becomes_readable() {
        let m = readable(
            "invalid length 0, expected struct variant DistSpec::Lognormal with 3 elements",
        );
        assert_eq!(
            m,
            "wrong number of entries: 0, expected (a table) with 3 elements"
        );
        let m = readable(&format!(
            "invalid type: floating point `{}`, expected a string",
            5e-324
        ));
        assert!(m.chars().count() < 150, "{m}");
        assert!(
            readable("wanted exactly 1 element, more than 1 element").contains("exactly one kind")
        );
        assert_eq!(
            readable("invalid type: string \"x\", expected u64"),
            "wrong type: found string \"x\", expected a whole number from 0 to 18446744073709551615"
        );
    }
}
