//! Supervision letters (督辦文書) as Word documents, laid out like official documents (公文):
//! the issuer's masthead and the letter's number above a red rule, the title, the salutation,
//! the body in 三號 with a two-character indent, an optional two-column table, the deadline,
//! and the seal area with the date on the right. The caller passes translated, filled-in text;
//! [`fill`] and [`check`] fill the editable templates that text comes from.

use docx_rs::{
    AlignmentType, BorderType, BreakType, Docx, Footer, LineSpacing, LineSpacingType, PageMargin,
    Paragraph, ParagraphBorder, ParagraphBorderPosition, Run, RunFonts, SpecialIndentType, Table,
    TableCell, TableRow, VAlignType, WidthType,
};

/// The letter's content, already translated and filled in by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Letter {
    /// Who issues the letter, the masthead (e.g. "示範區教育局").
    pub issuer: String,
    /// e.g. "安全隱患整改預警通知書".
    pub title: String,
    /// The letter's number (e.g. "示教安督〔2026〕12號").
    pub number: String,
    /// The salutation line (e.g. "第一實驗小學：").
    pub recipient: String,
    /// The body, one string per paragraph; each line of a string is a paragraph of its own,
    /// blank lines are dropped.
    pub paragraphs: Vec<String>,
    /// Rows of a two-column table under the body (e.g. ("隱患編號", "HZ-2026-000123"));
    /// no table when empty.
    pub items: Vec<(String, String)>,
    /// e.g. "請於2026年12月10日前書面回覆整改情況。"
    pub deadline_line: Option<String>,
    /// Shown in the seal area on the right (e.g. "（蓋章）").
    pub seal_label: String,
    /// e.g. "2026年12月3日".
    pub date_line: String,
    /// Small text at the foot of every page (e.g. "校安 · 督辦 SV-2026-0012").
    pub footer: String,
}

/// Writing the letter failed.
#[derive(Debug, thiserror::Error)]
pub enum DocxError {
    /// The document could not be packed into a .docx archive.
    #[error("the letter could not be packed as .docx")]
    Pack(#[source] docx_rs::DocxError),
}

impl DocxError {
    /// A stable code for logs and messages.
    pub fn code(&self) -> &'static str {
        match self {
            DocxError::Pack(_) => "docx_pack_failed",
        }
    }
}

/// Twips (1/20 pt) per centimetre.
const TWIPS_PER_CM: f64 = 566.929;
/// A4 portrait, in twips.
const PAGE_WIDTH: u32 = 11906;
const PAGE_HEIGHT: u32 = 16838;
/// Margins of official documents, in centimetres.
const MARGIN_TOP: f64 = 3.7;
const MARGIN_BOTTOM: f64 = 3.5;
const MARGIN_LEFT: f64 = 2.8;
const MARGIN_RIGHT: f64 = 2.6;

fn cm(v: f64) -> i32 {
    // Page measures are a few thousand twips: the rounding cast cannot overflow.
    (v * TWIPS_PER_CM).round() as i32
}

/// Sizes in half-points: 二號 22 pt, 三號 16 pt, 四號 14 pt, 小五 9 pt.
const SIZE_MASTHEAD: usize = 44;
const SIZE_TITLE: usize = 44;
const SIZE_BODY: usize = 32;
const SIZE_TABLE: usize = 28;
const SIZE_FOOTER: usize = 18;
/// The body's fixed line pitch (28 pt), in twips.
const BODY_LINE: i32 = 560;
/// Room above the seal area for the stamp: two body lines, in twips.
const SEAL_SPACE: u32 = 1120;
/// Two characters of 三號 (2 × 16 pt), in twips.
const BODY_INDENT: i32 = 640;
/// The masthead and its rule are red, as on official documents.
const RED: &str = "FF0000";

const ASCII_FONT: &str = "Times New Roman";

fn fonts(east_asia: &str) -> RunFonts {
    RunFonts::new()
        .east_asia(east_asia)
        .ascii(ASCII_FONT)
        .hi_ansi(ASCII_FONT)
        .cs(ASCII_FONT)
}

fn body_fonts() -> RunFonts {
    fonts("FangSong")
}

fn heading_fonts() -> RunFonts {
    fonts("SimHei")
}

/// Drops characters XML 1.0 cannot carry (control characters other than tab and newline,
/// carriage returns, noncharacters), so any caller text yields a document Word opens.
fn clean(text: &str) -> String {
    text.chars()
        .filter(|&c| match c {
            '\t' | '\n' => true,
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => false,
            _ => true,
        })
        .collect()
}

/// Adds `text` to `paragraph` as runs made by `run`, a newline becoming a line break and a tab
/// a tab stop.
fn add_text(mut paragraph: Paragraph, text: &str, run: &impl Fn() -> Run) -> Paragraph {
    let text = clean(text);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            paragraph = paragraph.add_run(run().add_break(BreakType::TextWrapping));
        }
        for (j, piece) in line.split('\t').enumerate() {
            if j > 0 {
                paragraph = paragraph.add_run(run().add_tab());
            }
            if !piece.is_empty() {
                paragraph = paragraph.add_run(run().add_text(piece));
            }
        }
    }
    paragraph
}

