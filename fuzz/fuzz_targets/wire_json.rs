//! Arbitrary bytes through the JSON wire format: parsing never panics, the three entry points
//! (`CheckedOp::from_json`, `Operation::from_json`, serde) agree, a parsed operation is canonical
//! and round-trips through `to_json`, and a parsed `CheckedOp` can be verified / applied against
//! a few fixed documents without panicking (string and rope agree).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ot::testkit::{assert_canonical, char_len};
use ot::{CheckedOp, ComponentError, Document, Operation, OtError, WireError};

const DOCS: &[&str] = &[
    "",
    "a",
    "abc",
    "héllo, wörld 😀👩\u{200D}🚀 中文",
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    let checked = CheckedOp::from_json(text);
    let plain = Operation::from_json(text);
    let checked_serde = serde_json::from_str::<CheckedOp>(text);
    let plain_serde = serde_json::from_str::<Operation>(text);

    // serde agrees with from_json.
    assert_eq!(
        checked.as_ref().ok(),
        checked_serde.as_ref().ok(),
        "CheckedOp: from_json vs serde on {text:?}"
    );
    assert_eq!(
        plain.as_ref().ok(),
        plain_serde.as_ref().ok(),
        "Operation: from_json vs serde on {text:?}"
    );

    // Operation::from_json is CheckedOp::from_json minus the checked deletes.
    match &checked {
        Ok(c) if c.checks.is_empty() => {
            assert_eq!(
                plain.as_ref(),
                Ok(&c.op),
                "unchecked parse differs on {text:?}"
            )
        }
        Ok(c) => assert!(
            matches!(
                &plain,
                Err(WireError::Component { index, reason: ComponentError::UncheckedContext })
                    if *index == c.checks[0].index
            ),
            "checked delete accepted by Operation::from_json: {plain:?} on {text:?}"
        ),
        Err(e) => assert_eq!(plain.as_ref(), Err(e), "different errors on {text:?}"),
    }

    if let Ok(op) = &plain {
        assert_canonical(op);
        let json = op.to_json();
        let back = Operation::from_json(&json);
        assert_eq!(
            back.as_ref(),
            Ok(op),
            "round trip through {json:?} of {text:?}"
        );
        let value: serde_json::Value = serde_json::from_str(&json).expect("to_json is JSON");
        assert_eq!(
            serde_json::to_value(op).ok(),
            Some(value),
            "to_json vs to_value"
        );
    }

    if let Ok(c) = &checked {
        assert_canonical(&c.op);
        let mut prev_end = 0usize;
        for check in &c.checks {
            assert!(!check.text.is_empty(), "empty checked delete");
            assert!(check.position >= prev_end, "checks out of order: {c:?}");
            prev_end = check.position + char_len(&check.text);
            assert!(prev_end <= c.op.base_len(), "check past the op: {c:?}");
        }
        for doc in DOCS {
            let on_str = c.verify(*doc);
            let mut rope = Document::from_text(doc);
            assert_eq!(
                on_str,
                c.verify(&rope),
                "verify: str vs Document on {doc:?}"
            );
            let applied = rope.apply_checked(c);
            match applied {
                Ok(full) => {
                    assert!(on_str.is_ok());
                    let mut expected = c.op.clone();
                    expected
                        .fit_to(char_len(doc))
                        .expect("apply_checked succeeded");
                    assert_eq!(full, expected);
                    assert_eq!(rope.to_string(), full.apply(doc).expect("fits"));
                }
                Err(e) => {
                    assert_eq!(
                        rope.to_string(),
                        *doc,
                        "failed apply_checked changed the doc"
                    );
                    if on_str.is_ok() {
                        assert!(matches!(e, OtError::BaseLengthMismatch { .. }), "{e:?}");
                    }
                }
            }
        }
    }
});
