//! Plan files: a small valid plan, precise errors for malformed ones, the seed's plan, and
//! record-field validation.

use super::kinds::{FieldErrorKind, builtin, from_form, validate};
use super::*;
use serde_json::json;

/// A small plan used by these tests and the compliance tests.
pub const SMALL: &str = r#"
[campaign]
code = "test-plan"
name = "測試行動"
name_en = "Test campaign"
starts_on = 2020-06-01
ends_on = 2022-12-31

[[sections]]
id = "safety"
name = "校安辦"

[[phases]]
id = "attack"
title = "集中攻堅"
starts_on = 2021-01-01
ends_on = 2021-12-31

[[tasks]]
id = "4"
numeral = "四"
title = "實施安全素質提升工程"
lead = ["safety"]
support = ["區屬中小學"]

[params.class_hours]
value = 12
unit = "hours"
basis = "S"
source = "seed 三(四)"

[params.sample_grams]
value = 125
unit = "grams"
basis = "U"
source = "rules FOOD-06"

[[record_kinds]]
code = "video_check"
label = "視頻監控檢查"
label_en = "Video surveillance check"
[[record_kinds.fields]]
name = "cameras_online"
type = "int"
min = 0
required = true
label = "在線攝像頭"

[[obligations]]
id = "drill-school"
task = "4"
title = "中小學每月應急疏散演練"
school_types = ["primary", "middle", "nine_year"]
cadence = "month"
record = "drill"
source = "seed 三(四)二"

[[obligations]]
id = "drill-kindergarten"
task = "4"
title = "幼兒園每季度應急疏散演練"
school_types = ["kindergarten"]
cadence = "quarter"
record = "drill"
source = "seed 三(四)二"

[[obligations]]
id = "edu-hours"
task = "4"
title = "安全教育每學年不少於12課時"
school_types = ["primary", "middle", "nine_year"]
cadence = "school_year"
record = "lesson"
sum = "hours"
target = "$class_hours"
source = "seed 三(四)一"

[[obligations]]
id = "monthly-report"
task = "4"
title = "每月上旬報送清單"
cadence = "month"
due_day = 10
record = "monthly_report"
source = "seed 三(三)"

[[obligations]]
id = "patrol"
task = "4"
title = "日巡查"
cadence = "school_day"
record = "patrol"
source = "seed 三(三)"

[[obligations]]
id = "fire-training"
task = "4"
title = "全員消防培訓"
cadence = "year"
record = "training"
coverage = "attendees"
population = "staff"
where = [{ field = "training_type", any_of = ["fire"] }]
source = "rules EDU-07"

[[obligations]]
id = "food-sample"
task = "4"
title = "食品留樣"
facts = ["canteen"]
cadence = "school_day"
record = "food_sample"
where = [{ field = "min_weight_g", min = "$sample_grams" }, { field = "kept_hours", min = 48 }]
source = "rules FOOD-06"

[[obligations]]
id = "video"
task = "4"
title = "視頻監控"
cadence = "standing"
valid_days = 180
record = "video_check"
source = "seed 三(五)一"

[[obligations]]
id = "term-inspection"
task = "4"
title = "開學前隱患排查"
cadence = "term"
anchor = "before_start"
window_days = 30
grace_days = 14
record = "weekly_check"
source = "seed 三(三)"

[[obligations]]
id = "annual-report"
task = "4"
title = "年度工作報告"
cadence = "year"
due = "12-15"
record = "annual_report"
source = "seed 四"

[[obligations]]
id = "study"
task = "4"
title = "集中學習"
level = "bureau"
cadence = "year"
record = "study_session"
source = "seed 三(一)"
"#;

fn errors(src: &str) -> Vec<PlanError> {
    parse(src).expect_err("the plan should be refused")
}

/// The line of `needle`'s first occurrence in `src` (1-based).
fn line_of(src: &str, needle: &str) -> usize {
    src[..src.find(needle).expect("needle")]
        .matches('\n')
        .count()
        + 1
}

#[test]
fn a_small_plan_parses() {
    let p = parse(SMALL).unwrap();
    assert_eq!(p.code, "test-plan");
    assert_eq!(p.name.get("en"), "Test campaign");
    assert_eq!(p.name.get("zh-CN"), "測試行動");
    assert_eq!(p.obligations.len(), 11);
    let h = p.obligation("edu-hours").unwrap();
    assert_eq!(
        h.threshold,
        Threshold::Sum {
            field: "hours".into(),
            target: 12.0
        }
    );
    assert_eq!(h.threshold_param.as_deref(), Some("class_hours"));
    let f = p.obligation("food-sample").unwrap();
    assert_eq!(f.conditions[0].min, Some(125.0));
    assert_eq!(
        p.obligation("monthly-report").unwrap().cadence,
        Cadence::Month { due_day: Some(10) }
    );
    assert!(p.kind("video_check").is_some() && p.kind("drill").is_some());
    assert_eq!(p.record_edit_hours, 24);
}

