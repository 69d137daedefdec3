//! A session's open STOMP transactions: the SENDs each one holds until COMMIT submits them (in
//! order) or ABORT drops them. Bounded per transaction, so a client cannot grow our memory by
//! never committing.

use std::collections::HashMap;

use crate::config::limits::MAX_TRANSACTION_FRAMES;
use crate::stomp::Send;

/// Open transactions by name.
#[derive(Debug, Default)]
pub(super) struct Transactions {
    open: HashMap<String, Vec<Send>>,
}

impl Transactions {
    /// BEGIN `tx`; at most `max` may be open at once.
    pub(super) fn begin(&mut self, tx: &str, max: usize) -> Result<(), String> {
        if self.open.contains_key(tx) {
            return Err(format!("transaction {tx:?} is already open"));
        }
        if self.open.len() >= max {
            return Err(format!(
                "too many open transactions: a connection may have {max} (--max-transactions)"
            ));
        }
        self.open.insert(tx.to_owned(), Vec::new());
        Ok(())
    }

    /// Holds a SEND of transaction `tx` until its COMMIT or ABORT.
    pub(super) fn hold(&mut self, tx: &str, send: Send) -> Result<(), String> {
        let Some(held) = self.open.get_mut(tx) else {
            return Err(format!("no open transaction {tx:?}"));
        };
        if held.len() >= MAX_TRANSACTION_FRAMES {
            return Err(format!(
                "transaction {tx:?} holds more than {MAX_TRANSACTION_FRAMES} SENDs"
            ));
        }
        held.push(send);
        Ok(())
    }

    /// Ends `tx` (COMMIT or ABORT), handing back its SENDs in order.
    pub(super) fn end(&mut self, tx: &str) -> Result<Vec<Send>, String> {
        self.open
            .remove(tx)
            .ok_or_else(|| format!("no open transaction {tx:?}"))
    }

    /// Drops every open transaction (the session is closing, as STOMP requires).
    pub(super) fn clear(&mut self) {
        self.open.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(n: u8) -> Send {
        Send {
            destination: "/app/doc/a".into(),
            transaction: Some("t".into()),
            receipt: None,
            user: None,
            body: vec![n].into(),
        }
    }

    #[test]
    fn holds_in_order_and_refuses_what_is_not_open() {
        let mut txs = Transactions::default();
        assert_eq!(
            txs.hold("t", send(1)),
            Err("no open transaction \"t\"".into())
        );
        txs.begin("t", 2).unwrap();
        assert_eq!(
            txs.begin("t", 2),
            Err("transaction \"t\" is already open".into())
        );
        txs.begin("u", 2).unwrap();
        assert!(txs
            .begin("v", 2)
            .unwrap_err()
            .contains("too many open transactions"));
        txs.hold("t", send(1)).unwrap();
        txs.hold("t", send(2)).unwrap();
        let held = txs.end("t").unwrap();
        assert_eq!(held, vec![send(1), send(2)]);
        assert!(txs.end("t").is_err());
    }

    #[test]
    fn a_transaction_holds_at_most_the_limit() {
        let mut txs = Transactions::default();
        txs.begin("t", 1).unwrap();
        for _ in 0..MAX_TRANSACTION_FRAMES {
            txs.hold("t", send(0)).unwrap();
        }
        assert!(txs
            .hold("t", send(0))
            .unwrap_err()
            .contains("holds more than"));
    }
}
