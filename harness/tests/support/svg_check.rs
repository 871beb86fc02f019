//! A small well-formedness check for the SVG files the report writes: one
//! `<svg>` root, every tag closed in order, attributes quoted, `&` only as an
//! entity, `<` never inside an attribute. Enough to catch a truncated file or
//! an unescaped label, without an XML crate.

/// `Ok(number of elements)` when `text` is a well-formed SVG document.
pub fn check(text: &str) -> Result<usize, String> {
    let mut rest = text.trim_start();
    if let Some(decl) = rest.strip_prefix("<?xml") {
        let end = decl.find("?>").ok_or("unclosed XML declaration")?;
        rest = decl[end + 2..].trim_start();
    }
    if !rest.starts_with("<svg") {
        return Err(format!(
            "does not start with <svg: {:?}",
            &rest[..rest.len().min(40)]
        ));
    }
    let mut stack: Vec<String> = Vec::new();
    let mut elements = 0;
    let mut roots = 0;
    while let Some(open) = rest.find('<') {
        check_text(&rest[..open])?;
        if stack.is_empty() && !rest[..open].trim().is_empty() {
            return Err("text outside the root element".to_string());
        }
        rest = &rest[open..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            let end = comment.find("-->").ok_or("unclosed comment")?;
            rest = &comment[end + 3..];
            continue;
        }
        if let Some(closing) = rest.strip_prefix("</") {
            let end = closing.find('>').ok_or("unclosed end tag")?;
            let name = closing[..end].trim();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            rest = &closing[end + 1..];
            continue;
        }
        let (name, self_closing, after) = start_tag(&rest[1..])?;
        elements += 1;
        if stack.is_empty() {
            roots += 1;
        }
        if !self_closing {
            stack.push(name);
        }
        rest = after;
    }
    check_text(rest)?;
    if !stack.is_empty() {
        return Err(format!("unclosed elements: {stack:?}"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(elements)
}

/// Parses `name attr="v" ... >` or `... />`; returns the name, whether it
/// closed itself, and the text after it.
fn start_tag(text: &str) -> Result<(String, bool, &str), String> {
    let name_end = text
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .ok_or("unterminated start tag")?;
    let name = text[..name_end].to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_:.".contains(c))
    {
        return Err(format!("bad element name {name:?}"));
    }
    let mut rest = &text[name_end..];
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("/>") {
            return Ok((name, true, after));
        }
        if let Some(after) = rest.strip_prefix('>') {
            return Ok((name, false, after));
        }
        let eq = rest
            .find('=')
            .ok_or(format!("attribute without value in <{name}>"))?;
        let attr = rest[..eq].trim();
        if attr.is_empty() || attr.contains(char::is_whitespace) {
            return Err(format!("bad attribute name {attr:?} in <{name}>"));
        }
        let value = rest[eq + 1..].trim_start();
        let quote = value.chars().next().ok_or("attribute cut off")?;
        if quote != '"' && quote != '\'' {
            return Err(format!("unquoted attribute {attr} in <{name}>"));
        }
        let end = value[1..]
            .find(quote)
            .ok_or(format!("unclosed attribute {attr}"))?;
        let content = &value[1..1 + end];
        if content.contains('<') {
            return Err(format!("'<' inside attribute {attr} of <{name}>"));
        }
        check_text(content)?;
        rest = &value[end + 2..];
    }
}

/// Every `&` starts an entity.
fn check_text(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        let tail = &rest[amp + 1..];
        let end = tail.find(';').ok_or("'&' without ';'")?;
        let entity = &tail[..end];
        let known = matches!(entity, "amp" | "lt" | "gt" | "quot" | "apos")
            || entity.strip_prefix('#').is_some_and(|n| {
                n.strip_prefix('x')
                    .map_or(n.chars().all(|c| c.is_ascii_digit()), |h| {
                        h.chars().all(|c| c.is_ascii_hexdigit())
                    })
            });
        if !known || entity.is_empty() {
            return Err(format!("bad entity &{entity};"));
        }
        rest = &tail[end + 1..];
    }
    Ok(())
}

/// The checker itself accepts well-formed SVG and rejects broken XML.
#[test]
fn the_checker_rejects_what_it_should() {
    assert!(check("<svg a=\"1\"><g><text>x &amp; y</text></g></svg>").is_ok());
    assert!(check("<svg><g></svg>").is_err());
    assert!(check("<svg><text>a & b</text></svg>").is_err());
    assert!(check("<svg a=1></svg>").is_err());
    assert!(check("<svg></svg><svg></svg>").is_err());
    assert!(check("<html></html>").is_err());
}
