//! Generates the shared OT test vectors, `ot/testdata/vectors.json`:
//!
//! ```text
//! cargo run -p ot --example gen_vectors > ot/testdata/vectors.json
//! ```
//!
//! The output is deterministic: hand-picked cases (whose expected results are written out here
//! and asserted against the implementation before anything is printed) followed by cases drawn
//! from a fixed-seed SplitMix64 generator (`ot::testkit::SplitMix64`), whose results are
//! computed by this crate. Documents and inserts mix ASCII with combining marks, CJK and
//! astral-plane emoji, because every position counts code points. The schema is described in `ot/testdata/README.md`;
//! `cargo test -p ot --test vectors` checks the committed file against the implementation and
//! that it is what this program prints.

use ot::testkit::{char_len, SplitMix64};
use ot::{transform, transform_index, Bias, Operation, Side};
use serde_json::Value;

/// Seed of the random cases. Changing it changes the file.
const SEED: u64 = 0x07_7E_2D_0C;
/// Random cases per section.
const RANDOM_CASES: usize = 24;

fn main() {
    print!("{}", generate());
}

/// The whole file.
pub fn generate() -> String {
    let mut v = Vectors::default();
    hand_picked(&mut v);
    random(&mut v, &mut SplitMix64(SEED));
    v.render()
}

#[derive(Default)]
struct Vectors {
    apply: Vec<String>,
    compose: Vec<String>,
    transform: Vec<String>,
    transform_index: Vec<String>,
    invert: Vec<String>,
}

fn op(json: &str) -> Operation {
    Operation::from_json(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn string(s: &str) -> String {
    Value::from(s).to_string()
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Left => "left",
        Side::Right => "right",
    }
}

fn bias_name(bias: Bias) -> &'static str {
    match bias {
        Bias::Stay => "stay",
        Bias::Push => "push",
    }
}

impl Vectors {
    fn apply(&mut self, name: &str, doc: &str, o: &Operation) -> String {
        let result = o.apply(doc).unwrap();
        self.apply.push(format!(
            r#"{{"name":{},"doc":{},"op":{},"result":{}}}"#,
            string(name),
            string(doc),
            o.to_json(),
            string(&result)
        ));
        result
    }

    fn compose(&mut self, name: &str, doc: &str, a: &Operation, b: &Operation) -> Operation {
        let result = a.compose(b).unwrap();
        assert_eq!(
            result.apply(doc).unwrap(),
            b.apply(&a.apply(doc).unwrap()).unwrap(),
            "{name}"
        );
        self.compose.push(format!(
            r#"{{"name":{},"doc":{},"a":{},"b":{},"result":{}}}"#,
            string(name),
            string(doc),
            a.to_json(),
            b.to_json(),
            result.to_json()
        ));
        result
    }

    /// Both sides; returns the converged document for each.
    fn transform(&mut self, name: &str, doc: &str, a: &Operation, b: &Operation) -> [String; 2] {
        [Side::Left, Side::Right].map(|side| {
            let (a2, b2) = transform(a, b, side).unwrap();
            let result = b2.apply(&a.apply(doc).unwrap()).unwrap();
            assert_eq!(result, a2.apply(&b.apply(doc).unwrap()).unwrap(), "{name}");
            self.transform.push(format!(
                r#"{{"name":{},"doc":{},"a":{},"b":{},"side":"{}","a_prime":{},"b_prime":{},"result":{}}}"#,
                string(name),
                string(doc),
                a.to_json(),
                b.to_json(),
                side_name(side),
                a2.to_json(),
                b2.to_json(),
                string(&result)
            ));
            result
        })
    }

    /// Both biases; returns the new index for each.
    fn index(&mut self, name: &str, doc: &str, o: &Operation, index: usize) -> [usize; 2] {
        [Bias::Stay, Bias::Push].map(|bias| {
            let result = transform_index(index, o, bias);
            self.transform_index.push(format!(
                r#"{{"name":{},"doc":{},"op":{},"index":{},"bias":"{}","result":{}}}"#,
                string(name),
                string(doc),
                o.to_json(),
                index,
                bias_name(bias),
                result
            ));
            result
        })
    }

    fn invert(&mut self, name: &str, doc: &str, o: &Operation) -> Operation {
        let result = o.invert(doc).unwrap();
        assert_eq!(result.apply(&o.apply(doc).unwrap()).unwrap(), doc, "{name}");
        self.invert.push(format!(
            r#"{{"name":{},"doc":{},"op":{},"result":{}}}"#,
            string(name),
            string(doc),
            o.to_json(),
            result.to_json()
        ));
        result
    }

