//! Pins the user-facing documentation in `docs/` to the code, so the two cannot drift apart:
//! the error-code table, the CLI flags / environment variables / defaults, the storage layout
//! and format marker, the HTTP paging limits, and every JSON example (checked against the
//! serialisers and parsers the server itself uses).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::common::process::{otterdoc, serve, ServerProcess};
use crate::common::repo_root;
use ot::{CheckedOp, Operation};
use otterdoc::config::limits::{
    CATCH_UP_PAGE, DEFAULT_OPS_LIMIT, MAX_CLIENT_ID_LEN, MAX_DOC_ID_LEN, MAX_OPS_LIMIT,
    MAX_PRESENCE_BYTES, MAX_PRESENCE_COLOR_LEN, MAX_PRESENCE_NAME_LEN, MAX_PRESENCE_RANGES,
    OUTBOUND_QUEUE, PRESENCE_HEADROOM, PRESENCE_INTERVAL, PRESENCE_RESYNC, RECENT_OPS,
};
use otterdoc::doc_id::DocId;
use otterdoc::error::{ErrorCode, Rejection};
use otterdoc::http::{error_json as http_error_json, status as http_status};
use otterdoc::identity::ANONYMOUS;
use otterdoc::session::{ERRORS_DESTINATION, FEATURES};
use otterdoc::store::{ChainHash, Change, OpRecord, SledStore, Store, StoreError, FORMAT};
use otterdoc::wire::{
    deleted_event_json, error_event_json, leave_event_json, op_event_json, presence_event_json,
    snapshot_event_json, PresenceEvent, PresenceUpdate, Submission, SubmissionIds,
};
use serde_json::{json, Value};
use strum::IntoEnumIterator;

/// The documentation files this test pins.
const DOCS: [&str; 8] = [
    "protocol.md",
    "http.md",
    "storage.md",
    "cli.md",
    "architecture.md",
    "security.md",
    "operations.md",
    "cluster.md",
];

fn doc(name: &str) -> String {
    let path = repo_root().join("docs").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Markdown helpers
// ---------------------------------------------------------------------------------------------

/// Splits a markdown table row into trimmed cells (a `|` inside backticks is not a separator).
fn cells(line: &str) -> Vec<String> {
    let line = line.trim();
    let inner = line.strip_prefix('|').unwrap_or(line);
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut out = Vec::new();
    let mut cell = String::new();
    let mut in_code = false;
    for c in inner.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                cell.push(c);
            }
            '|' if !in_code => out.push(std::mem::take(&mut cell).trim().to_owned()),
            _ => cell.push(c),
        }
    }
    out.push(cell.trim().to_owned());
    out
}

/// The body rows of every table in `md` whose header row is exactly `header`.
fn table_rows(md: &str, header: &[&str]) -> Vec<Vec<String>> {
    let lines: Vec<&str> = md.lines().collect();
    let mut rows = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if line.starts_with('|') && cells(line) == header {
            // Skip the header and the `|---|` separator.
            i += 2;
            while i < lines.len() && lines[i].trim().starts_with('|') {
                rows.push(cells(lines[i]));
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    rows
}

/// `` `x` `` → `x`; anything else unchanged.
fn unquote(cell: &str) -> &str {
    cell.strip_prefix('`')
        .and_then(|c| c.strip_suffix('`'))
        .unwrap_or(cell)
}

/// Fenced code blocks: (info string, content).
fn fenced_blocks(md: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in md.lines() {
        let trimmed = line.trim_start();
        match current.take() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    current = Some((info.trim().to_owned(), String::new()));
                }
            }
            Some((info, mut body)) => {
                if trimmed.starts_with("```") {
                    blocks.push((info, body));
                } else {
                    body.push_str(line);
                    body.push('\n');
                    current = Some((info, body));
                }
            }
        }
    }
    assert!(current.is_none(), "unterminated code block");
    blocks
}

