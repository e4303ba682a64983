//! The built-in record kinds: the evidence the seed plan names (drills, lessons, trainings,
//! study sessions, warning education, dialogues, patrols, weekly checks, monthly and
//! annual reports, meal accompaniment, food samples). Their labels live in the interface's
//! locale files (`record_kind.*`, `record_field.*`, `record_choice.*`).

use super::kinds::{FieldSpec, FieldType, RecordKind, Unit};

fn f(name: &str, ty: FieldType, required: bool) -> FieldSpec {
    FieldSpec {
        name: name.into(),
        ty,
        required,
        min: None,
        max: None,
        max_len: None,
        options: vec![],
        unit: None,
        label: None,
    }
}

fn range(mut s: FieldSpec, min: f64, max: f64, unit: Option<Unit>) -> FieldSpec {
    s.min = Some(min);
    s.max = Some(max);
    s.unit = unit;
    s
}

fn options(mut s: FieldSpec, opts: &[&str]) -> FieldSpec {
    s.options = opts.iter().map(|o| o.to_string()).collect();
    s
}

const MEALS: [&str; 3] = ["breakfast", "lunch", "dinner"];

/// The built-in record kinds.
pub fn builtins() -> Vec<RecordKind> {
    use FieldType::*;
    let k = |code: &str, fields: Vec<FieldSpec>| RecordKind {
        code: code.into(),
        label: None,
        fields,
        period_field: None,
    };
    // Reports name the period they are for.
    let reports = |mut kind: RecordKind, field: &str| {
        kind.period_field = Some(field.into());
        kind
    };
    let people = |name: &str| range(f(name, Int, true), 1.0, 100_000.0, Some(Unit::People));
    vec![
        k(
            "drill",
            vec![
                options(
                    f("drill_type", Choice, true),
                    &[
                        "evacuation",
                        "fire",
                        "earthquake",
                        "flood",
                        "bus",
                        "anti_terror",
                        "other",
                    ],
                ),
                f("scenario", Text, false),
                people("participants"),
                range(
                    f("evacuation_seconds", Int, true),
                    0.0,
                    3600.0,
                    Some(Unit::Seconds),
                ),
                f("problems", List, false),
            ],
        ),
        k(
            "lesson",
            vec![
                f("class_name", Text, true),
                f("topic", Text, true),
                range(f("hours", Number, true), 0.5, 8.0, Some(Unit::Hours)),
            ],
        ),
        k(
            "training",
            vec![
                f("topic", Text, true),
                options(
                    f("training_type", Choice, true),
                    &[
                        "safety",
                        "fire",
                        "food",
                        "traffic",
                        "lab",
                        "emergency",
                        "other",
                    ],
                ),
                range(f("hours", Number, false), 0.5, 200.0, Some(Unit::Hours)),
                f("attendees", List, true),
            ],
        ),
        k(
            "study_session",
            vec![
                f("topic", Text, true),
                people("participants"),
                range(f("hours", Number, false), 0.5, 24.0, Some(Unit::Hours)),
            ],
        ),
        k(
            "warning_education",
            vec![
                f("topic", Text, true),
                options(
                    f("form", Choice, true),
                    &["case_study", "film", "exhibition", "lecture", "materials"],
                ),
                people("participants"),
            ],
        ),
        k(
            "dialogue",
            vec![
                f("topic", Text, true),
                people("participants"),
                f("led_by", Text, false),
            ],
        ),
        k(
            "patrol",
            vec![f("area", Text, false), f("problems", List, false)],
        ),
        k(
            "weekly_check",
            vec![f("area", Text, false), f("problems", List, false)],
        ),
        reports(
            k(
                "monthly_report",
                vec![
                    f("report_month", Month, true),
                    range(
                        f("hazards_listed", Int, true),
                        0.0,
                        100_000.0,
                        Some(Unit::Items),
                    ),
                    range(
                        f("hazards_open", Int, false),
                        0.0,
                        100_000.0,
                        Some(Unit::Items),
                    ),
                    range(
                        f("key_students", Int, true),
                        0.0,
                        100_000.0,
                        Some(Unit::People),
                    ),
                    f("note", Text, false),
                ],
            ),
            "report_month",
        ),
        reports(
            k(
                "annual_report",
                vec![
                    range(f("report_year", Int, true), 2000.0, 2100.0, None),
                    FieldSpec {
                        max_len: Some(4000),
                        ..f("summary", Text, true)
                    },
                ],
            ),
            "report_year",
        ),
        k(
            "meal_accompaniment",
            vec![
                options(f("meal", Choice, true), &MEALS),
                f("companion", Text, true),
                f("issues", List, false),
            ],
        ),
        k(
            "food_sample",
            vec![
                options(f("meal", Choice, true), &MEALS),
                range(f("dishes", Int, true), 1.0, 100.0, Some(Unit::Items)),
                range(f("min_weight_g", Int, true), 0.0, 5000.0, Some(Unit::Grams)),
                range(
                    f("kept_hours", Int, true),
                    0.0,
                    720.0,
                    Some(Unit::ClockHours),
                ),
                f("sampler", Text, true),
            ],
        ),
    ]
}

/// A built-in kind by code.
pub fn builtin(code: &str) -> Option<RecordKind> {
    builtins().into_iter().find(|k| k.code == code)
}
