//! Every query result as a table of text cells, so each one exports as CSV
//! with the same columns the JSON has.

pub trait Table {
    fn columns(&self) -> Vec<&'static str>;
    fn rows(&self) -> Vec<Vec<String>>;
}

/// A missing value as an empty cell.
pub fn cell<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_default()
}
