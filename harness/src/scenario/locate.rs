//! Where in a scenario file something is wrong: the line, and the field as a
//! reader would name it (`workload.bonus_mix.small`, `fault[2].start`). toml
//! reports byte offsets; this turns them into what an error message needs.

use super::ScenarioError;

pub(super) fn invalid(
    file: &str,
    text: &str,
    offset: usize,
    field: String,
    message: &str,
) -> ScenarioError {
    ScenarioError::Invalid {
        file: file.to_string(),
        line: line_of(text, offset),
        field,
        message: message.to_string(),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    1 + text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// serde names the field in "unknown field `x`" and "missing field `x`".
pub(super) fn field_from_message(message: &str) -> Option<String> {
    let rest = message
        .split_once("unknown field `")
        .or_else(|| message.split_once("missing field `"))?
        .1;
    Some(rest.split('`').next()?.to_string())
}

/// The key written before `offset` on its line (`duration = "3x"` → `duration`),
/// qualified by the table it is in, and by the inline table around it
/// (`bonus_mix = { small = "x" }` → `workload.bonus_mix.small`).
pub(super) fn field_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..offset];
    let last_key = |s: &str| {
        s.rfind('=')
            .map(|eq| s[..eq].trim())
            .and_then(|k| k.rsplit([' ', '{', ',']).next())
            .filter(|k| !k.is_empty())
            .map(str::to_string)
    };
    let key = last_key(before).unwrap_or_else(|| "?".to_string());
    let key = match before
        .split_once('{')
        .and_then(|(outer, _)| last_key(outer))
    {
        Some(parent) if parent != key => format!("{parent}.{key}"),
        _ => key,
    };
    qualify(text, offset, &key)
}

/// Prefixes `key` with the table that holds `offset`: `workload.couriers`,
/// `fault[2].start` (faults counted from 1, as a reader counts them).
pub(super) fn qualify(text: &str, offset: usize, key: &str) -> String {
    let offset = offset.min(text.len());
    let mut table = String::new();
    let mut faults = 0;
    let mut expects = 0;
    let mut position = 0;
    for line in text.split_inclusive('\n') {
        if position > offset {
            break;
        }
        let trimmed = line.trim();
        if trimmed == "[[fault]]" {
            faults += 1;
            table = format!("fault[{faults}]");
        } else if trimmed == "[[expect]]" {
            expects += 1;
            table = format!("expect[{expects}]");
        } else if trimmed.starts_with('[') && !trimmed.starts_with("[[") {
            table = trimmed.trim_matches(['[', ']']).trim().to_string();
        }
        position += line.len();
    }
    if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_located_in_tables() {
        let text = "name = \"x\"\n[workload]\ncouriers = 3\n[[fault]]\nstart = \"1s\"\n[[fault]]\nstart = \"zz\"\n";
        let offset = text.find("\"zz\"").unwrap();
        assert_eq!(field_at(text, offset), "fault[2].start");
        assert_eq!(line_of(text, offset), 7);
        assert_eq!(field_at(text, text.find('3').unwrap()), "workload.couriers");
        let inline = "[workload]\nbonus_mix = { small = 1, big = \"x\" }\n";
        assert_eq!(
            field_at(inline, inline.find("\"x").unwrap()),
            "workload.bonus_mix.big"
        );
    }
}