    fn render(&self) -> String {
        let mut out = String::from("{\n");
        out.push_str("  \"version\": 1,\n");
        out.push_str(
            "  \"generator\": \"cargo run -p ot --example gen_vectors > ot/testdata/vectors.json\",\n",
        );
        out.push_str("  \"units\": \"all positions and lengths count Unicode code points\",\n");
        let sections = [
            ("apply", &self.apply),
            ("compose", &self.compose),
            ("transform", &self.transform),
            ("transform_index", &self.transform_index),
            ("invert", &self.invert),
        ];
        for (i, (name, cases)) in sections.iter().enumerate() {
            out.push_str(&format!("  \"{name}\": [\n"));
            for (j, case) in cases.iter().enumerate() {
                let comma = if j + 1 < cases.len() { "," } else { "" };
                out.push_str(&format!("    {case}{comma}\n"));
            }
            let comma = if i + 1 < sections.len() { "," } else { "" };
            out.push_str(&format!("  ]{comma}\n"));
        }
        out.push_str("}\n");
        out
    }
}

/// Cases chosen by hand, with their expected results spelled out.
fn hand_picked(v: &mut Vectors) {
    // apply
    let cases: &[(&str, &str, &str, &str)] = &[
        ("insert into empty", "", r#"["héllo"]"#, "héllo"),
        ("replace an emoji", "a😀b", r#"[1, "👍🏽", -1, 1]"#, "a👍🏽b"),
        (
            "delete a combining mark only",
            "e\u{301}x",
            "[1, -1, 1]",
            "ex",
        ),
        (
            "insert between CJK",
            "中文",
            r#"[1, "日本", 1]"#,
            "中日本文",
        ),
        ("delete astral chars", "𝄞😀", "[-2]", ""),
        ("split a flag sequence", "🇫🇷", r#"[1, "|", 1]"#, "🇫|🇷"),
        (
            "ZWJ sequence counts per code point",
            "👩\u{200D}💻!",
            "[3, -1]",
            "👩\u{200D}💻",
        ),
        ("identity", "añb", "[3]", "añb"),
        ("empty op on empty doc", "", "[]", ""),
    ];
    for (name, doc, o, expected) in cases {
        assert_eq!(v.apply(name, doc, &op(o)), *expected, "{name}");
    }

    // compose
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "type then replace",
            "",
            r#"["a😀"]"#,
            r#"[1, "中", -1]"#,
            r#"["a中"]"#,
        ),
        (
            "insert then delete it",
            "xy",
            r#"[1, "é", 1]"#,
            "[1, -1, 1]",
            "[2]",
        ),
        (
            "delete then insert there",
            "abc",
            "[1, -1, 1]",
            r#"[1, "😀", 1]"#,
            r#"[1,"😀",-1,1]"#,
        ),
        (
            "delete a combining mark twice",
            "e\u{301}\u{302}",
            "[1, -1, 1]",
            "[1, -1]",
            "[1,-2]",
        ),
        (
            "insert inside an insert",
            "",
            r#"["中文"]"#,
            r#"[1, "😀", 1]"#,
            r#"["中😀文"]"#,
        ),
    ];
    for (name, doc, a, b, expected) in cases {
        assert_eq!(v.compose(name, doc, &op(a), &op(b)), op(expected), "{name}");
    }

    // transform: (name, doc, a, b, result with a on the left, result with a on the right)
    let cases: &[(&str, &str, &str, &str, &str, &str)] = &[
        (
            "concurrent inserts at one position",
            "ab",
            r#"[1, "😀", 1]"#,
            r#"[1, "中", 1]"#,
            "a😀中b",
            "a中😀b",
        ),
        (
            "overlapping deletes",
            "e\u{301}中文",
            "[1, -2, 1]",
            "[2, -2]",
            "e",
            "e",
        ),
        (
            "insert inside a deleted range",
            "abcd",
            "[1, -2, 1]",
            r#"[2, "👋", 2]"#,
            "a👋d",
            "a👋d",
        ),
        (
            "same delete on both sides",
            "x😀y",
            "[1, -1, 1]",
            "[1, -1, 1]",
            "xy",
            "xy",
        ),
        (
            "replace vs insert at its start",
            "中文",
            r#"["日", -1, 1]"#,
            r#"["本", 2]"#,
            "日本文",
            "本日文",
        ),
        (
            "inserts at both ends",
            "é",
            r#"["<", 1]"#,
            r#"[1, ">"]"#,
            "<é>",
            "<é>",
        ),
    ];
    for (name, doc, a, b, left, right) in cases {
        let got = v.transform(name, doc, &op(a), &op(b));
        assert_eq!(got, [left.to_string(), right.to_string()], "{name}");
    }

    // transform_index: (name, doc, op, index, expected with Stay, expected with Push)
    let cases: &[(&str, &str, &str, usize, usize, usize)] = &[
        (
            "insert before the cursor",
            "a😀b",
            r#"["中文", 3]"#,
            1,
            3,
            3,
        ),
        ("insert at the cursor", "a😀b", r#"[1, "中文", 2]"#, 1, 1, 3),
        (
            "insert after the cursor",
            "a😀b",
            r#"[2, "中文", 1]"#,
            1,
            1,
            1,
        ),
        (
            "cursor inside a deleted range",
            "ae\u{301}\u{302}b",
            "[1, -3, 1]",
            2,
            1,
            1,
        ),
        (
            "cursor at the end of a deleted range",
            "ae\u{301}\u{302}b",
            "[1, -3, 1]",
            4,
            1,
            1,
        ),
        (
            "cursor inside a replaced range",
            "a😀😀b",
            r#"[1, "X", -2, 1]"#,
            2,
            2,
            2,
        ),
        (
            "cursor at the start of a replaced range",
            "a😀😀b",
            r#"[1, "X", -2, 1]"#,
            1,
            1,
            2,
        ),
        (
            "cursor past the end is clamped",
            "中",
            r#"[1, "文"]"#,
            7,
            1,
            2,
        ),
        ("cursor at 0, insert at 0", "x", r#"["🇫🇷", 1]"#, 0, 0, 2),
    ];
    for (name, doc, o, index, stay, push) in cases {
        assert_eq!(v.index(name, doc, &op(o), *index), [*stay, *push], "{name}");
    }

    // invert
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "undo a replace",
            "a😀b",
            r#"[1, "中", -1, 1]"#,
            r#"[1,"😀",-1,1]"#,
        ),
        ("undo an insert", "", r#"["e\u0301"]"#, "[-2]"),
        (
            "undo deletes",
            "中e\u{301}文",
            "[-1, 1, -1, 1]",
            r#"["中",1,"\u0301",1]"#,
        ),
        ("undo the identity", "👍🏽", "[2]", "[2]"),
    ];
    for (name, doc, o, expected) in cases {
        assert_eq!(v.invert(name, doc, &op(o)), op(expected), "{name}");
    }
}

/// `min..=max` chars from a small pool (ASCII, combining marks, CJK, astral emoji, ZWJ,
/// regional indicators).
fn random_text(rng: &mut SplitMix64, min: usize, max: usize) -> String {
    const POOL: &[char] = &[
        'a',
        'b',
        'c',
        'x',
        ' ',
        'é',
        '\u{301}',
        '\u{308}',
        '中',
        '文',
        '字',
        '😀',
        '👍',
        '\u{1F3FD}',
        '𝄞',
        '\u{200D}',
        '🇫',
        '🇷',
    ];
    let n = min + rng.below(max - min + 1);
    (0..n).map(|_| POOL[rng.below(POOL.len())]).collect()
}

/// A random operation on a document of `len` chars.
fn random_op(rng: &mut SplitMix64, len: usize) -> Operation {
    let mut o = Operation::new();
    let mut left = len;
    for _ in 0..1 + rng.below(4) {
        match rng.below(3) {
            0 => {
                let k = rng.below(left + 1);
                o.retain(k);
                left -= k;
            }
            1 => {
                let k = rng.below(left.min(3) + 1);
                o.delete(k);
                left -= k;
            }
            _ => {
                o.insert(&random_text(rng, 1, 3));
            }
        }
    }
    o.retain(left);
    o
}

/// Seeded random cases; their results are whatever the implementation computes (the laws are
/// re-checked by the vectors test).
fn random(v: &mut Vectors, rng: &mut SplitMix64) {
    for i in 0..RANDOM_CASES {
        let doc = random_text(rng, 0, 10);
        let o = random_op(rng, char_len(&doc));
        v.apply(&format!("random {i}"), &doc, &o);
    }
    for i in 0..RANDOM_CASES {
        let doc = random_text(rng, 1, 10);
        let a = random_op(rng, char_len(&doc));
        let b = random_op(rng, a.target_len());
        v.compose(&format!("random {i}"), &doc, &a, &b);
    }
    for i in 0..RANDOM_CASES {
        let doc = random_text(rng, 1, 10);
        let a = random_op(rng, char_len(&doc));
        let b = random_op(rng, char_len(&doc));
        v.transform(&format!("random {i}"), &doc, &a, &b);
    }
    for i in 0..RANDOM_CASES {
        let doc = random_text(rng, 1, 10);
        let o = random_op(rng, char_len(&doc));
        let index = rng.below(char_len(&doc) + 1);
        v.index(&format!("random {i}"), &doc, &o, index);
    }
    for i in 0..RANDOM_CASES {
        let doc = random_text(rng, 1, 10);
        let o = random_op(rng, char_len(&doc));
        v.invert(&format!("random {i}"), &doc, &o);
    }
}
