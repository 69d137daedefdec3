//! The canonical-form check. Every operation the crate hands out — built, parsed, composed,
//! transformed or inverted — must pass it, because equality of operations (and of their JSON)
//! is only meaningful between canonical ones.

use crate::{Component, Operation};

/// Panics unless `op` is in canonical form and its cached lengths are right: no empty
/// components, no two adjacent components of the same kind, never a delete directly followed by
/// an insert; `base_len`, `target_len` and `is_noop` agree with the components; and
/// re-canonicalising its components gives it back unchanged (idempotence).
pub fn assert_canonical(op: &Operation) {
    let comps = op.components();
    let (mut base, mut target) = (0usize, 0usize);
    for (i, c) in comps.iter().enumerate() {
        match c {
            Component::Retain(n) | Component::Delete(n) => assert!(*n > 0, "empty {c:?} in {op:?}"),
            Component::Insert(s) => assert!(!s.is_empty(), "empty insert in {op:?}"),
        }
        base += c.base_len();
        target += c.target_len();
        if i > 0 {
            let prev = &comps[i - 1];
            assert!(
                std::mem::discriminant(prev) != std::mem::discriminant(c),
                "adjacent components of one kind at {i} in {op:?}"
            );
            assert!(
                !matches!((prev, c), (Component::Delete(_), Component::Insert(_))),
                "delete before insert at {i} in {op:?}"
            );
        }
    }
    assert_eq!(op.base_len(), base, "cached base_len of {op:?}");
    assert_eq!(op.target_len(), target, "cached target_len of {op:?}");
    assert_eq!(
        op.is_noop(),
        comps.iter().all(|c| matches!(c, Component::Retain(_))),
        "is_noop of {op:?}"
    );
    let again = Operation::from_components(comps.iter().cloned());
    assert_eq!(&again, op, "canonical form is not idempotent");
    assert_eq!(again.into_components(), comps, "into_components");
}
