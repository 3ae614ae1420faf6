//! Every query answer as JSON, or as CSV with `?format=csv` (a download
//! named after the query). Policy: a cell that a spreadsheet would run as a
//! formula (starting `=`, `+`, `-`, `@`, tab or CR) is prefixed with `'`,
//! because tracked pages control the text in these cells.

use axum::Json;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::ApiError;
use crate::query::table::Table;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl Format {
    pub fn parse(value: Option<&str>) -> Result<Format, ApiError> {
        match value {
            None | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some(other) => Err(ApiError::BadRequest(format!("`format` is json or csv, got {other:?}"))),
        }
    }
}

/// Renders `body` in `format`; `name` names the CSV file.
pub fn reply<T: Serialize + Table>(format: Format, name: &str, body: T) -> Result<Response, ApiError> {
    match format {
        Format::Json => Ok(Json(body).into_response()),
        Format::Csv => {
            let csv = to_csv(&body).map_err(|e| ApiError::Export(e.to_string()))?;
            Ok((
                [
                    (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (CONTENT_DISPOSITION, format!("attachment; filename=\"waymark-{name}.csv\"")),
                ],
                csv,
            )
                .into_response())
        }
    }
}

pub fn to_csv(table: &impl Table) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(table.columns())?;
    for row in table.rows() {
        writer.write_record(row.iter().map(|cell| defuse(cell).into_owned()))?;
    }
    writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err() {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Names(Vec<&'static str>);
    impl Table for Names {
        fn columns(&self) -> Vec<&'static str> {
            vec!["name", "n"]
        }
        fn rows(&self) -> Vec<Vec<String>> {
            self.0.iter().map(|n| vec![n.to_string(), "-1".into()]).collect()
        }
    }

    #[test]
    fn a_formula_from_a_tracked_page_is_exported_as_text_and_quotes_are_escaped() {
        let csv = String::from_utf8(to_csv(&Names(vec!["=HYPERLINK(\"x\")", "plain, with comma"])).unwrap()).unwrap();
        assert_eq!(csv, "name,n\n\"'=HYPERLINK(\"\"x\"\")\",-1\n\"plain, with comma\",-1\n");
    }
}
