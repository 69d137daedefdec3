//! The demo editor's files, embedded in the binary at build time so that the binary alone
//! serves a working editor (`GET /`, `GET /d/<id>`, `GET /assets/<file>`; routes in `http.rs`).
//! They are the committed output of `clients/demo` (`npm run build --prefix clients/demo`);
//! `scripts/test.sh` rebuilds them and fails if what is committed here is stale.

use std::sync::LazyLock;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Its bytes.
    pub body: &'static [u8],
    /// Its `content-type`.
    pub content_type: &'static str,
    /// A strong validator of its content (`ETag`), so browsers revalidate instead of refetching.
    pub etag: String,
}

/// FNV-1a, 64 bits: a content fingerprint for the ETag (not a security boundary).
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn asset(body: &'static [u8], content_type: &'static str) -> Asset {
    Asset {
        body,
        content_type,
        etag: format!("\"{:016x}\"", fingerprint(body)),
    }
}

/// The page: the same HTML for `/` and `/d/<id>` (the script reads the path).
pub static PAGE: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        include_bytes!("../assets/demo/index.html"),
        "text/html; charset=utf-8",
    )
});

static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        include_bytes!("../assets/demo/app.js"),
        "text/javascript; charset=utf-8",
    )
});

static STYLE: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        include_bytes!("../assets/demo/app.css"),
        "text/css; charset=utf-8",
    )
});

/// The file served at `/assets/<name>`, if there is one.
pub fn file(name: &str) -> Option<&'static Asset> {
    match name {
        "app.js" => Some(&SCRIPT),
        "app.css" => Some(&STYLE),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_the_embedded_script_and_stylesheet() {
        let page = std::str::from_utf8(PAGE.body).unwrap();
        for name in ["app.js", "app.css"] {
            assert!(page.contains(&format!("/assets/{name}")), "{name}");
            assert!(!file(name).unwrap().body.is_empty());
        }
        assert!(file("index.html").is_none() && file("../Cargo.toml").is_none());
        assert_ne!(SCRIPT.etag, STYLE.etag);
    }
}