/// Every `--long-flag` token in `text`.
fn long_flags(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i + 2 < bytes.len() {
        let at_word_start =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'-');
        if at_word_start
            && bytes[i] == b'-'
            && bytes[i + 1] == b'-'
            && bytes[i + 2].is_ascii_lowercase()
        {
            let mut j = i + 2;
            while j < bytes.len()
                && (bytes[j].is_ascii_lowercase() || bytes[j].is_ascii_digit() || bytes[j] == b'-')
            {
                j += 1;
            }
            out.insert(text[i..j].trim_end_matches('-').to_owned());
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// Every `OTTERDOC_*` name in `text`.
fn env_vars(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(pos) = rest.find("OTTERDOC_") {
        let tail = &rest[pos..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].trim_end_matches('_').to_owned());
        rest = &tail[end..];
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------------

fn run_help(args: &[&str]) -> String {
    let out = otterdoc().args(args).output().expect("run otterdoc");
    assert!(out.status.success(), "otterdoc {args:?} failed: {out:?}");
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

/// One option of `otterdoc serve --help`.
#[derive(Debug)]
struct HelpOption {
    env: Option<String>,
    default: Option<String>,
}

/// The long options of a clap help text, with their `[env: …]` and `[default: …]`.
fn help_options(help: &str) -> BTreeMap<String, HelpOption> {
    fn finish(entry: Option<(String, String)>, options: &mut BTreeMap<String, HelpOption>) {
        if let Some((flag, text)) = entry {
            let env = text
                .split("[env: ")
                .nth(1)
                .map(|t| t.split(['=', ']']).next().unwrap_or_default().to_owned());
            let default = text
                .split("[default: ")
                .nth(1)
                .map(|t| t.split(']').next().unwrap_or_default().to_owned());
            options.insert(flag, HelpOption { env, default });
        }
    }
    let mut options = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in help.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('-') {
            finish(current.take(), &mut options);
            if let Some(flag) = long_flags(trimmed).into_iter().next() {
                current = Some((flag, line.to_owned()));
            }
        } else if let Some((_, text)) = current.as_mut() {
            if trimmed.is_empty() || !line.starts_with(' ') {
                let done = current.take();
                finish(done, &mut options);
            } else {
                text.push(' ');
                text.push_str(trimmed);
            }
        }
    }
    finish(current.take(), &mut options);
    options
}

// ---------------------------------------------------------------------------------------------
// docs/protocol.md
// ---------------------------------------------------------------------------------------------

#[test]
fn every_error_code_is_in_the_protocol_table_with_its_http_status() {
    let md = doc("protocol.md");
    let rows = table_rows(&md, &["Code", "HTTP status", "When"]);
    assert!(
        !rows.is_empty(),
        "docs/protocol.md has no | Code | HTTP status | When | table"
    );
    let documented: Vec<(String, u16)> = rows
        .iter()
        .map(|row| {
            assert_eq!(
                row.len(),
                3,
                "error table row {row:?} does not have 3 cells"
            );
            let code = unquote(&row[0]).to_owned();
            let digits: String = row[1].chars().take_while(char::is_ascii_digit).collect();
            let status = digits
                .parse()
                .unwrap_or_else(|_| panic!("status {:?} of {code} is not a number", row[1]));
            assert!(!row[2].is_empty(), "error code {code} has no explanation");
            (code, status)
        })
        .collect();
    for code in ErrorCode::iter() {
        let name = code.as_str();
        // The wire form (serde) and as_str agree.
        assert_eq!(serde_json::to_value(code).unwrap(), Value::from(name));
        match documented.iter().find(|(c, _)| c == name) {
            None => panic!("error code {name} is missing from the table in docs/protocol.md"),
            Some((_, status)) => assert_eq!(
                *status,
                http_status(code).as_u16(),
                "docs/protocol.md gives {name} HTTP status {status}, the code says {}",
                http_status(code)
            ),
        }
    }
    let expected: Vec<&str> = ErrorCode::iter().map(ErrorCode::as_str).collect();
    let listed: Vec<&str> = documented.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        listed, expected,
        "docs/protocol.md must list exactly the ErrorCode variants, in their order"
    );
}

#[test]
fn http_error_tables_agree_with_the_status_of_each_code() {
    let md = doc("http.md");
    let rows = table_rows(&md, &["Status", "Code", "When"]);
    assert!(
        rows.len() >= 10,
        "docs/http.md should list the errors of each route"
    );
    for row in rows {
        let status: u16 = row[0]
            .parse()
            .unwrap_or_else(|_| panic!("bad status in {row:?}"));
        let name = unquote(&row[1]);
        let code: ErrorCode = serde_json::from_value(Value::from(name))
            .unwrap_or_else(|_| panic!("docs/http.md names an unknown error code {name:?}"));
        assert_eq!(
            status,
            http_status(code).as_u16(),
            "docs/http.md row {row:?}"
        );
    }
}

/// What a JSON example in docs/protocol.md is.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Example {
    Submission,
    OpEvent,
    SnapshotEvent,
    DeletedEvent,
    ErrorEvent,
    PresenceUpdate,
    PresenceEvent,
    LeaveEvent,
}

fn reparse(json: &str) -> Value {
    serde_json::from_str(json).expect("the server's own JSON parses")
}

/// Checks one JSON example against the code that produces or reads that body.
fn check_protocol_example(value: &Value) -> Example {
    let field = |name: &str| {
        value
            .get(name)
            .unwrap_or_else(|| panic!("{value} has no {name:?}"))
    };
    match value.get("type").and_then(Value::as_str) {
        Some("op") => {
            Operation::from_json(&field("op").to_string())
                .unwrap_or_else(|e| panic!("op of {value} does not parse: {e}"));
            let mut record = value.clone();
            let map = record.as_object_mut().unwrap();
            map.remove("type");
            let doc = map
                .remove("doc")
                .and_then(|d| d.as_str().map(str::to_owned))
                .unwrap();
            let record: OpRecord = serde_json::from_value(record)
                .unwrap_or_else(|e| panic!("op event {value} has the wrong fields: {e}"));
            assert_eq!(
                &reparse(&op_event_json(&doc, &record)),
                value,
                "op event shape"
            );
            Example::OpEvent
        }
        Some("snapshot") => {
            let json = snapshot_event_json(
                field("doc").as_str().unwrap(),
                field("version").as_u64().unwrap(),
                field("content").as_str().unwrap(),
                &ChainHash::from_hex(field("hash").as_str().unwrap()).expect("a hash"),
            );
            assert_eq!(&reparse(&json), value, "snapshot event shape");
            Example::SnapshotEvent
        }
        Some("error") => {
            let code: ErrorCode = serde_json::from_value(field("code").clone())
                .unwrap_or_else(|_| panic!("unknown code in {value}"));
            let rejection = Rejection::new(code, field("message").as_str().unwrap());
            let ids = SubmissionIds {
                client: field("client").as_str().map(str::to_owned),
                seq: field("seq").as_u64(),
            };
            let json = error_event_json(
                &rejection,
                field("doc").as_str(),
                &ids,
                field("receipt").as_str(),
            );
            assert_eq!(&reparse(&json), value, "error event shape");
            Example::ErrorEvent
        }
        Some("presence") => {
            let update = PresenceUpdate::parse(
                json!({"client": field("client"), "version": field("version"),
                       "selection": field("selection"), "name": value.get("name"),
                       "color": value.get("color")})
                .to_string()
                .as_bytes(),
            )
            .unwrap_or_else(|(e, _)| panic!("the selection of {value} is not one: {e}"));
            let json = presence_event_json(&PresenceEvent {
                session: field("session").as_str().unwrap(),
                client: &update.client,
                user: field("user").as_str().unwrap(),
                version: update.version,
                selection: &update.selection,
                name: update.name.as_deref(),
                color: update.color.as_deref(),
            });
            assert_eq!(&reparse(&json), value, "presence event shape");
            Example::PresenceEvent
        }
        Some("deleted") => {
            let json = deleted_event_json(field("doc").as_str().unwrap());
            assert_eq!(&reparse(&json), value, "deleted event shape");
            Example::DeletedEvent
        }
        Some("leave") => {
            let json = leave_event_json(field("session").as_str().unwrap());
            assert_eq!(&reparse(&json), value, "leave event shape");
            Example::LeaveEvent
        }
        Some(other) => panic!("unknown event type {other:?} in {value}"),
        None if value.get("selection").is_some() => {
            let body = value.to_string();
            let update = PresenceUpdate::parse(body.as_bytes())
                .unwrap_or_else(|(e, _)| panic!("presence example {value} is rejected: {e}"));
            assert_eq!(update.client, field("client").as_str().unwrap());
            assert!(
                update.name.is_some() && update.color.is_some(),
                "show every field"
            );
            Example::PresenceUpdate
        }
        None => {
            let keys: BTreeSet<&str> = value
                .as_object()
                .expect("an object")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys,
                BTreeSet::from(["client", "seq", "base", "op"]),
                "unclassified JSON example {value}"
            );
            let body = value.to_string();
            Submission::parse(body.as_bytes(), usize::MAX)
                .unwrap_or_else(|(e, _)| panic!("submission example {value} is rejected: {e}"));
            Example::Submission
        }
    }
}

