//! Checks the committed shared test vectors (`ot/testdata/vectors.json`, see
//! `ot/testdata/README.md`) against the implementation, re-checks the laws each case
//! illustrates, and checks that the file is exactly what `gen_vectors` prints.

use std::path::PathBuf;

use ot::testkit::model_transform_index;
use ot::{transform, transform_index, Bias, Document, Operation, Side};
use serde_json::Value;

// The generator itself, so the committed file can be compared with its output.
#[allow(dead_code)]
#[path = "../examples/gen_vectors.rs"]
#[allow(unreachable_pub)] // `pub` for the example binary that also includes this file
mod gen_vectors;

const SECTIONS: [&str; 5] = ["apply", "compose", "transform", "transform_index", "invert"];

/// `ot/testdata/vectors.json`.
fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors.json")
}

fn read_file() -> String {
    let path = vectors_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (generate it with `cargo run -p ot --example gen_vectors > ot/testdata/vectors.json`)",
            path.display()
        )
    });
    assert!(!text.trim().is_empty(), "{} is empty", path.display());
    text
}

fn load() -> Value {
    let value: Value = serde_json::from_str(&read_file()).expect("vectors.json is not JSON");
    assert_eq!(value["version"], 1, "unknown vectors version");
    value
}

fn cases<'a>(v: &'a Value, section: &str) -> &'a [Value] {
    let cases = v[section]
        .as_array()
        .unwrap_or_else(|| panic!("section {section} missing"));
    assert!(
        cases.len() >= 10,
        "section {section} has only {} cases",
        cases.len()
    );
    cases
}

fn text<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("{case}: {key} is not a string"))
}

/// Reads an operation, checking that the file holds it in canonical, whole-document form.
fn op(case: &Value, key: &str) -> Operation {
    let value = &case[key];
    let op = serde_json::from_value::<Operation>(value.clone())
        .unwrap_or_else(|e| panic!("{case}: {key}: {e}"));
    assert_eq!(
        &serde_json::to_value(&op).unwrap(),
        value,
        "{case}: {key} is not canonical"
    );
    op
}

fn len(s: &str) -> usize {
    s.chars().count()
}

#[test]
fn apply_vectors() {
    let v = load();
    for case in cases(&v, "apply") {
        let (doc, o, result) = (text(case, "doc"), op(case, "op"), text(case, "result"));
        assert_eq!(o.base_len(), len(doc), "{case}");
        assert_eq!(o.apply(doc).unwrap(), result, "{case}");
        let mut rope = Document::from_text(doc);
        rope.apply(&o).unwrap();
        assert_eq!(rope.to_string(), result, "{case}");
    }
}

#[test]
fn compose_vectors() {
    let v = load();
    for case in cases(&v, "compose") {
        let doc = text(case, "doc");
        let (a, b, result) = (op(case, "a"), op(case, "b"), op(case, "result"));
        assert_eq!(a.base_len(), len(doc), "{case}");
        assert_eq!(a.compose(&b).unwrap(), result, "{case}");
        let stepwise = b.apply(&a.apply(doc).unwrap()).unwrap();
        assert_eq!(result.apply(doc).unwrap(), stepwise, "{case}");
    }
}

#[test]
fn transform_vectors() {
    let v = load();
    let mut sides = [0, 0];
    for case in cases(&v, "transform") {
        let doc = text(case, "doc");
        let (a, b) = (op(case, "a"), op(case, "b"));
        let side = match text(case, "side") {
            "left" => Side::Left,
            "right" => Side::Right,
            other => panic!("{case}: unknown side {other}"),
        };
        sides[side as usize] += 1;
        let (a2, b2) = transform(&a, &b, side).unwrap();
        assert_eq!(a2, op(case, "a_prime"), "{case}");
        assert_eq!(b2, op(case, "b_prime"), "{case}");
        let result = text(case, "result");
        assert_eq!(b2.apply(&a.apply(doc).unwrap()).unwrap(), result, "{case}");
        assert_eq!(a2.apply(&b.apply(doc).unwrap()).unwrap(), result, "{case}");
        assert_eq!(a.compose(&b2).unwrap(), b.compose(&a2).unwrap(), "{case}");
    }
    assert!(
        sides[0] > 0 && sides[0] == sides[1],
        "both sides of every case: {sides:?}"
    );
}

#[test]
fn transform_index_vectors() {
    let v = load();
    let mut biases = [0, 0];
    for case in cases(&v, "transform_index") {
        let doc = text(case, "doc");
        let o = op(case, "op");
        assert_eq!(o.base_len(), len(doc), "{case}");
        let bias = match text(case, "bias") {
            "stay" => Bias::Stay,
            "push" => Bias::Push,
            other => panic!("{case}: unknown bias {other}"),
        };
        biases[bias as usize] += 1;
        let index = case["index"].as_u64().expect("index") as usize;
        let expected = case["result"].as_u64().expect("result") as usize;
        assert_eq!(transform_index(index, &o, bias), expected, "{case}");
        assert_eq!(
            expected,
            model_transform_index(index, &o, bias),
            "{case}: disagrees with the reference model"
        );
    }
    assert!(
        biases[0] > 0 && biases[0] == biases[1],
        "both biases: {biases:?}"
    );
}

#[test]
fn invert_vectors() {
    let v = load();
    for case in cases(&v, "invert") {
        let doc = text(case, "doc");
        let (o, result) = (op(case, "op"), op(case, "result"));
        assert_eq!(o.invert(doc).unwrap(), result, "{case}");
        assert_eq!(
            Document::from_text(doc).invert(&o).unwrap(),
            result,
            "{case}"
        );
        assert_eq!(result.apply(&o.apply(doc).unwrap()).unwrap(), doc, "{case}");
    }
}

/// The vectors exercise the Unicode cases they are meant to.
#[test]
fn vectors_cover_unicode() {
    let v = load();
    type Check = (&'static str, fn(char) -> bool);
    let checks: [Check; 3] = [
        ("astral-plane chars", |c| c as u32 > 0xFFFF),
        ("combining marks", |c| ('\u{300}'..='\u{36F}').contains(&c)),
        ("CJK", |c| ('\u{4E00}'..='\u{9FFF}').contains(&c)),
    ];
    for (what, pred) in checks {
        for section in SECTIONS {
            let n = cases(&v, section)
                .iter()
                .filter(|c| c.to_string().chars().any(pred))
                .count();
            assert!(n > 0, "no {what} in section {section}");
        }
    }
}

/// The committed file is exactly what the documented command prints.
#[test]
fn vectors_file_is_up_to_date() {
    assert!(
        read_file() == gen_vectors::generate(),
        "ot/testdata/vectors.json is stale: run `cargo run -p ot --example gen_vectors > ot/testdata/vectors.json`"
    );
}