fn body_run() -> Run {
    Run::new().size(SIZE_BODY).fonts(body_fonts())
}

fn body_spacing() -> LineSpacing {
    LineSpacing::new()
        .line_rule(LineSpacingType::Exact)
        .line(BODY_LINE)
        .before(0)
        .after(0)
}

/// A body paragraph: 三號, fixed pitch, indented by two characters unless `flush`.
fn body_paragraph(text: &str, flush: bool) -> Paragraph {
    let p = Paragraph::new()
        .align(AlignmentType::Both)
        .line_spacing(body_spacing());
    let p = if flush {
        p
    } else {
        p.indent(
            None,
            Some(SpecialIndentType::FirstLine(BODY_INDENT)),
            None,
            None,
        )
    };
    add_text(p, text, &body_run)
}

fn masthead(issuer: &str) -> Paragraph {
    let p = Paragraph::new()
        .align(AlignmentType::Center)
        .line_spacing(LineSpacing::new().before(0).after(120));
    add_text(p, issuer, &|| {
        Run::new()
            .size(SIZE_MASTHEAD)
            .bold()
            .color(RED)
            .fonts(heading_fonts())
    })
}

fn number_line(number: &str) -> Paragraph {
    let p = Paragraph::new()
        .align(AlignmentType::Center)
        .line_spacing(LineSpacing::new().before(120).after(0));
    add_text(p, number, &body_run)
}

/// The red rule under the number: an empty paragraph with a bottom border.
fn rule() -> Paragraph {
    let mut p = Paragraph::new()
        .line_spacing(LineSpacing::new().before(0).after(0))
        .size(8);
    p.property = p.property.set_border(
        ParagraphBorder::new(ParagraphBorderPosition::Bottom)
            .val(BorderType::Single)
            // Eighths of a point: a 1.5 pt rule.
            .size(12)
            .space(1)
            .color(RED),
    );
    p
}

fn title(text: &str) -> Paragraph {
    let p = Paragraph::new()
        .align(AlignmentType::Center)
        .line_spacing(LineSpacing::new().before(480).after(480));
    add_text(p, text, &|| {
        Run::new().size(SIZE_TITLE).bold().fonts(heading_fonts())
    })
}

fn items_table(items: &[(String, String)]) -> Table {
    // The text block's width, split 3 : 7.
    let text_width =
        usize::try_from(i64::from(PAGE_WIDTH) - i64::from(cm(MARGIN_LEFT) + cm(MARGIN_RIGHT)))
            .unwrap_or(0);
    let key_width = text_width * 3 / 10;
    let value_width = text_width - key_width;
    let cell = |text: &str, width: usize, bold: bool| {
        let p = Paragraph::new().line_spacing(LineSpacing::new().before(40).after(40));
        let p = add_text(p, text, &|| {
            let r = Run::new().size(SIZE_TABLE).fonts(body_fonts());
            if bold { r.bold() } else { r }
        });
        TableCell::new()
            .width(width, WidthType::Dxa)
            .vertical_align(VAlignType::Center)
            .add_paragraph(p)
    };
    let rows = items
        .iter()
        .map(|(k, v)| {
            TableRow::new(vec![cell(k, key_width, true), cell(v, value_width, false)]).cant_split()
        })
        .collect();
    Table::new(rows)
        .set_grid(vec![key_width, value_width])
        .width(text_width, WidthType::Dxa)
}

/// The seal area: issuer, seal label and date on the right, with room above for the stamp.
fn seal(letter: &Letter) -> Paragraph {
    let mut p = Paragraph::new()
        .align(AlignmentType::Right)
        // Four characters in from the right margin, as the date sits on official documents.
        .indent(None, None, Some(2 * BODY_INDENT), None)
        .line_spacing(
            LineSpacing::new()
                .line_rule(LineSpacingType::Exact)
                .line(BODY_LINE)
                .before(SEAL_SPACE)
                .after(0),
        )
        .keep_lines(true);
    let lines = [&letter.issuer, &letter.seal_label, &letter.date_line];
    let mut first = true;
    for line in lines.into_iter().filter(|l| !l.trim().is_empty()) {
        if !first {
            p = p.add_run(body_run().add_break(BreakType::TextWrapping));
        }
        first = false;
        p = add_text(p, line, &body_run);
    }
    p
}

fn footer(text: &str) -> Footer {
    let p = Paragraph::new().align(AlignmentType::Center);
    Footer::new().add_paragraph(add_text(p, text, &|| {
        Run::new().size(SIZE_FOOTER).fonts(fonts("SimSun"))
    }))
}