#[test]
fn the_district_clock_is_not_a_plan_setting() {
    let seed = include_str!("../../../../plans/edu-safety-3yr.toml");
    let with_offset = seed.replacen("starts_on = ", "utc_offset = \"+08:00\"\nstarts_on = ", 1);
    let errs = parse(&with_offset).unwrap_err();
    assert!(
        errs.iter().any(|e| e
            .to_string()
            .contains("[district] section of the configuration")),
        "{errs:?}"
    );
}

#[test]
fn syntax_errors_have_line_and_column() {
    let src = SMALL.replace("code = \"test-plan\"", "code = \"test-plan");
    let e = errors(&src);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line, line_of(SMALL, "code = \"test-plan\""));
    assert!(e[0].column > 1, "{:?}", e[0]);
}

#[test]
fn unknown_keys_are_refused_where_they_are() {
    let src = SMALL.replace("due_day = 10", "due_day = 10\ndeu = \"12-15\"");
    let e = errors(&src);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].line, line_of(&src, "deu ="));
    assert_eq!(e[0].column, 1);
    assert!(e[0].message.contains("deu"), "{}", e[0].message);
}

#[test]
fn broken_rules_are_reported_precisely() {
    let src = SMALL
        .replace(
            "task = \"4\"\ntitle = \"日巡查\"",
            "task = \"9\"\ntitle = \"日巡查\"",
        )
        .replace("record = \"annual_report\"", "record = \"annual_reprt\"")
        .replace("target = \"$class_hours\"", "target = \"$class_hour\"")
        .replace(
            "cadence = \"quarter\"",
            "cadence = \"quarter\"\ndue_day = 5",
        )
        .replace("coverage = \"attendees\"", "coverage = \"topic\"");
    let e = errors(&src);
    let has = |needle: &str, msg: &str| {
        let line = line_of(&src, needle);
        assert!(
            e.iter().any(|x| x.line == line && x.message.contains(msg)),
            "no error {msg:?} on line {line}: {e:?}"
        );
    };
    has("task = \"9\"", "unknown task \"9\"");
    has("record = \"annual_reprt\"", "unknown record kind");
    has("target = \"$class_hour\"", "unknown parameter $class_hour");
    has(
        "due_day = 5",
        "due_day is only allowed with cadence = month",
    );
    has("coverage = \"topic\"", "coverage needs a list field");
    assert_eq!(e.len(), 5, "{e:?}");
    let shown = e[0].to_string();
    assert!(shown.starts_with(&format!("{}:", e[0].line)), "{shown}");
}

#[test]
fn duplicate_ids_and_bad_dates_are_refused() {
    let src = SMALL.replace("id = \"study\"", "id = \"patrol\"");
    let e = errors(&src);
    assert!(
        e[0].message.contains("duplicate obligation id \"patrol\""),
        "{e:?}"
    );
    let src = SMALL.replace("ends_on = 2022-12-31", "ends_on = 2019-12-31");
    assert!(
        errors(&src)
            .iter()
            .any(|e| e.message.contains("ends before it starts"))
    );
    let src = SMALL.replace("starts_on = 2020-06-01", "starts_on = 2020-06-01T08:00:00");
    assert!(errors(&src)[0].message.contains("expected a date"));
}

