//! The public website: the files of `web/`, embedded in the binary so one binary serves the
//! log and its pages.
//!
//! Pages are plain HTML with ES modules that render from the JSON API and verify in the
//! browser (WebCrypto) what they show; no build step, no third-party requests (the Content
//! Security Policy allows only this origin). Routes:
//!
//! | path | page |
//! |---|---|
//! | `/` | home: the log, its checkpoint, counts by status, the latest entries |
//! | `/commitments?platform=&status=` | commitments, filterable, with countdowns |
//! | `/commitments/<i>` | one commitment: timeline, digest, download, batches, audits |
//! | `/parties`, `/parties/<name>` | platforms and auditors, their keys and record |
//! | `/entries/<i>` | any entry, decoded, with its verification |
//! | `/search?q=` | search by index, digest, platform or model name |
//! | `/assets/<file>` | styles and scripts |
//!
//! Responses carry an ETag (and answer `If-None-Match` with 304) and `Cache-Control:
//! no-cache`, so a new binary's pages are picked up at once. For work on the pages, setting
//! `EMBARGO_WEB_DIR` to a `web/` directory serves the files from disk instead of the embedded
//! copies.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

macro_rules! file {
    ($path:literal, $ct:expr) => {
        (
            $path,
            $ct,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $path)) as &[u8],
        )
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Every file of `web/`: (path under `web/`, content type, bytes).
static FILES: &[(&str, &str, &[u8])] = &[
    file!("index.html", HTML),
    file!("commitments.html", HTML),
    file!("commitment.html", HTML),
    file!("parties.html", HTML),
    file!("party.html", HTML),
    file!("entry.html", HTML),
    file!("search.html", HTML),
    file!("assets/style.css", "text/css; charset=utf-8"),
    file!("assets/icon.svg", "image/svg+xml"),
    file!("assets/app.js", JS),
    file!("assets/verify.js", JS),
    file!("assets/home.js", JS),
    file!("assets/commitments.js", JS),
    file!("assets/commitment.js", JS),
    file!("assets/parties.js", JS),
    file!("assets/party.js", JS),
    file!("assets/entry.js", JS),
    file!("assets/search.js", JS),
];

/// Pages allow scripts, styles, images and requests from this origin only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|h: HeaderMap| page("index.html", h)))
        .route(
            "/commitments",
            get(|h: HeaderMap| page("commitments.html", h)),
        )
        .route(
            "/commitments/{index}",
            get(|h: HeaderMap| page("commitment.html", h)),
        )
        .route("/parties", get(|h: HeaderMap| page("parties.html", h)))
        .route("/parties/{name}", get(|h: HeaderMap| page("party.html", h)))
        .route(
            "/entries/{index}",
            get(|h: HeaderMap| page("entry.html", h)),
        )
        .route("/search", get(|h: HeaderMap| page("search.html", h)))
        .route("/assets/{*file}", get(asset))
}

fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        FILES
            .iter()
            .map(|(_, _, bytes)| {
                let d = Sha256::digest(bytes);
                format!("\"{}\"", hex16(&d[..8]))
            })
            .collect()
    })
}

fn hex16(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn page(name: &'static str, headers: HeaderMap) -> Response {
    serve(name, &headers)
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&format!("assets/{file}"), &headers)
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(i) = FILES.iter().position(|(p, _, _)| *p == path) else {
        return super::ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("/{path} is not one of the website's files"),
        )
        .into_response();
    };
    let (_, content_type, embedded) = FILES[i];
    let from_disk = std::env::var_os("EMBARGO_WEB_DIR")
        .and_then(|dir| std::fs::read(std::path::Path::new(&dir).join(path)).ok());
    let (body, etag) = match from_disk {
        Some(bytes) => {
            let tag = format!("\"{}\"", hex16(&Sha256::digest(&bytes)[..8]));
            (bytes, tag)
        }
        None => (embedded.to_vec(), etags()[i].clone()),
    };
    let mut resp = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(body.into())
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if content_type == HTML {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `web/` is embedded (a new page or script cannot be forgotten).
    #[test]
    fn every_web_file_is_embedded() {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, root, out);
                } else {
                    let rel = p
                        .strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/");
                    out.push(rel);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut found = Vec::new();
        walk(&root, &root, &mut found);
        for f in &found {
            assert!(
                FILES.iter().any(|(p, _, _)| p == f),
                "web/{f} is not listed in src/server/web.rs FILES"
            );
        }
        for (p, ct, _) in FILES {
            let want = if p.ends_with(".html") {
                HTML
            } else if p.ends_with(".js") {
                JS
            } else {
                ct
            };
            assert_eq!(*ct, want, "{p}");
        }
    }
}
