//! Telling untranslated interface text from words: a key such as `hazard.status.reported`
//! or `campaign.met_share` shown as it is, a code such as `in_progress` or
//! `food_sample_hours` shown instead of its words, or a `%{placeholder}` left unfilled. The
//! detector knows only what the locale files and the plan files name, so ordinary text
//! (logins like `s001.principal`, dates, file names) never trips it.

use std::collections::BTreeSet;
use std::path::Path;

pub struct Words {
    /// Every interface key.
    keys: BTreeSet<String>,
    /// The first parts of the keys (`hazard`, `campaign`, `nav`…): a dotted word starting
    /// with one is a key, known or missing.
    namespaces: BTreeSet<String>,
    /// snake_case codes: the parts of keys (`send_back`, `self_inspection`) and the
    /// identifiers of the plan files (obligations, record fields, parameters).
    codes: BTreeSet<String>,
}

fn is_snake(w: &str) -> bool {
    let mut parts = w.split('_');
    let first_ok = parts
        .next()
        .is_some_and(|p| p.starts_with(|c: char| c.is_ascii_lowercase()));
    w.contains('_')
        && first_ok
        && w.split('_').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// The maximal runs of `[a-z0-9_.]` in `text`, with the dots at their ends taken off.
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'))
        .map(|t| t.trim_matches('.'))
        .filter(|t| !t.is_empty())
}

impl Words {
    /// Reads `crates/web/locales/*.yml` and `plans/*.toml`.
    pub fn load() -> Words {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut keys = BTreeSet::new();
        for entry in std::fs::read_dir(root.join("crates/web/locales")).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for line in text.lines() {
                // A key: an unindented `name:` line (its languages follow, indented).
                if line.starts_with([' ', '#']) {
                    continue;
                }
                if let Some(k) = line.strip_suffix(':') {
                    let k = k.trim_matches('"');
                    if !k.starts_with('_') {
                        keys.insert(k.to_string());
                    }
                }
            }
        }
        assert!(keys.len() > 500, "only {} locale keys found", keys.len());
        let namespaces = keys
            .iter()
            .filter_map(|k| k.split_once('.').map(|(ns, _)| ns.to_string()))
            .collect();
        let mut codes: BTreeSet<String> = keys
            .iter()
            .flat_map(|k| k.split('.'))
            .filter(|p| is_snake(p))
            .map(str::to_string)
            .collect();
        for entry in std::fs::read_dir(root.join("plans")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).unwrap();
                codes.extend(
                    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .filter(|w| is_snake(w))
                        .map(str::to_string),
                );
            }
        }
        Words {
            keys,
            namespaces,
            codes,
        }
    }

    /// What in the visible `text` of a page is not words; tokens that also stand in one of
    /// the page's `literal` texts (`<code>`: identifiers shown on purpose) are fine.
    pub fn untranslated(&self, text: &str, literal: &[String]) -> Vec<String> {
        let is_literal = |t: &str| literal.iter().any(|l| tokens(l).any(|x| x == t));
        let mut found = BTreeSet::new();
        for t in tokens(text) {
            if is_literal(t) {
                continue;
            }
            if let Some((ns, rest)) = t.split_once('.') {
                let keyish = rest
                    .split('.')
                    .all(|p| p.starts_with(|c: char| c.is_ascii_lowercase()));
                if self.keys.contains(t) || (keyish && self.namespaces.contains(ns)) {
                    found.insert(format!("key {t}"));
                }
            } else if self.codes.contains(t) {
                found.insert(format!("code {t}"));
            }
        }
        if let Some(i) = text.find("%{") {
            let end = text[i..].find('}').map_or(text.len(), |e| i + e + 1);
            found.insert(format!("placeholder {}", &text[i..end]));
        }
        found.into_iter().collect()
    }
}

#[test]
fn the_detector_finds_keys_and_codes_and_nothing_else() {
    let w = Words::load();
    let found = w.untranslated(
        "隱患 hazard.status.reported 與 campaign.no_such_key；來源 self_inspection；\
         留樣 food_sample_hours 小時；%{count} 條",
        &[],
    );
    assert_eq!(
        found,
        [
            "code food_sample_hours",
            "code self_inspection",
            "key campaign.no_such_key",
            "key hazard.status.reported",
            "placeholder %{count}",
        ],
        "{found:?}"
    );
    let fine = "s001.principal 登入 2026-12-02 · report.xlsx · v1.2 · a_b · 示範小學 · 3.5 小時";
    assert_eq!(w.untranslated(fine, &[]), Vec::<String>::new());
    assert_eq!(
        w.untranslated("參數 food_sample_hours", &["food_sample_hours".into()]),
        Vec::<String>::new(),
        "identifiers in <code> are shown on purpose"
    );
}