/// Writes `letter` as a .docx file in memory: A4 portrait with the official documents'
/// margins (3.7 cm top, 3.5 bottom, 2.8 left, 2.6 right).
pub fn letter_docx(letter: &Letter) -> Result<Vec<u8>, DocxError> {
    let mut doc = Docx::new()
        .page_size(PAGE_WIDTH, PAGE_HEIGHT)
        .page_margin(
            PageMargin::new()
                .top(cm(MARGIN_TOP))
                .bottom(cm(MARGIN_BOTTOM))
                .left(cm(MARGIN_LEFT))
                .right(cm(MARGIN_RIGHT))
                .header(cm(1.5))
                .footer(cm(2.0))
                .gutter(0),
        )
        .default_fonts(body_fonts())
        .default_size(SIZE_BODY)
        .add_paragraph(masthead(&letter.issuer));
    if !letter.number.trim().is_empty() {
        doc = doc.add_paragraph(number_line(&letter.number));
    }
    doc = doc
        .add_paragraph(rule())
        .add_paragraph(title(&letter.title))
        .add_paragraph(body_paragraph(&letter.recipient, true));
    let mut body: Vec<Paragraph> = letter
        .paragraphs
        .iter()
        .flat_map(|p| p.lines())
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| body_paragraph(line, false))
        .collect();
    let deadline = letter
        .deadline_line
        .as_deref()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| body_paragraph(line, false));
    let spacer = || {
        Paragraph::new()
            .line_spacing(body_spacing())
            .size(SIZE_BODY)
    };
    // The seal area never stands alone on a page: the paragraph before it keeps with it.
    let mut tail = deadline;
    if letter.items.is_empty() && tail.is_none() {
        tail = body.pop();
    }
    for p in body {
        doc = doc.add_paragraph(p);
    }
    if !letter.items.is_empty() {
        doc = doc
            .add_paragraph(spacer())
            .add_table(items_table(&letter.items));
        match tail {
            Some(_) => doc = doc.add_paragraph(spacer()),
            None => tail = Some(spacer()),
        }
    }
    if let Some(p) = tail {
        doc = doc.add_paragraph(p.keep_next(true));
    }
    doc = doc.add_paragraph(seal(letter));
    if !letter.footer.trim().is_empty() {
        doc = doc.footer(footer(&letter.footer));
    }

    let mut out = std::io::Cursor::new(Vec::new());
    doc.pack(&mut out)
        .map_err(|e| DocxError::Pack(docx_rs::DocxError::from(e)))?;
    Ok(out.into_inner())
}

/// A template could not be filled or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A `{{name}}` whose name is not one of those offered.
    #[error("unknown placeholder {{{{{0}}}}}")]
    Unknown(String),
    /// A `{{` without its `}}`.
    #[error("a placeholder is not closed with }}}}")]
    Unclosed,
}

impl TemplateError {
    /// A stable code for messages shown to the template's editor.
    pub fn code(&self) -> &'static str {
        match self {
            TemplateError::Unknown(_) => "template_unknown_placeholder",
            TemplateError::Unclosed => "template_unclosed",
        }
    }

    /// The placeholder's name, for an unknown placeholder.
    pub fn name(&self) -> Option<&str> {
        match self {
            TemplateError::Unknown(name) => Some(name),
            TemplateError::Unclosed => None,
        }
    }
}

/// A piece of a template: literal text or a placeholder's trimmed name.
enum Piece<'t> {
    Text(&'t str),
    Name(&'t str),
}

/// Walks `template` piece by piece; `visit` returns false for a name it does not know.
fn walk<'t>(
    template: &'t str,
    mut visit: impl FnMut(Piece<'t>) -> bool,
) -> Result<(), TemplateError> {
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        visit(Piece::Text(&rest[..open]));
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or(TemplateError::Unclosed)?;
        let name = after[..close].trim();
        if !visit(Piece::Name(name)) {
            return Err(TemplateError::Unknown(name.to_string()));
        }
        rest = &after[close + 2..];
    }
    visit(Piece::Text(rest));
    Ok(())
}

/// Fills `{{name}}` placeholders in `template` from `values`. Unknown placeholder →
/// Err(TemplateError::Unknown(name)); an unclosed `{{` → Err(TemplateError::Unclosed);
/// whitespace inside braces is allowed (`{{ school }}`). Values are inserted as they are, not
/// read again for placeholders; single braces are kept.
pub fn fill(template: &str, values: &[(&str, &str)]) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    walk(template, |piece| match piece {
        Piece::Text(t) => {
            out.push_str(t);
            true
        }
        Piece::Name(name) => match values.iter().find(|(n, _)| *n == name) {
            Some((_, v)) => {
                out.push_str(v);
                true
            }
            None => false,
        },
    })?;
    Ok(out)
}

/// Checks a template against the allowed names without filling it (same errors as [`fill`]).
pub fn check(template: &str, allowed: &[&str]) -> Result<(), TemplateError> {
    walk(template, |piece| match piece {
        Piece::Text(_) => true,
        Piece::Name(name) => allowed.contains(&name),
    })
}
