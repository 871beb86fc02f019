//! Markdown building blocks: tables, headings, code blocks.
//!
//! Reports are read in two ways — rendered (GitHub, a markdown viewer) and raw
//! (`less reports/payments-outage.md`, a diff in review). Tables are therefore
//! padded so their columns line up in the raw text too, and numbers are
//! right-aligned in both. Only plain CommonMark plus GitHub's pipe tables is
//! used: no HTML, no diagrams that need a renderer's extension.

use std::fmt::Write as _;

/// How a column's cells line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A pipe table built row by row.
#[derive(Debug)]
pub struct Table {
    header: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns. The first column is usually a name
    /// (left-aligned), the rest figures (right-aligned).
    pub fn new(columns: &[(&str, Align)]) -> Table {
        Table {
            header: columns.iter().map(|(name, _)| cell(name)).collect(),
            align: columns.iter().map(|&(_, align)| align).collect(),
            rows: Vec::new(),
        }
    }

    /// A table of text columns (names, left-aligned) followed by figure
    /// columns (right-aligned, so digits line up).
    pub fn figures(text: &[&str], figures: &[&str]) -> Table {
        let columns: Vec<(&str, Align)> = text
            .iter()
            .map(|name| (*name, Align::Left))
            .chain(figures.iter().map(|name| (*name, Align::Right)))
            .collect();
        Table::new(&columns)
    }

    /// Adds a row; missing cells are left empty, extra cells are an error of
    /// the caller and are dropped (a debug assertion catches them in tests).
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) {
        debug_assert!(cells.len() <= self.header.len(), "more cells than columns");
        let mut row: Vec<String> = cells.iter().map(|c| cell(c.as_ref())).collect();
        row.resize(self.header.len(), String::new());
        row.truncate(self.header.len());
        self.rows.push(row);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as markdown, ending with a newline.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|col| {
                std::iter::once(&self.header[col])
                    .chain(self.rows.iter().map(|row| &row[col]))
                    .map(|text| text.chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(3)
            })
            .collect();
        let mut out = String::new();
        self.line(&mut out, &self.header, &widths);
        out.push('|');
        for (width, align) in widths.iter().zip(&self.align) {
            let dashes = "-".repeat(width.saturating_sub(1));
            match align {
                Align::Left => write!(out, " {dashes}- |").ok(),
                Align::Right => write!(out, " {dashes}: |").ok(),
            };
        }
        out.push('\n');
        for row in &self.rows {
            self.line(&mut out, row, &widths);
        }
        out
    }

    fn line(&self, out: &mut String, cells: &[String], widths: &[usize]) {
        out.push('|');
        for ((text, width), align) in cells.iter().zip(widths).zip(&self.align) {
            let pad = " ".repeat(width - text.chars().count());
            match align {
                Align::Left => write!(out, " {text}{pad} |").ok(),
                Align::Right => write!(out, " {pad}{text} |").ok(),
            };
        }
        out.push('\n');
    }
}

/// A cell's text: a pipe would end the cell and a newline the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// `## Title` followed by a blank line.
/// Exactly one blank line separates it from what came before.
pub fn heading(out: &mut String, level: usize, title: &str) {
    while out.ends_with('\n') {
        out.pop();
    }
    let _ = write!(out, "\n\n{} {title}\n\n", "#".repeat(level));
}

/// Collapses runs of blank lines to one and ends the text with one newline:
/// sections are built apart and joined, and each brings its own spacing.
pub fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut newlines = 0;
    for c in text.trim().chars() {
        if c == '\n' {
            newlines += 1;
            if newlines > 2 {
                continue;
            }
        } else {
            newlines = 0;
        }
        out.push(c);
    }
    out.push('\n');
    out
}

/// A fenced code block.
pub fn code_block(out: &mut String, language: &str, body: &str) {
    let _ = write!(out, "```{language}\n{}\n```\n", body.trim_end());
}

/// A bullet list, one item per line.
pub fn bullets(out: &mut String, items: &[String]) {
    for item in items {
        let _ = writeln!(out, "- {item}");
    }
}

/// A numbered list, `1.` onwards: notes that tables refer to by number.
pub fn numbered(out: &mut String, items: &[String]) {
    for (i, item) in items.iter().enumerate() {
        let _ = writeln!(out, "{}. {item}", i + 1);
    }
}

/// `` `text` `` for names a reader might type: variants, files, commands.
pub fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns are padded and aligned, and a pipe in a cell is escaped.
    #[test]
    fn tables_line_up_and_escape_pipes() {
        let mut table = Table::figures(&["variant"], &["bonus"]);
        table.row(&["a|b", "1"]);
        table.row(&["async", "100 %"]);
        let text = table.render();
        assert_eq!(
            text,
            "| variant | bonus |\n| ------- | ----: |\n| a\\|b    |     1 |\n| async   | 100 % |\n"
        );
    }
}
