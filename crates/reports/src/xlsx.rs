//! One titled table per workbook, streamed row by row (constant memory, so a district's
//! 200,000 hazards fit), with widths fitted to Chinese text, a frozen header and filters.

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, XlsxError};
use unicode_width::UnicodeWidthStr;

/// A cell value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Date(chrono::NaiveDate),
    Int(i64),
    Empty,
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

impl From<Option<chrono::NaiveDate>> for Cell {
    fn from(d: Option<chrono::NaiveDate>) -> Self {
        d.map_or(Cell::Empty, Cell::Date)
    }
}

/// What the sheet is called and says above the table.
pub struct Table {
    /// Sheet name (at most 31 characters; Excel's limit).
    pub sheet: String,
    /// The first row, merged across the table.
    pub title: String,
    /// The second row: who, which scope, when.
    pub subtitle: String,
    pub headers: Vec<String>,
    /// Lines below the table for signatures and the unit's stamp (填表人、負責人簽字、蓋章);
    /// none when empty.
    pub signature: Vec<String>,
}

/// Rows whose widths are measured before the stream starts.
const MEASURED_ROWS: usize = 2000;

fn width(cell: &Cell) -> usize {
    match cell {
        // East Asian wide characters count double.
        Cell::Text(s) => s.lines().map(UnicodeWidthStr::width).max().unwrap_or(0),
        Cell::Date(_) => 10,
        Cell::Int(n) => n.to_string().len(),
        Cell::Empty => 0,
    }
}

