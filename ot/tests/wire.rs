//! The JSON wire format: every kind of malformed input is a typed [`WireError`] naming the
//! component and the reason; checked deletes (`{"d": "text"}`) are verified against the
//! document; a missing trailing retain is implied; output spans the whole document.

use ot::{CheckedOp, ComponentError, DeleteCheck, Document, Operation, OtError, WireError};

/// Parses `json` both ways (`CheckedOp::from_json` and `Operation::from_json`), expecting the
/// same component error from both, and from serde (as a message naming the component).
fn component_error(json: &str) -> (usize, ComponentError) {
    let err = CheckedOp::from_json(json).expect_err(json);
    assert_eq!(Operation::from_json(json), Err(err.clone()), "{json}");
    let serde_err = serde_json::from_str::<Operation>(json).expect_err(json);
    assert!(
        serde_err.to_string().contains(&err.to_string()),
        "serde error {serde_err} should carry {err}"
    );
    let serde_err = serde_json::from_str::<CheckedOp>(json).expect_err(json);
    assert!(serde_err.to_string().contains(&err.to_string()));
    match err {
        WireError::Component { index, reason } => (index, reason),
        other => panic!("{json}: expected a component error, got {other:?}"),
    }
}

#[test]
fn floats_are_rejected_with_their_index() {
    assert_eq!(
        component_error("[1.5]"),
        (0, ComponentError::Float("1.5".into()))
    );
    assert_eq!(
        component_error(r#"[3, "x", 2.0]"#),
        (2, ComponentError::Float("2.0".into()))
    );
    assert_eq!(
        component_error("[1, -2.5]"),
        (1, ComponentError::Float("-2.5".into()))
    );
    assert_eq!(
        component_error("[1e3]"),
        (0, ComponentError::Float("1000.0".into()))
    );
    // Integers beyond u64/i64 are read by serde_json as floats.
    assert!(matches!(
        component_error("[1, 18446744073709551616]"),
        (1, ComponentError::Float(_))
    ));
    let err = CheckedOp::from_json("[2, 0.5]").unwrap_err();
    assert_eq!(
        err.to_string(),
        "component 1: 0.5 is not an integer (lengths count code points)"
    );
}

#[test]
fn zero_is_rejected() {
    assert_eq!(component_error("[0]"), (0, ComponentError::Zero));
    assert_eq!(
        component_error(r#"[2, "a", 0, 1]"#),
        (2, ComponentError::Zero)
    );
    assert_eq!(
        component_error(r#"[{"d": 0}]"#),
        (0, ComponentError::BadDeleteObject)
    );
    // `-0` is zero written as a JSON number serde_json reads as the float -0.0: rejected at its
    // index either way.
    let (index, reason) = component_error("[1, -0]");
    assert_eq!(index, 1);
    assert!(
        matches!(reason, ComponentError::Zero | ComponentError::Float(_)),
        "{reason:?}"
    );
}

#[test]
fn null_bool_and_nested_arrays_are_rejected() {
    assert_eq!(component_error("[null]"), (0, ComponentError::Null));
    assert_eq!(
        component_error(r#"[1, "a", null]"#),
        (2, ComponentError::Null)
    );
    assert_eq!(component_error("[true]"), (0, ComponentError::Bool));
    assert_eq!(component_error("[4, false]"), (1, ComponentError::Bool));
    assert_eq!(component_error("[[1]]"), (0, ComponentError::NestedArray));
    assert_eq!(
        component_error(r#"[1, "x", []]"#),
        (2, ComponentError::NestedArray)
    );
}

#[test]
fn unknown_and_bad_objects_are_rejected() {
    for json in [
        r#"[{}]"#,
        r#"[{"x": 1}]"#,
        r#"[{"i": "abc"}]"#,
        r#"[{"d": 1, "x": 2}]"#,
        r#"[{"D": 1}]"#,
    ] {
        assert_eq!(
            component_error(json),
            (0, ComponentError::UnknownObject),
            "{json}"
        );
    }
    assert_eq!(
        component_error(r#"[3, {"r": 2}]"#),
        (1, ComponentError::UnknownObject)
    );
    for d in [
        "null",
        "-1",
        "1.5",
        "true",
        "[1]",
        r#""""#,
        r#"{"d": 1}"#,
        "0",
    ] {
        let json = format!(r#"[1, {{"d": {d}}}]"#);
        assert_eq!(
            component_error(&json),
            (1, ComponentError::BadDeleteObject),
            "{json}"
        );
    }
}

#[test]
fn empty_insert_is_rejected() {
    assert_eq!(component_error(r#"[""]"#), (0, ComponentError::EmptyInsert));
    assert_eq!(
        component_error(r#"[1, "a", -1, ""]"#),
        (3, ComponentError::EmptyInsert)
    );
}

#[test]
fn too_large_lengths_are_rejected_not_overflowed() {
    // A retain of u64::MAX followed by another retain used to overflow the operation's length.
    let (index, reason) = component_error("[18446744073709551615, 1]");
    assert!(index <= 1);
    assert!(matches!(reason, ComponentError::TooLarge(_)), "{reason:?}");
    let (index, reason) = component_error(r#"[9223372036854775807, "x", -9223372036854775807]"#);
    assert_eq!(index, 2);
    assert!(matches!(reason, ComponentError::TooLarge(_)), "{reason:?}");
    // A delete of 2^63 could not be written back as a negative i64.
    let (_, reason) = component_error("[-9223372036854775808]");
    assert!(matches!(reason, ComponentError::TooLarge(_)), "{reason:?}");
    // Whatever parses can be written back (on 64-bit targets these lengths fit a usize).
    #[cfg(target_pointer_width = "64")]
    for json in ["[9223372036854775807]", "[-9223372036854775807]"] {
        let op = Operation::from_json(json).unwrap();
        assert_eq!(op.to_json(), json.replace(' ', ""));
    }
}

#[test]
fn not_an_array_is_rejected() {
    for (json, found) in [
        ("5", "a number"),
        ("-1", "a number"),
        (r#""abc""#, "a string"),
        (r#"{"d": 1}"#, "an object"),
        ("null", "null"),
        ("true", "a boolean"),
    ] {
        let err = CheckedOp::from_json(json).unwrap_err();
        assert_eq!(err, WireError::NotAnArray { found }, "{json}");
        assert_eq!(Operation::from_json(json), Err(err.clone()));
        assert!(serde_json::from_str::<Operation>(json).is_err());
        assert!(err.to_string().contains(found));
    }
}

#[test]
fn invalid_json_is_a_json_error() {
    for json in ["", "[1,", "[1 2]", "[\"x]", "[01]", "[1]x"] {
        assert!(
            matches!(CheckedOp::from_json(json), Err(WireError::Json(_))),
            "{json}: {:?}",
            CheckedOp::from_json(json)
        );
    }
}

#[test]
fn valid_forms_parse_to_canonical_operations() {
    let op = Operation::from_json(r#"[2, {"d": 1}, -2, "x", "y", 3, 1]"#).unwrap();
    assert_eq!(op.to_json(), r#"[2,"xy",-3,4]"#);
    // Delete then insert is written insert first.
    let op = Operation::from_json(r#"[-1, "😀"]"#).unwrap();
    assert_eq!(op.to_json(), r#"["😀",-1]"#);
    assert_eq!(op.apply("中").unwrap(), "😀");
    assert_eq!(Operation::from_json("[]").unwrap(), Operation::new());
    // Unicode escapes and astral chars count as one code point each.
    let op = Operation::from_json(r#"["\ud83d\ude00e\u0301", 1]"#).unwrap();
    assert_eq!(op.base_len(), 1);
    assert_eq!(op.target_len(), 4);
}

#[test]
fn checked_delete_is_verified_against_the_document() {
    let doc = "a😀e\u{301}中b"; // e + combining acute: 6 code points
    assert_eq!(doc.chars().count(), 6);
    let parsed = CheckedOp::from_json(r#"[1, {"d": "😀"}, "X", 1, {"d": "\u0301中"}]"#).unwrap();
    assert_eq!(
        parsed.checks,
        vec![
            DeleteCheck {
                index: 1,
                position: 1,
                text: "😀".into()
            },
            DeleteCheck {
                index: 4,
                position: 3,
                text: "\u{301}中".into()
            },
        ]
    );
    assert_eq!(parsed.verify(doc), Ok(()));
    let mut rope = Document::from_text(doc);
    let applied = rope.apply_checked(&parsed).unwrap();
    assert_eq!(rope.to_string(), "aXeb");
    assert_eq!(applied.to_json(), r#"[1,"X",-1,1,-2,1]"#);

    // Mismatch: the error names the wire component, its position and both texts.
    let parsed = CheckedOp::from_json(r#"["Z", 2, {"d": "abc"}]"#).unwrap();
    let mut rope = Document::from_text(doc);
    assert_eq!(
        rope.apply_checked(&parsed),
        Err(OtError::DeleteMismatch {
            index: 2,
            position: 2,
            expected: "abc".into(),
            found: "e\u{301}中".into(),
        })
    );
    assert_eq!(rope.to_string(), doc, "nothing applied");
    assert_eq!(parsed.verify(doc), rope.apply_checked(&parsed).map(|_| ()));

    // Past the end of the document.
    let parsed = CheckedOp::from_json(r#"[5, {"d": "bc"}]"#).unwrap();
    assert_eq!(
        parsed.verify(doc),
        Err(OtError::RangeOutOfBounds {
            start: 5,
            len: 2,
            doc_len: 6
        })
    );
    assert!(Document::from_text(doc).apply_checked(&parsed).is_err());

    // Operation::from_json refuses what it cannot check.
    assert_eq!(
        Operation::from_json(r#"[1, -1, {"d": "abc"}]"#),
        Err(WireError::Component {
            index: 2,
            reason: ComponentError::UncheckedContext
        })
    );
}

#[test]
fn missing_trailing_retain_is_implied() {
    let parsed = CheckedOp::from_json(r#"[2, "xy"]"#).unwrap();
    assert_eq!(parsed.op.base_len(), 2);
    let mut op = parsed.op.clone();
    op.fit_to(5).unwrap();
    assert_eq!(op.to_json(), r#"[2,"xy",3]"#);
    assert_eq!(op.apply("ab😀cd").unwrap(), "abxy😀cd");
    let mut rope = Document::from_text("ab😀cd");
    assert_eq!(rope.apply_checked(&parsed).unwrap(), op);
    assert_eq!(rope.to_string(), "abxy😀cd");

    // fit_to never shortens: an operation longer than the document is a length mismatch.
    let mut long = Operation::from_json("[4, -2]").unwrap();
    assert_eq!(
        long.fit_to(5),
        Err(OtError::BaseLengthMismatch {
            expected: 6,
            actual: 5
        })
    );
    let parsed = CheckedOp::from_json("[4, -2]").unwrap();
    let mut rope = Document::from_text("abcde");
    assert_eq!(
        rope.apply_checked(&parsed),
        Err(OtError::BaseLengthMismatch {
            expected: 6,
            actual: 5
        })
    );
    assert_eq!(rope.to_string(), "abcde");

    // The empty operation fits any document as the identity.
    let mut empty = Operation::from_json("[]").unwrap();
    empty.fit_to(3).unwrap();
    assert_eq!(empty, Operation::identity(3));
    assert_eq!(empty.to_json(), "[3]");
}

#[test]
fn output_spans_the_whole_document_with_plain_forms() {
    let doc = "héllo 世界 👋";
    let len = doc.chars().count();
    let parsed = CheckedOp::from_json(r#"[1, {"d": "é"}, "e", 5, {"d": 1}]"#).unwrap();
    let mut rope = Document::from_text(doc);
    let full = rope.apply_checked(&parsed).unwrap();
    assert_eq!(full.base_len(), len);
    assert_eq!(full.to_json(), r#"[1,"e",-1,5,-1,2]"#);
    assert_eq!(rope.to_string(), "hello 世 👋");
    let value: serde_json::Value = serde_json::from_str(&full.to_json()).unwrap();
    for item in value.as_array().unwrap() {
        assert!(item.is_i64() || item.is_u64() || item.is_string(), "{item}");
    }
    assert_eq!(serde_json::to_value(&full).unwrap(), value);
    // The identity on an empty document is the empty array.
    assert_eq!(Operation::identity(0).to_json(), "[]");
}