#[test]
fn the_seed_plan_is_complete() {
    let p = parse(include_str!("../../../../plans/edu-safety-3yr.toml")).unwrap_or_else(|e| {
        panic!(
            "{}",
            e.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert_eq!(p.main_tasks().count(), 6);
    assert_eq!(
        p.main_tasks()
            .map(|t| t.numeral.as_str())
            .collect::<Vec<_>>(),
        ["一", "二", "三", "四", "五", "六"]
    );
    assert!(
        p.tasks
            .iter()
            .all(|t| !t.lead.is_empty() && !t.support.is_empty())
    );
    assert_eq!(p.phases.len(), 4);
    assert_eq!(p.starts_on.to_string(), "2020-06-01");
    assert_eq!(p.ends_on.to_string(), "2022-12-31");
    assert!(p.obligations.len() >= 40, "{}", p.obligations.len());
    let ob = |id: &str| {
        p.obligation(id)
            .unwrap_or_else(|| panic!("obligation {id} missing"))
    };
    assert_eq!(ob("drill-school").cadence, Cadence::Month { due_day: None });
    assert_eq!(ob("drill-kindergarten").cadence, Cadence::Quarter);
    assert_eq!(
        ob("monthly-report").cadence,
        Cadence::Month { due_day: Some(10) }
    );
    assert!(matches!(ob("edu-hours").threshold, Threshold::Sum { target, .. } if target == 12.0));
    assert!(matches!(
        ob("annual-report").cadence,
        Cadence::Year { due: (12, 15), .. }
    ));
    assert!(matches!(ob("study").applies.level, Level::Bureau));
    for o in &p.obligations {
        assert!(
            !o.source.is_empty() && o.title.en.is_some() && o.title.zh_cn.is_some(),
            "{}",
            o.id
        );
    }
    for (param, value) in [("food_sample_grams", 125.0), ("food_sample_hours", 48.0)] {
        let prm = p.params.iter().find(|x| x.name == param).expect(param);
        assert_eq!(prm.value, value);
    }
    assert!(p.params.iter().any(|x| x.basis == Basis::U));
    // A sample is kept for clock hours (小時), not class hours (課時).
    let kept = p.kind("food_sample").expect("food_sample");
    let kept = kept.field("kept_hours").expect("kept_hours");
    assert_eq!(kept.unit, Some(super::kinds::Unit::ClockHours));
}

#[test]
fn plans_rebase_by_whole_years() {
    let p = parse(SMALL).unwrap().rebased(5);
    assert_eq!(p.starts_on.to_string(), "2025-06-01");
    assert_eq!(p.phases[0].starts_on.to_string(), "2026-01-01");
}

#[test]
fn record_fields_are_validated_against_their_kind() {
    let drill = builtin("drill").unwrap();
    let ok = json!({"drill_type": "fire", "participants": 600, "evacuation_seconds": 118,
                    "problems": ["三樓東側樓梯擁堵", " ", "三樓東側樓梯擁堵"], "scenario": "  "});
    let v = validate(&drill, ok.as_object().unwrap()).unwrap();
    assert_eq!(v["problems"], json!(["三樓東側樓梯擁堵"]));
    assert!(v.get("scenario").is_none());
    let bad = |v: serde_json::Value, field: &str, kind: FieldErrorKind| {
        let e = validate(&drill, v.as_object().unwrap()).unwrap_err();
        assert_eq!((e.field.as_str(), e.kind), (field, kind));
    };
    bad(
        json!({"drill_type": "fire", "participants": 1, "evacuation_seconds": 1, "colour": "red"}),
        "colour",
        FieldErrorKind::Unknown,
    );
    bad(
        json!({"drill_type": "fire", "participants": 1}),
        "evacuation_seconds",
        FieldErrorKind::Missing,
    );
    bad(
        json!({"drill_type": "fire", "participants": 1, "evacuation_seconds": 9000}),
        "evacuation_seconds",
        FieldErrorKind::Range,
    );
    bad(
        json!({"drill_type": "picnic", "participants": 1, "evacuation_seconds": 1}),
        "drill_type",
        FieldErrorKind::Choice,
    );
    bad(
        json!({"drill_type": "fire", "participants": "many", "evacuation_seconds": 1}),
        "participants",
        FieldErrorKind::Type,
    );
    let form = vec![
        ("drill_type".to_string(), "earthquake".to_string()),
        ("participants".into(), "420".into()),
        ("evacuation_seconds".into(), "95".into()),
        ("problems".into(), "出口指示燈不亮\r\n\r\n廣播聽不清".into()),
    ];
    let v = validate(&drill, &from_form(&drill, &form)).unwrap();
    assert_eq!(v["participants"], json!(420));
    assert_eq!(v["problems"], json!(["出口指示燈不亮", "廣播聽不清"]));
}

#[test]
fn a_record_kind_names_its_period_field_and_it_is_checked() {
    // The built-in reports name theirs.
    assert_eq!(
        builtin("annual_report").unwrap().period_field.as_deref(),
        Some("report_year")
    );
    assert_eq!(
        builtin("monthly_report").unwrap().period_field.as_deref(),
        Some("report_month")
    );
    assert_eq!(builtin("drill").unwrap().period_field, None);
    // A plan's own kind may declare one.
    let with = SMALL.replace(
        "label_en = \"Video surveillance check\"",
        "label_en = \"Video surveillance check\"\nperiod_field = \"cameras_online\"",
    );
    let e = errors(&with);
    assert!(
        e.iter()
            .any(|x| x.message.contains("cannot satisfy a daily or standing")),
        "the standing video duty cannot take records naming a period: {e:?}"
    );
    let term = SMALL.replace(
        "[[obligations]]\nid = \"drill-school\"",
        "[[record_kinds]]\ncode = \"term_report\"\nlabel = \"學期報告\"\nperiod_field = \"term\"\nfields = [{ name = \"term\", type = \"text\", required = true, label = \"學期\" }]\n\n[[obligations]]\nid = \"drill-school\"",
    );
    let p = parse(&term).unwrap();
    assert_eq!(
        p.kind("term_report").unwrap().period_field.as_deref(),
        Some("term")
    );
    for (field, message) in [
        (
            "name = \"term\", type = \"text\", required = true",
            "names no field",
        ),
        (
            "name = \"term\", type = \"bool\", required = true",
            "must be of type",
        ),
        ("name = \"term\", type = \"text\"", "must be required"),
    ] {
        let bad = term
            .replace("name = \"term\", type = \"text\", required = true", field)
            .replace(
                "period_field = \"term\"",
                if message == "names no field" {
                    "period_field = \"trem\""
                } else {
                    "period_field = \"term\""
                },
            );
        let e = errors(&bad);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].message.contains(message), "{e:?}");
        assert_eq!(e[0].line, line_of(&bad, "period_field"));
    }
}