/// Writes `table` with `rows` into an xlsx file in memory.
pub fn write_table(
    table: &Table,
    rows: impl IntoIterator<Item = Vec<Cell>>,
) -> Result<Vec<u8>, XlsxError> {
    let mut rows = rows.into_iter();
    let head: Vec<Vec<Cell>> = rows.by_ref().take(MEASURED_ROWS).collect();
    let cols = table.headers.len();
    let mut widths: Vec<usize> = table.headers.iter().map(|h| h.width() + 2).collect();
    for r in &head {
        for (i, c) in r.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(width(c) + 2);
        }
    }

    let mut wb = Workbook::new();
    let ws = wb.add_worksheet_with_constant_memory()?;
    let sheet: String = table
        .sheet
        .chars()
        .filter(|c| !"[]:*?/\\".contains(*c))
        .take(31)
        .collect();
    ws.set_name(if sheet.is_empty() {
        "Sheet1".to_string()
    } else {
        sheet
    })?;
    let font = "Microsoft JhengHei";
    let title = Format::new()
        .set_bold()
        .set_font_size(14)
        .set_font_name(font)
        .set_align(FormatAlign::Center);
    let subtitle = Format::new().set_font_name(font).set_font_color("595959");
    let header = Format::new()
        .set_bold()
        .set_font_name(font)
        .set_background_color("DDEBF7")
        .set_border(FormatBorder::Thin)
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter);
    // The body's look is set once per column (font, wrapping, dates): a cell written without
    // a format takes its column's, which costs nothing per cell, where a format on every
    // cell is looked up again for each. Printed gridlines draw the table's lines, since a
    // bordered column would draw them down the whole sheet.
    let text = Format::new()
        .set_font_name(font)
        .set_text_wrap()
        .set_align(FormatAlign::Top);
    let date = text.clone().set_num_format("yyyy-mm-dd");
    // A column is of dates when its first value among the measured rows is one.
    let dated: Vec<bool> = (0..cols)
        .map(|i| {
            head.iter()
                .filter_map(|r| r.get(i))
                .find(|c| **c != Cell::Empty)
                .is_some_and(|c| matches!(c, Cell::Date(_)))
        })
        .collect();
    for (i, w) in widths.iter().enumerate() {
        let col = i as u16;
        ws.set_column_width(col, (*w).clamp(6, 60) as f64)?;
        ws.set_column_format(col, if dated[i] { &date } else { &text })?;
    }
    ws.set_print_gridlines(true);
    let last_col = cols.saturating_sub(1) as u16;
    if cols > 1 {
        ws.merge_range(0, 0, 0, last_col, &table.title, &title)?;
        ws.merge_range(1, 0, 1, last_col, &table.subtitle, &subtitle)?;
    } else {
        ws.write_string_with_format(0, 0, &table.title, &title)?;
        ws.write_string_with_format(1, 0, &table.subtitle, &subtitle)?;
    }
    for (i, h) in table.headers.iter().enumerate() {
        ws.write_string_with_format(2, i as u16, h, &header)?;
    }
    ws.set_freeze_panes(3, 0)?;
    // Printed on A4 landscape, one page wide however many pages long, the header row on
    // every page, the page number at the foot.
    ws.set_landscape();
    ws.set_paper_size(9);
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(2, 2)?;
    ws.set_margins(0.4, 0.4, 0.6, 0.6, 0.3, 0.3);
    ws.set_footer("&C&P / &N");
    let mut row = 3u32;
    for r in head.into_iter().chain(rows) {
        for (i, c) in r.into_iter().enumerate().take(cols) {
            let col = i as u16;
            match c {
                Cell::Text(s) => ws.write_string(row, col, s.as_str())?,
                Cell::Date(d) if dated[i] => ws.write_datetime(row, col, d)?,
                Cell::Date(d) => ws.write_date_with_format(row, col, d, &date)?,
                Cell::Int(n) => ws.write_number(row, col, n as f64)?,
                Cell::Empty => ws,
            };
        }
        row += 1;
    }
    ws.autofilter(2, 0, row.saturating_sub(1).max(2), last_col)?;
    let plain = Format::new().set_font_name(font);
    for (i, line) in table.signature.iter().enumerate() {
        let at = row + 1 + i as u32 * 2;
        if cols > 1 {
            ws.merge_range(at, 0, at, last_col, line, &plain)?;
        } else {
            ws.write_string_with_format(at, 0, line, &plain)?;
        }
    }
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{Data, Reader, Xlsx};

    #[test]
    fn chinese_text_and_dates_survive_a_round_trip() {
        let table = Table {
            sheet: "問題隱患清單".into(),
            title: "城關鎮中心小學 問題隱患清單".into(),
            subtitle: "匯出：2026-11-29".into(),
            headers: vec![
                "學校".into(),
                "編號".into(),
                "發現日期".into(),
                "人數".into(),
            ],
            signature: vec!["填表人：＿＿＿＿　單位負責人（簽字）：＿＿＿＿　（單位蓋章）".into()],
        };
        let rows = vec![
            vec![
                Cell::from("城關鎮中心小學"),
                Cell::from("S001-2026-0001"),
                Cell::Date("2026-11-20".parse().unwrap()),
                Cell::Int(3),
            ],
            vec![
                Cell::from("河口中學"),
                Cell::from("S002-2026-0001"),
                Cell::Empty,
                Cell::Int(0),
            ],
        ];
        let bytes = write_table(&table, rows).unwrap();
        let mut book: Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(book.sheet_names(), ["問題隱患清單"]);
        let range = book.worksheet_range("問題隱患清單").unwrap();
        assert_eq!(
            range.get_value((0, 0)),
            Some(&Data::String("城關鎮中心小學 問題隱患清單".into()))
        );
        assert_eq!(
            range.get_value((2, 2)),
            Some(&Data::String("發現日期".into()))
        );
        assert_eq!(
            range.get_value((3, 0)),
            Some(&Data::String("城關鎮中心小學".into()))
        );
        assert!(matches!(range.get_value((3, 2)), Some(Data::DateTime(_))));
        assert_eq!(
            range.get_value((4, 1)),
            Some(&Data::String("S002-2026-0001".into()))
        );
        // The signature block sits one row below the table.
        assert!(matches!(
            range.get_value((6, 0)),
            Some(Data::String(s)) if s.starts_with("填表人")
        ));
    }

    #[test]
    fn the_sheet_prints_landscape_on_a4_one_page_wide_with_the_header_on_every_page() {
        use std::io::Read;
        let table = Table {
            sheet: "清單".into(),
            title: "t".into(),
            subtitle: "s".into(),
            headers: vec!["a".into(), "b".into()],
            signature: vec![],
        };
        let rows = (0..100).map(|i| vec![Cell::Int(i), Cell::from("x")]);
        let bytes = write_table(&table, rows).unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut sheet = String::new();
        zip.by_name("xl/worksheets/sheet1.xml")
            .unwrap()
            .read_to_string(&mut sheet)
            .unwrap();
        assert!(sheet.contains(r#"orientation="landscape""#), "{sheet}");
        assert!(sheet.contains(r#"paperSize="9""#), "{sheet}");
        assert!(sheet.contains(r#"fitToHeight="0""#), "{sheet}");
        assert!(sheet.contains(r#"<pageSetUpPr fitToPage="1"/>"#), "{sheet}");
        // The table's lines are printed.
        assert!(sheet.contains(r#"gridLines="1""#), "{sheet}");
        let mut book = String::new();
        zip.by_name("xl/workbook.xml")
            .unwrap()
            .read_to_string(&mut book)
            .unwrap();
        assert!(book.contains("_xlnm.Print_Titles"), "{book}");
        assert!(book.contains("$3:$3"), "{book}");
    }

    #[test]
    fn wide_characters_count_double() {
        assert_eq!(width(&Cell::from("一樓消防栓")), 10);
        assert_eq!(width(&Cell::from("abc")), 3);
    }
}
