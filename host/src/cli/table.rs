//! Plain-text tables for people: left-aligned columns sized to their
//! widest cell, long cells cut with an ellipsis so a row stays one line.

/// The widest a cell may be before it is cut.
const MAX_CELL_CHARS: usize = 60;

/// Columns and rows, rendered once everything is known.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Add a row; missing cells are blank, extra cells are dropped.
    pub fn row(&mut self, cells: impl IntoIterator<Item = String>) {
        let mut cells: Vec<String> = cells
            .into_iter()
            .take(self.headers.len())
            .map(|cell| one_line(&cell))
            .collect();
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    /// The table as text, one line per row, or `empty` when it has none.
    pub fn render(&self, empty: &str) -> String {
        if self.rows.is_empty() {
            return format!("{empty}\n");
        }
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        out
    }
}

/// A cell on one line, cut to [`MAX_CELL_CHARS`].
fn one_line(cell: &str) -> String {
    let flat: String = cell
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= MAX_CELL_CHARS {
        return flat;
    }
    let mut cut: String = flat.chars().take(MAX_CELL_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_to_the_widest_cell() {
        let mut table = Table::new(&["NAME", "MODEL"]);
        table.row(["my-crm".to_string(), "script".to_string()]);
        table.row(["a".to_string(), "built_in".to_string()]);
        assert_eq!(
            table.render("none"),
            "NAME    MODEL\nmy-crm  script\na       built_in\n"
        );
    }

    #[test]
    fn long_or_multi_line_cells_stay_on_one_line() {
        let mut table = Table::new(&["X"]);
        table.row(["line one\nline two".to_string()]);
        table.row(["y".repeat(100)]);
        let text = table.render("none");
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.contains("line one line two"));
        assert!(text.lines().all(|l| l.chars().count() <= MAX_CELL_CHARS));
        assert!(text.contains('…'));
    }

    #[test]
    fn an_empty_table_says_so() {
        assert_eq!(
            Table::new(&["X"]).render("no connectors"),
            "no connectors\n"
        );
    }

    #[test]
    fn short_rows_are_padded_and_long_rows_cut() {
        let mut table = Table::new(&["A", "B"]);
        table.row(["1".to_string()]);
        table.row(["1".to_string(), "2".to_string(), "3".to_string()]);
        assert_eq!(table.render(""), "A  B\n1\n1  2\n");
    }
}
