//! Loading a CSV data set into typed columns: numbers (for numeric model inputs) and
//! categorical text (interned: one code per row and the distinct values). Only the columns an
//! audit uses are kept. Reads from any reader; errors name the file, the line and the column.

use super::suite::Col;
use std::collections::HashMap;
use std::io::Read;

/// What a column is read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Number,
    Text,
}

/// A column the audit needs, and where the suite names it (for "no such column" errors).
#[derive(Clone, Debug)]
pub struct Need {
    pub col: Col,
    pub kind: Kind,
    /// What the column is for, e.g. "model input 'age'" (for messages).
    pub role: String,
}

#[derive(Clone, Debug)]
pub enum Column {
    Number(Vec<f64>),
    Text {
        codes: Vec<u32>,
        levels: Vec<String>,
    },
}

impl Column {
    pub fn text(&self) -> Option<(&[u32], &[String])> {
        match self {
            Column::Text { codes, levels } => Some((codes, levels)),
            Column::Number(_) => None,
        }
    }
}

pub struct Table {
    pub file: String,
    pub rows: usize,
    pub header: Vec<String>,
    columns: HashMap<(String, bool), Column>,
}

impl Table {
    /// A table built in memory (e.g. from decision records' inputs): `(name, column)` pairs,
    /// every column `rows` long.
    pub fn from_columns(file: &str, rows: usize, columns: Vec<(String, Column)>) -> Table {
        let header = columns.iter().map(|(n, _)| n.clone()).collect();
        let columns = columns
            .into_iter()
            .map(|(n, c)| {
                let text = matches!(c, Column::Text { .. });
                ((n, text), c)
            })
            .collect();
        Table {
            file: file.to_owned(),
            rows,
            header,
            columns,
        }
    }

    pub fn number(&self, name: &str) -> &[f64] {
        match &self.columns[&(name.to_owned(), false)] {
            Column::Number(v) => v,
            Column::Text { .. } => unreachable!("loaded as a number"),
        }
    }

    pub fn text(&self, name: &str) -> (&[u32], &[String]) {
        self.columns[&(name.to_owned(), true)]
            .text()
            .expect("loaded as text")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DataError(pub String);

/// Reads a CSV with a header row, keeping the `needs` columns. `missing` lists the cell values
/// that count as missing (an error in any needed column).
pub fn load(
    reader: impl Read,
    file: &str,
    needs: &[Need],
    missing: &[String],
    delimiter: u8,
) -> Result<Table, DataError> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .buffer_capacity(1 << 20)
        .from_reader(reader);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| DataError(format!("{file}: cannot read the header row: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    if header.is_empty() || header.iter().all(|h| h.is_empty()) {
        return Err(DataError(format!(
            "{file}: the file is empty or has no header row"
        )));
    }

    struct Slot {
        field: usize,
        name: String,
        role: String,
        kind: Kind,
        numbers: Vec<f64>,
        codes: Vec<u32>,
        levels: Vec<String>,
        index: HashMap<Vec<u8>, u32>,
    }
    let mut slots: Vec<Slot> = Vec::new();
    for need in needs {
        let field = header.iter().position(|h| *h == need.col.name).ok_or_else(|| {
            let similar: Vec<&str> = header
                .iter()
                .filter(|h| h.eq_ignore_ascii_case(&need.col.name) || h.replace(['-', '_'], "") == need.col.name.replace(['-', '_'], ""))
                .map(String::as_str)
                .collect();
            DataError(format!(
                "{}: unknown column {:?} (for {}): {file} has no such column{}; its columns are: {}",
                need.col.at,
                need.col.name,
                need.role,
                if similar.is_empty() { String::new() } else { format!(" (did you mean {}?)", similar.join(", ")) },
                header.join(", ")
            ))
        })?;
        if slots
            .iter()
            .any(|s| s.field == field && s.kind == need.kind)
        {
            continue;
        }
        slots.push(Slot {
            field,
            name: need.col.name.clone(),
            role: need.role.clone(),
            kind: need.kind,
            numbers: Vec::new(),
            codes: Vec::new(),
            levels: Vec::new(),
            index: HashMap::new(),
        });
    }

    let missing: Vec<&[u8]> = missing.iter().map(|m| m.as_bytes()).collect();
    let mut record = csv::ByteRecord::new();
    let mut rows = 0usize;
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(DataError(match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!(
                        "{file} line {line}: {len} fields, but the header has {expected_len}"
                    ),
                    csv::ErrorKind::Utf8 { .. } => format!("{file} line {line}: not UTF-8 text"),
                    _ => format!("{file} line {line}: {e}"),
                }));
            }
        }
        let line = record.position().map_or(rows as u64 + 2, |p| p.line());
        for s in slots.iter_mut() {
            let raw = record.get(s.field).unwrap_or_default();
            let v = trim(raw);
            if missing.contains(&v) {
                return Err(DataError(format!(
                    "{file} line {line}, column {:?} (field {}): missing value {:?}; {} needs a value in every row: drop or impute missing values first (data.missing lists what counts as missing)",
                    s.name,
                    s.field + 1,
                    String::from_utf8_lossy(raw),
                    s.role
                )));
            }
            match s.kind {
                Kind::Number => {
                    let parsed = std::str::from_utf8(v)
                        .ok()
                        .and_then(|t| t.parse::<f64>().ok())
                        .filter(|x| x.is_finite());
                    match parsed {
                        Some(x) => s.numbers.push(x),
                        None => {
                            return Err(DataError(format!(
                                "{file} line {line}, column {:?} (field {}): {:?} is not a number, but {} is numeric",
                                s.name,
                                s.field + 1,
                                String::from_utf8_lossy(raw),
                                s.role
                            )))
                        }
                    }
                }
                Kind::Text => {
                    let code = match s.index.get(v) {
                        Some(&c) => c,
                        None => {
                            let text = std::str::from_utf8(v).map_err(|_| {
                                DataError(format!(
                                    "{file} line {line}, column {:?}: not UTF-8 text",
                                    s.name
                                ))
                            })?;
                            let c = s.levels.len() as u32;
                            s.levels.push(text.to_owned());
                            s.index.insert(v.to_vec(), c);
                            c
                        }
                    };
                    s.codes.push(code);
                }
            }
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(DataError(format!("{file}: no data rows after the header")));
    }
    let columns = slots
        .into_iter()
        .map(|s| {
            let key = (s.name, s.kind == Kind::Text);
            let col = match s.kind {
                Kind::Number => Column::Number(s.numbers),
                Kind::Text => Column::Text {
                    codes: s.codes,
                    levels: s.levels,
                },
            };
            (key, col)
        })
        .collect();
    Ok(Table {
        file: file.to_owned(),
        rows,
        header,
        columns,
    })
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}
