//! `ClientState` converges with a server that transforms like otterdoc's: K simulated editors
//! make random edits, send with one op in flight, and receive the server's ops in order, with
//! every interleaving of those steps chosen at random. At the end every editor's text equals
//! the server's, and the server's history holds each submitted op exactly once.
//!
//! A second simulation pins what the tie-break is for: editors that all type at one caret
//! (kept before text others insert at it, as editors do) each end with one unbroken run.

use std::collections::VecDeque;

use ot::testkit::{proptest_config, SplitMix64};
use ot::{transform_index, transform_through, Bias, ClientState, Operation, Side};
use proptest::prelude::*;

/// What the server broadcasts: an op as applied, and whose it was.
#[derive(Clone)]
struct Event {
    op: Operation,
    author: usize,
}

struct Server {
    text: String,
    history: Vec<Event>,
}

impl Server {
    /// Applies `op` made against version `base`, as the server does: transformed through
    /// everything after `base`, the incoming op on `Side::Left`.
    fn submit(&mut self, author: usize, base: usize, op: &Operation) -> Event {
        let op = transform_through(op, self.history[base..].iter().map(|e| &e.op), Side::Left)
            .expect("fits the history");
        self.text = op.apply(&self.text).expect("applies");
        let event = Event { op, author };
        self.history.push(event.clone());
        event
    }
}

struct Editor {
    text: String,
    /// Server version this editor's text is based on (ops received).
    version: usize,
    state: ClientState,
    /// Sent, not yet received by the server: (base, op).
    outbox: VecDeque<(usize, Operation)>,
    /// Server events not yet received by this editor.
    inbox: VecDeque<Event>,
    submitted: usize,
    /// Where this editor types (code points), when it is a typist.
    caret: usize,
    /// A typist types this character at its caret instead of making random edits.
    types: Option<char>,
}

impl Editor {
    fn edit(&mut self, rng: &mut SplitMix64) {
        let len = self.text.chars().count();
        if let Some(c) = self.types {
            let op = Operation::splice(len, self.caret, 0, &c.to_string()).expect("splice");
            self.caret += 1;
            return self.submit_local(op);
        }
        let pos = rng.below(len + 1);
        let del = if len > pos {
            rng.below((len - pos).min(3) + 1)
        } else {
            0
        };
        let ins = rng.text(3);
        let op = Operation::splice(len, pos, del, &ins).expect("splice");
        if op.is_noop() {
            return;
        }
        self.submit_local(op);
    }

    fn submit_local(&mut self, op: Operation) {
        self.text = op.apply(&self.text).expect("local apply");
        if let Some(send) = self.state.local(op).expect("local") {
            self.outbox.push_back((self.version, send));
            self.submitted += 1;
        }
    }

    fn receive(&mut self, me: usize) {
        let Some(event) = self.inbox.pop_front() else {
            return;
        };
        self.version += 1;
        if event.author == me {
            if let Some(send) = self.state.ack().expect("ack") {
                self.outbox.push_back((self.version, send));
                self.submitted += 1;
            }
        } else {
            let op = self.state.remote(&event.op).expect("remote");
            self.text = op.apply(&self.text).expect("remote apply");
            self.caret = transform_index(self.caret, &op, Bias::Stay);
        }
    }
}

fn simulate(seed: u64, editors: usize, steps: usize) -> String {
    simulate_with(seed, editors, steps, |_| None)
}

/// Runs the simulation; `types(i)` makes editor `i` a typist of that character.
fn simulate_with(
    seed: u64,
    editors: usize,
    steps: usize,
    types: impl Fn(usize) -> Option<char>,
) -> String {
    let mut rng = SplitMix64(seed);
    let mut server = Server {
        text: String::new(),
        history: Vec::new(),
    };
    let mut eds: Vec<Editor> = (0..editors)
        .map(|i| Editor {
            text: String::new(),
            version: 0,
            state: ClientState::default(),
            outbox: VecDeque::new(),
            inbox: VecDeque::new(),
            submitted: 0,
            caret: 0,
            types: types(i),
        })
        .collect();
    let step = |server: &mut Server, eds: &mut Vec<Editor>, rng: &mut SplitMix64, edit: bool| {
        let i = rng.below(editors);
        match rng.below(3) {
            0 if edit => eds[i].edit(rng),
            1 => {
                if let Some((base, op)) = eds[i].outbox.pop_front() {
                    let event = server.submit(i, base, &op);
                    for e in eds.iter_mut() {
                        e.inbox.push_back(event.clone());
                    }
                }
            }
            _ => eds[i].receive(i),
        }
    };
    for _ in 0..steps {
        step(&mut server, &mut eds, &mut rng, true);
    }
    // Quiesce: no more edits; deliver everything.
    while eds
        .iter()
        .any(|e| !e.outbox.is_empty() || !e.inbox.is_empty())
    {
        step(&mut server, &mut eds, &mut rng, false);
    }
    for (i, e) in eds.iter().enumerate() {
        assert_eq!(
            e.state,
            ClientState::Synchronized,
            "editor {i} has nothing pending"
        );
        assert_eq!(e.text, server.text, "editor {i} converged (seed {seed})");
        assert_eq!(e.version, server.history.len());
        let mine = server.history.iter().filter(|ev| ev.author == i).count();
        assert_eq!(
            mine, e.submitted,
            "editor {i}'s ops are in the history once each"
        );
    }
    server.text
}

/// Typists all start at one caret and type concurrently: the result holds each typist's
/// characters as one run (and converges, as every simulation checks).
fn typists_keep_their_runs(seed: u64, typists: usize, steps: usize) {
    let letters = ['a', 'b', 'c', 'd', 'e'];
    let text = simulate_with(seed, typists, steps, |i| Some(letters[i]));
    let mut runs: Vec<char> = text.chars().collect();
    runs.dedup();
    let mut distinct = runs.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        runs.len(),
        distinct.len(),
        "interleaved runs (seed {seed}): {text}"
    );
}

proptest! {
    #![proptest_config(proptest_config("proptest-regressions/client.txt"))]

    #[test]
    fn editors_converge_with_the_server(seed in any::<u64>(), editors in 1usize..5, steps in 1usize..300) {
        simulate(seed, editors, steps);
    }

    #[test]
    fn typists_at_one_caret_each_get_one_run(seed in any::<u64>(), typists in 2usize..5, steps in 1usize..300) {
        typists_keep_their_runs(seed, typists, steps);
    }
}

#[test]
fn many_editors_long_run() {
    simulate(7, 8, 5000);
}

#[test]
fn typists_long_run() {
    typists_keep_their_runs(11, 5, 5000);
}