#[test]
fn protocol_json_examples_match_the_server_bodies() {
    let md = doc("protocol.md");
    let mut seen = BTreeSet::new();
    let mut ops = 0;
    for (info, body) in fenced_blocks(&md) {
        match info.as_str() {
            "json" => {
                let value: Value = serde_json::from_str(&body)
                    .unwrap_or_else(|e| panic!("```json block is not JSON ({e}):\n{body}"));
                seen.insert(check_protocol_example(&value));
            }
            "json op" => {
                let op = CheckedOp::from_json(&body).unwrap_or_else(|e| {
                    panic!("```json op block is not a valid op ({e}):\n{body}")
                });
                let _ = op;
                ops += 1;
            }
            _ => {}
        }
    }
    let all = BTreeSet::from([
        Example::Submission,
        Example::OpEvent,
        Example::SnapshotEvent,
        Example::DeletedEvent,
        Example::ErrorEvent,
        Example::PresenceUpdate,
        Example::PresenceEvent,
        Example::LeaveEvent,
    ]);
    assert_eq!(seen, all, "docs/protocol.md must show every JSON body");
    assert!(ops >= 3, "docs/protocol.md should show ```json op examples");
}

#[test]
fn protocol_examples_of_the_wire_format_do_what_the_prose_says() {
    // The worked examples in "Operations: wire format", on the base document given there.
    let md = doc("protocol.md");
    let base = "hello world!";
    assert!(md.contains(&format!("base document `{base}`")));
    let cases = [
        (r#"[5, "abc", -3, 4]"#, "helloabcrld!"),
        (r#"[6, {"d": "world"}, "there"]"#, "hello there!"),
        (r#"["> "]"#, "> hello world!"),
    ];
    let blocks: Vec<String> = fenced_blocks(&md)
        .into_iter()
        .filter(|(info, _)| info == "json op")
        .map(|(_, body)| body.trim().to_owned())
        .collect();
    for (json, result) in cases {
        assert!(
            blocks.iter().any(|b| b == json),
            "example {json} is not in docs/protocol.md"
        );
        let checked = CheckedOp::from_json(json).unwrap();
        checked.verify(base).unwrap();
        let mut op = checked.op;
        op.fit_to(base.chars().count()).unwrap();
        assert_eq!(op.apply(base).unwrap(), result, "{json}");
    }
    assert!(md.contains("the result is `helloabcrld!`"));
    // The canonical-form example.
    let mut op = CheckedOp::from_json(r#"[5, {"d": 1}, "X"]"#).unwrap().op;
    op.fit_to(6).unwrap();
    assert_eq!(op.to_json(), r#"[5,"X",-1]"#);
    assert!(md.contains(r#"comes back as `[5, "X", -1]`"#));
}

#[test]
fn protocol_tie_break_example_is_what_the_ot_crate_computes() {
    let md = doc("protocol.md");
    assert!(md.contains("with the **incoming op on `Side::Left`**"));
    assert!(md.contains("`ot::transform_through(&incoming, history, Side::Left)`"));
    let y = Operation::from_json(r#"["y"]"#).unwrap();
    let x = Operation::from_json(r#"["x"]"#).unwrap();
    // Server: B's ["y"] arrives after A's ["x"] and is transformed on Side::Left.
    let server = ot::transform_through(&y, [&x], ot::Side::Left).unwrap();
    assert_eq!(server.to_json(), r#"["y",1]"#);
    assert!(md.contains(r#"is transformed to `["y", 1]` and the result is `yx`"#));
    assert_eq!(server.apply("x").unwrap(), "yx");
    // Client B mirrors it.
    let (pending, received) = ot::transform(&y, &x, ot::Side::Left).unwrap();
    assert_eq!(pending.to_json(), r#"["y",1]"#);
    assert_eq!(received.to_json(), r#"[1,"x"]"#);
    assert_eq!(received.apply("y").unwrap(), "yx");
    assert!(md.contains(r#"`transform(["y"], ["x"], Side::Left)` = `(["y", 1], [1, "x"])`"#));
}

#[test]
fn protocol_constants_are_the_code_constants() {
    let md = doc("protocol.md");
    assert!(md.contains(&format!("`{ERRORS_DESTINATION}`")));
    assert!(md.contains(&format!("user `{ANONYMOUS}`")));
    assert!(md.contains(&format!("1–{MAX_DOC_ID_LEN} characters")));
    assert!(md.contains(&format!("string, 1–{MAX_CLIENT_ID_LEN} characters")));
    assert!(md.contains(&format!("outbound queue of {OUTBOUND_QUEUE} items")));
    assert!(md.contains(&format!("in pages of {CATCH_UP_PAGE}")));
    assert!(md.contains("`v12.stomp` > `v11.stomp` > `v10.stomp`"));
    assert!(md.contains("`the server is shutting down`"));
    // Presence: the features header, the tie-break, and every limit as the code has it.
    assert!(md.contains(&format!("features:{}", FEATURES.join(","))));
    assert!(md.contains("**`Bias::Push`** if the op comes from the selection's own client"));
    assert!(md.contains("**`Bias::Stay`** for everyone else's ops"));
    let limits = table_rows(&md, &["Limit", "Value"]);
    let limit = |name: &str| {
        limits
            .iter()
            .find(|row| row[0] == name)
            .map(|row| row[1].clone())
            .unwrap_or_else(|| panic!("no presence limit {name:?} in docs/protocol.md"))
    };
    assert_eq!(
        limit("Presence update body"),
        format!("{MAX_PRESENCE_BYTES} bytes")
    );
    assert_eq!(
        limit("Ranges per selection"),
        MAX_PRESENCE_RANGES.to_string()
    );
    assert_eq!(
        limit("`name`"),
        format!("{MAX_PRESENCE_NAME_LEN} characters")
    );
    assert_eq!(
        limit("`color`"),
        format!("{MAX_PRESENCE_COLOR_LEN} characters")
    );
    assert_eq!(
        limit("Broadcasts per session and document"),
        format!("1 per {} ms", PRESENCE_INTERVAL.as_millis())
    );
    assert_eq!(
        limit("Resync of a subscriber without room"),
        format!("after {} ms", PRESENCE_RESYNC.as_millis())
    );
    assert_eq!(
        limit("Outbound queue slots presence leaves free"),
        format!("{PRESENCE_HEADROOM} of {OUTBOUND_QUEUE}")
    );
    assert!(md.contains(&format!("it keeps at least the {} newest", RECENT_OPS.0)));
    // The id rule as documented.
    let longest = "x".repeat(MAX_DOC_ID_LEN);
    for ok in ["a", "Doc-1.v2_~x", longest.as_str()] {
        assert!(DocId::parse(ok).is_ok(), "{ok}");
    }
    for bad in ["", "a/b", "a%20b", "é", &"x".repeat(MAX_DOC_ID_LEN + 1)] {
        assert!(DocId::parse(bad).is_err(), "{bad}");
    }
}

// ---------------------------------------------------------------------------------------------
// docs/http.md
// ---------------------------------------------------------------------------------------------

#[test]
fn http_paging_limits_are_the_code_limits() {
    let md = doc("http.md");
    let rows = table_rows(&md, &["Query", "Default", "Meaning"]);
    let limit = rows
        .iter()
        .find(|row| row[0] == "`limit`")
        .expect("docs/http.md documents the limit query parameter");
    assert_eq!(limit[1], format!("`{DEFAULT_OPS_LIMIT}`"), "default limit");
    assert!(
        limit[2].contains(&format!("clamped to `{MAX_OPS_LIMIT}`")),
        "maximum limit: {limit:?}"
    );
}

#[test]
fn http_json_examples_have_the_server_shapes() {
    let md = doc("http.md");
    let mut error_bodies = 0;
    // The examples' hash chain: each op record's hash follows the previous example's.
    let mut chain: Option<(u64, ChainHash)> = None;
    for (info, body) in fenced_blocks(&md) {
        if info != "json" {
            continue;
        }
        let value: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("```json block in docs/http.md is not JSON ({e}):\n{body}"));
        let keys: BTreeSet<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        if let Some(err) = value.get("error") {
            let code: ErrorCode = serde_json::from_value(err["code"].clone()).unwrap();
            let rejection = Rejection::new(code, err["message"].as_str().unwrap());
            assert_eq!(http_error_json(&rejection), value);
            error_bodies += 1;
        } else if keys == BTreeSet::from(["doc", "ops", "next"]) {
            for record in value["ops"].as_array().unwrap() {
                let parsed: OpRecord = serde_json::from_value(record.clone()).unwrap();
                assert_eq!(&serde_json::to_value(&parsed).unwrap(), record);
                let previous = match chain {
                    _ if parsed.version == 1 => ChainHash::GENESIS,
                    Some((v, hash)) if v + 1 == parsed.version => hash,
                    _ => panic!("the ops examples in docs/http.md should start at version 1"),
                };
                let expected = previous.next(&parsed);
                assert_eq!(parsed.hash, expected, "the hash of {record}");
                chain = Some((parsed.version, expected));
            }
            assert!(value["next"].is_null() || value["next"].is_u64());
        } else if keys == BTreeSet::from(["version", "op"])
            || keys == BTreeSet::from(["version", "op", "duplicate"])
            || keys == BTreeSet::from(["version", "op", "restored", "duplicate"])
        {
            Operation::from_json(&value["op"].to_string()).unwrap();
        } else if keys == BTreeSet::from(["doc", "from", "to", "op", "inserted", "deleted"]) {
            let op = Operation::from_json(&value["op"].to_string()).unwrap();
            let (inserted, deleted) = otterdoc::document::op_size(&op);
            assert_eq!(value["inserted"], inserted as u64, "{value}");
            assert_eq!(value["deleted"], deleted as u64, "{value}");
        } else if keys == BTreeSet::from(["changes", "cursor"]) {
            for change in value["changes"].as_array().unwrap() {
                let parsed: Change = serde_json::from_value(change.clone())
                    .unwrap_or_else(|e| panic!("{change} is not a changefeed entry: {e}"));
                assert_eq!(&serde_json::to_value(&parsed).unwrap(), change);
            }
        } else if keys == BTreeSet::from(["docs", "next"]) {
            for summary in value["docs"].as_array().unwrap() {
                let keys: BTreeSet<&str> = summary
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                assert_eq!(
                    keys,
                    BTreeSet::from(["doc", "version", "length", "created", "modified"])
                );
            }
        } else if keys.contains("hash") {
            ChainHash::from_hex(value["hash"].as_str().unwrap()).expect("a hash");
            assert!(
                keys == BTreeSet::from(["doc", "version", "content", "hash"])
                    || keys == BTreeSet::from(["doc", "ok", "version", "hash"]),
                "unexpected JSON example in docs/http.md: {value}"
            );
        } else {
            assert!(
                keys == BTreeSet::from(["status"])
                    || keys == BTreeSet::from(["doc", "ok", "version", "reason"])
                    || keys == BTreeSet::from(["doc", "deleted", "version"])
                    || keys
                        == BTreeSet::from(["doc", "from", "source_version", "version", "history"]),
                "unexpected JSON example in docs/http.md: {value}"
            );
        }
    }
    assert!(error_bodies >= 1, "docs/http.md shows the error body");
}

// ---------------------------------------------------------------------------------------------
// docs/storage.md
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn storage_layout_is_what_oplog_writes() {
    let md = doc("storage.md");
    let format = std::str::from_utf8(FORMAT).unwrap();
    assert!(
        md.contains(&format!("`{format}`")),
        "docs/storage.md names the format marker"
    );
    let layout = table_rows(&md, &["Tree", "Key", "Value"]);
    let meta_row = layout
        .iter()
        .find(|row| row[0] == "`meta`")
        .expect("docs/storage.md's layout table has the meta tree");
    assert!(
        meta_row[2].contains(&format!("`{format}`")),
        "the meta row gives the format marker: {meta_row:?}"
    );
    for name in ["`meta`", "`ops`", "`snapshots`", "`format`"] {
        assert!(md.contains(name), "docs/storage.md mentions {name}");
    }
    for (info, body) in fenced_blocks(&md) {
        if info == "json" {
            let record: OpRecord = serde_json::from_str(&body).expect("the example is an OpRecord");
            assert_eq!(
                reparse(&serde_json::to_string(&record).unwrap()),
                reparse(&body)
            );
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let notes = DocId::parse("notes").unwrap();
    let record = |version: u64, op: &str| OpRecord {
        version,
        op: Operation::from_json(op).unwrap(),
        client: "c1".into(),
        seq: version,
        user: ANONYMOUS.into(),
        time: 1_795_308_520_042 + version,
        hash: ChainHash::GENESIS,
    };
    let mut records = [record(1, r#"["hello"]"#), record(2, r#"[5,"!"]"#)];
    let mut hash = ChainHash::GENESIS;
    for r in &mut records {
        hash = r.chain_after(&hash);
    }
    {
        let store = SledStore::open(&path).unwrap();
        store
            .append(&notes, &records, &[(2, "hello!".to_owned())])
            .await
            .unwrap();
    }

    // Read it back with sled directly, as the document describes it.
    {
        let db = sled::open(&path).unwrap();
        let names: BTreeSet<Vec<u8>> = db.tree_names().into_iter().map(|n| n.to_vec()).collect();
        for tree in ["meta", "ops", "snapshots"] {
            assert!(names.contains(tree.as_bytes()), "tree {tree} exists");
        }
        let meta = db.open_tree("meta").unwrap();
        assert_eq!(meta.get("format").unwrap().as_deref(), Some(FORMAT));
        let key = |version: u64| {
            let mut k = b"notes\0".to_vec();
            k.extend_from_slice(&version.to_be_bytes());
            k
        };
        // The example key in the document.
        assert!(md.contains("6e 6f 74 65 73 00 00 00 00 00 00 00 00 01"));
        let ops = db.open_tree("ops").unwrap();
        let keys: Vec<Vec<u8>> = ops.iter().keys().map(|k| k.unwrap().to_vec()).collect();
        assert_eq!(keys, vec![key(1), key(2)]);
        for r in &records {
            let stored = ops.get(key(r.version)).unwrap().unwrap();
            let parsed: OpRecord = serde_json::from_slice(&stored).expect("value is OpRecord JSON");
            assert_eq!(&parsed, r);
        }
        let snapshots = db.open_tree("snapshots").unwrap();
        assert_eq!(
            snapshots.get(key(2)).unwrap().as_deref(),
            Some(&b"hello!"[..])
        );
        // Another format is refused at start-up.
        meta.insert("format", &b"otterdoc-ops-v0"[..]).unwrap();
        db.flush().unwrap();
    }
    match SledStore::open(&path) {
        Err(StoreError::UnknownFormat { found, .. }) => assert_eq!(found, "otterdoc-ops-v0"),
        Err(other) => panic!("expected UnknownFormat, got {other}"),
        Ok(_) => panic!("a database of another format was opened"),
    }
}

// ---------------------------------------------------------------------------------------------
// docs/cli.md
// ---------------------------------------------------------------------------------------------

#[test]
fn cli_flags_env_vars_and_defaults_match_serve_help() {
    let md = doc("cli.md");
    let serve_help = run_help(&["serve", "--help"]);
    let top_help = run_help(&["--help"]);
    let options = help_options(&serve_help);
    assert!(
        options.len() >= 9,
        "parsed too few options from --help:\n{serve_help}"
    );
    let rows = table_rows(&md, &["Flag", "Environment variable", "Default", "Meaning"]);
    assert!(!rows.is_empty(), "docs/cli.md has no flag table");

    for (flag, option) in &options {
        let row = rows
            .iter()
            .find(|row| unquote(&row[0]) == flag)
            .unwrap_or_else(|| {
                panic!("{flag} (from `otterdoc serve --help`) is not in docs/cli.md's table")
            });
        if let Some(env) = &option.env {
            assert_eq!(unquote(&row[1]), env, "environment variable of {flag}");
        }
        if let Some(default) = &option.default {
            assert_eq!(unquote(&row[2]), default, "default of {flag}");
        }
    }

    // Vice versa: nothing documented that does not exist.
    let existing: BTreeSet<String> = long_flags(&serve_help)
        .union(&long_flags(&top_help))
        .cloned()
        .collect();
    for name in DOCS {
        for flag in long_flags(&doc(name)) {
            assert!(
                existing.contains(&flag),
                "docs/{name} documents {flag}, which otterdoc does not have"
            );
        }
    }
    let help_envs = env_vars(&serve_help);
    let doc_envs = env_vars(&md);
    assert_eq!(
        doc_envs, help_envs,
        "OTTERDOC_* variables in docs/cli.md vs --help"
    );
    for row in &rows {
        assert!(
            options.contains_key(unquote(&row[0]))
                || long_flags(&top_help).contains(unquote(&row[0])),
            "docs/cli.md's table lists {}, which is not an option",
            row[0]
        );
    }
}

#[test]
fn cli_exit_statuses_are_as_documented() {
    let md = doc("cli.md");
    let statuses: BTreeSet<String> = table_rows(&md, &["Status", "When"])
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(
        statuses,
        BTreeSet::from(["0".into(), "1".into(), "2".into()])
    );
    assert!(md.contains("`Error: otterdoc could not start`"));

    // 2: invalid command line.
    let bad_flag = otterdoc()
        .args(["serve", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(bad_flag.status.code(), Some(2));
    let bad_value = otterdoc()
        .args(["serve", "--snapshot-interval", "0"])
        .output()
        .unwrap();
    assert_eq!(bad_value.status.code(), Some(2));

    // 1: the listen address cannot be bound.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = otterdoc()
        .args(["serve", "--listen", &addr, "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Error: otterdoc could not start"));
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout when start-up fails"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn cli_prints_the_listening_line_and_exits_0_on_sigterm() {
    let md = doc("cli.md");
    assert!(md.contains("otterdoc listening on 127.0.0.1:8080"));
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = serve(&dir.path().join("data"), &[]);
    cmd.env("RUST_LOG", "warn");
    // `start` reads the first stdout line and parses the address (with a real port) from it.
    let mut server = ServerProcess::start(cmd);
    server.terminate();
    let status = server
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
}

#[test]
fn docs_cross_references_point_at_existing_files_and_anchors() {
    // Links like [text](file.md#anchor) between the docs resolve.
    let anchors = |md: &str| -> BTreeSet<String> {
        md.lines()
            .filter_map(|l| l.strip_prefix('#'))
            .map(|h| {
                let title = h.trim_start_matches('#').trim().to_lowercase();
                title
                    .chars()
                    .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
                    .map(|c| if c == ' ' { '-' } else { c })
                    .collect()
            })
            .collect()
    };
    for name in DOCS {
        let md = doc(name);
        let mut rest = md.as_str();
        while let Some(pos) = rest.find("](") {
            let tail = &rest[pos + 2..];
            let end = tail.find(')').expect("closing parenthesis");
            let target = &tail[..end];
            rest = &tail[end..];
            if target.starts_with("http") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
            let file = if file.is_empty() { name } else { file };
            assert!(
                DOCS.contains(&file),
                "docs/{name} links to unknown file {target}"
            );
            if !anchor.is_empty() {
                assert!(
                    anchors(&doc(file)).contains(anchor),
                    "docs/{name} links to missing anchor {target}"
                );
            }
        }
    }
}

#[test]
fn source_paths_named_in_the_docs_exist() {
    // `src/...`, `tests/...` etc. in backticks: a moved file must take its mentions with it.
    let roots = [
        "src/", "tests/", "ot/", "fuzz/", "scripts/", "clients/", "bench/", "docs/",
    ];
    let mut files: Vec<(String, String)> =
        DOCS.iter().map(|n| (format!("docs/{n}"), doc(n))).collect();
    for extra in [
        "README.md",
        "docs/benchmarks.md",
        "fuzz/README.md",
        "tests/interop/README.md",
        "ot/testdata/README.md",
        "bench/peers/sharedb/README.md",
        "clients/js/README.md",
    ] {
        let text = std::fs::read_to_string(repo_root().join(extra)).unwrap();
        files.push((extra.to_owned(), text));
    }
    let mut checked = 0;
    for (name, text) in files {
        for (i, quoted) in text.split('`').enumerate() {
            let is_code = i % 2 == 1;
            let looks_like_path = roots.iter().any(|r| quoted.starts_with(r))
                && !quoted.contains(' ')
                && !quoted.contains('<')
                && !quoted.contains('*');
            if !is_code || !looks_like_path {
                continue;
            }
            checked += 1;
            let path = quoted.split(['#', ':']).next().unwrap();
            // Relative to the repository, or (in a package's README) to the package.
            let beside = std::path::Path::new(&name)
                .parent()
                .unwrap_or(std::path::Path::new(""));
            assert!(
                repo_root().join(path).exists() || repo_root().join(beside).join(path).exists(),
                "{name} names {quoted}, which does not exist"
            );
        }
    }
    assert!(checked >= 10, "only {checked} paths found in the docs");
}
