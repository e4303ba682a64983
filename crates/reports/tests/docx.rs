use std::io::{Cursor, Read};

use xiaoan_reports::docx::{Letter, TemplateError, check, fill, letter_docx};

fn letter() -> Letter {
    Letter {
        issuer: "示範區教育局".into(),
        title: "安全隱患整改預警通知書".into(),
        number: "示教安督〔2026〕12號".into(),
        recipient: "第一實驗小學：".into(),
        paragraphs: vec![
            "經查，你校存在以下安全隱患，逾期未整改。".into(),
            "消防通道被雜物佔用 & 堵塞\n　　配電箱 <未上鎖>".into(),
            "\n".into(),
        ],
        items: vec![
            ("隱患編號".into(), "HZ-2026-000123".into()),
            ("整改期限".into(), "2026年12月10日".into()),
        ],
        deadline_line: Some("請於2026年12月10日前書面回覆整改情況。".into()),
        seal_label: "（蓋章）".into(),
        date_line: "2026年12月3日".into(),
        footer: "校安 · 督辦 SV-2026-0012".into(),
    }
}

fn parts(bytes: &[u8]) -> (String, Vec<String>) {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip archive");
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.expect("an entry name").into_owned())
        .collect();
    let mut read = |name: &str| {
        let mut s = String::new();
        zip.by_name(name)
            .expect("the part")
            .read_to_string(&mut s)
            .expect("UTF-8 XML");
        s
    };
    let document = read("word/document.xml");
    let footers = names
        .iter()
        .filter(|n| n.starts_with("word/footer") && n.ends_with(".xml"))
        .map(|n| read(n))
        .collect();
    (document, footers)
}

#[test]
fn letter_has_every_part_of_the_text() {
    let bytes = letter_docx(&letter()).unwrap();
    assert_eq!(&bytes[..2], b"PK");
    let (doc, footers) = parts(&bytes);
    for text in [
        "示範區教育局",
        "安全隱患整改預警通知書",
        "示教安督〔2026〕12號",
        "第一實驗小學：",
        "經查，你校存在以下安全隱患，逾期未整改。",
        "隱患編號",
        "HZ-2026-000123",
        "整改期限",
        "請於2026年12月10日前書面回覆整改情況。",
        "（蓋章）",
        "2026年12月3日",
    ] {
        assert!(doc.contains(text), "document.xml lacks {text}");
    }
    assert!(doc.contains("消防通道被雜物佔用 &amp; 堵塞"));
    // The second line is its own paragraph, its leading full-width spaces dropped.
    assert!(doc.contains(">配電箱 &lt;未上鎖&gt;<"));
    assert!(!doc.contains("&amp;amp;") && !doc.contains("&amp;lt;"));
    assert!(!doc.contains("<未上鎖>"));
    assert!(doc.contains("<w:tbl>"));
    assert_eq!(footers.len(), 1);
    assert!(footers[0].contains("校安 · 督辦 SV-2026-0012"));
}

#[test]
fn letter_layout_is_a4_with_official_margins_and_sizes() {
    let (doc, _) = parts(&letter_docx(&letter()).unwrap());
    assert!(doc.contains(r#"<w:pgSz w:w="11906" w:h="16838""#), "{doc}");
    for margin in [
        r#"w:top="2098""#,
        r#"w:bottom="1984""#,
        r#"w:left="1587""#,
        r#"w:right="1474""#,
    ] {
        assert!(doc.contains(margin), "missing {margin}");
    }
    // 22 pt headings, 16 pt body with a two-character first-line indent.
    assert!(doc.contains(r#"<w:sz w:val="44" />"#));
    assert!(doc.contains(r#"<w:sz w:val="32" />"#));
    assert!(doc.contains(r#"w:firstLine="640""#));
    assert!(doc.contains("<w:pBdr>") && doc.contains("<w:bottom"));
    assert!(doc.contains(r#"w:eastAsia="SimHei""#));
    assert!(doc.contains(r#"w:eastAsia="FangSong""#));
    assert!(doc.contains(r#"<w:jc w:val="right" />"#));
    // The deadline keeps with the seal area, which keeps its lines together.
    let deadline = doc.find("請於2026年12月10日前").unwrap();
    let paragraph = doc[..deadline].rfind("<w:p ").unwrap();
    assert!(
        doc[paragraph..deadline].contains("<w:keepNext"),
        "{}",
        &doc[paragraph..deadline]
    );
    assert!(doc[deadline..].contains("<w:keepLines"));
}

#[test]
fn letter_without_items_deadline_or_footer_has_no_table() {
    let l = Letter {
        items: vec![],
        deadline_line: None,
        footer: String::new(),
        ..letter()
    };
    let (doc, footers) = parts(&letter_docx(&l).unwrap());
    assert!(!doc.contains("<w:tbl>"));
    assert!(!doc.contains("書面回覆"));
    assert!(footers.is_empty());
}

#[test]
fn letter_drops_characters_xml_cannot_carry() {
    let l = Letter {
        paragraphs: vec!["控制\u{1}字符\r\n第二行".into()],
        ..letter()
    };
    let (doc, _) = parts(&letter_docx(&l).unwrap());
    assert!(doc.contains(">控制字符<"));
    assert!(doc.contains(">第二行<"));
}

#[test]
fn fill_replaces_known_names() {
    let out = fill(
        "{{school}}：請於{{deadline}}前整改{{school}}的隱患。",
        &[("school", "第一實驗小學"), ("deadline", "2026年12月10日")],
    )
    .unwrap();
    assert_eq!(
        out,
        "第一實驗小學：請於2026年12月10日前整改第一實驗小學的隱患。"
    );
}

#[test]
fn fill_allows_spaces_inside_braces() {
    let out = fill(
        "致 {{ school }}、{{\tdeadline }}",
        &[("school", "一小"), ("deadline", "明日")],
    )
    .unwrap();
    assert_eq!(out, "致 一小、明日");
}

#[test]
fn fill_keeps_single_braces_and_does_not_reread_values() {
    let out = fill("{a} {{x}} } {", &[("x", "{{y}}")]).unwrap();
    assert_eq!(out, "{a} {{y}} } {");
}

#[test]
fn fill_names_the_unknown_placeholder() {
    let err = fill("{{school}} {{ principal }}", &[("school", "一小")]).unwrap_err();
    assert_eq!(err, TemplateError::Unknown("principal".into()));
    assert_eq!(err.code(), "template_unknown_placeholder");
    assert_eq!(err.name(), Some("principal"));
    assert!(err.to_string().contains("{{principal}}"), "{err}");
}

#[test]
fn fill_rejects_an_unclosed_placeholder() {
    let err = fill("請於{{deadline前整改", &[("deadline", "明日")]).unwrap_err();
    assert_eq!(err, TemplateError::Unclosed);
    assert_eq!(err.code(), "template_unclosed");
    assert_eq!(err.name(), None);
    assert_eq!(fill("尾{{", &[]), Err(TemplateError::Unclosed));
}

#[test]
fn check_uses_the_same_rules() {
    assert_eq!(
        check("{{ school }}：{{deadline}} {x}", &["school", "deadline"]),
        Ok(())
    );
    assert_eq!(
        check("{{school}} {{other}}", &["school"]),
        Err(TemplateError::Unknown("other".into()))
    );
    assert_eq!(check("{{school", &["school"]), Err(TemplateError::Unclosed));
    assert_eq!(check("", &[]), Ok(()));
}
