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
//! Every page is `web/layout.html` (head, header, navigation, footer) around the `<main>` of
//! `web/pages/<page>.html`, which starts with a comment giving its `title:`, `script:` and,
//! optionally, the `nav:` link marked as the current page. They are put together once, when
//! first asked for ([`render`]).
//!
//! Responses carry an ETag (and answer `If-None-Match` with 304) and `Cache-Control:
//! no-cache`, so a new binary's pages are picked up at once. For work on the pages, setting
//! `EMBARGO_WEB_DIR` to a `web/` directory serves the files from disk instead of the embedded
//! copies.

use super::routes::Routes;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
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
    file!("layout.html", HTML),
    file!("pages/index.html", HTML),
    file!("pages/commitments.html", HTML),
    file!("pages/commitment.html", HTML),
    file!("pages/parties.html", HTML),
    file!("pages/party.html", HTML),
    file!("pages/entry.html", HTML),
    file!("pages/search.html", HTML),
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

pub(crate) fn routes(t: Routes) -> Routes {
    t.get("/", |h: HeaderMap| page("index", h))
        .get("/commitments", |h: HeaderMap| page("commitments", h))
        .get("/commitments/{index}", |h: HeaderMap| page("commitment", h))
        .get("/parties", |h: HeaderMap| page("parties", h))
        .get("/parties/{name}", |h: HeaderMap| page("party", h))
        .get("/entries/{index}", |h: HeaderMap| page("entry", h))
        .get("/search", |h: HeaderMap| page("search", h))
        .get("/assets/{*file}", asset)
}

/// The parts of `pages/<page>.html`: what its opening comment says, and its `<main>`.
#[derive(Debug, PartialEq)]
struct Page<'a> {
    title: &'a str,
    script: &'a str,
    nav: Option<&'a str>,
    main: &'a str,
}

impl<'a> Page<'a> {
    fn parse(text: &'a str) -> Result<Page<'a>, String> {
        let front = text
            .strip_prefix("<!--\n")
            .and_then(|t| t.split_once("-->\n"))
            .ok_or("a page must start with a `<!--` comment giving its title and script")?;
        let (mut title, mut script, mut nav) = (None, None, None);
        for line in front.0.lines() {
            match line.split_once(": ") {
                Some(("title", v)) => title = Some(v),
                Some(("script", v)) => script = Some(v),
                Some(("nav", v)) => nav = Some(v),
                _ => return Err(format!("the page's opening comment has a line {line:?}: only `title: `, `script: ` and `nav: ` lines belong there")),
            }
        }
        Ok(Page {
            title: title.ok_or("the page's opening comment gives no `title: `")?,
            script: script.ok_or("the page's opening comment gives no `script: `")?,
            nav,
            main: front.1,
        })
    }
}

/// `layout` around `page` (the texts of `layout.html` and `pages/<page>.html`).
fn render(layout: &str, page: &str) -> Result<String, String> {
    let page = Page::parse(page)?;
    for slot in ["{{title}}", "{{script}}", "{{main}}"] {
        if layout.matches(slot).count() != 1 {
            return Err(format!("layout.html must hold {slot} exactly once"));
        }
    }
    let mut html = layout
        .replace("{{title}}", page.title)
        .replace("{{script}}", page.script)
        .replace("{{main}}", page.main);
    if let Some(nav) = page.nav {
        let link = format!("<a href=\"{nav}\">");
        if !html.contains(&link) {
            return Err(format!(
                "the navigation in layout.html has no link to {nav}"
            ));
        }
        html = html.replacen(
            &link,
            &format!("<a href=\"{nav}\" aria-current=\"page\">"),
            1,
        );
    }
    Ok(html)
}

fn etag_of(bytes: &[u8]) -> String {
    format!("\"{}\"", hex16(&Sha256::digest(bytes)[..8]))
}

fn hex16(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn embedded(path: &str) -> Option<(&'static str, &'static [u8])> {
    FILES
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, ct, bytes)| (*ct, *bytes))
}

/// A file of `web/`: from `EMBARGO_WEB_DIR` when that is set and has it, else the embedded
/// copy.
fn source(path: &str) -> Option<(&'static str, Vec<u8>)> {
    let (content_type, bytes) = embedded(path)?;
    let from_disk = std::env::var_os("EMBARGO_WEB_DIR")
        .and_then(|dir| std::fs::read(std::path::Path::new(&dir).join(path)).ok());
    Some((content_type, from_disk.unwrap_or_else(|| bytes.to_vec())))
}

/// A page put together: its HTML and ETag, or why it could not be.
type Rendered = Result<(Vec<u8>, String), String>;

fn rendered(layout: &str, page: &str) -> Rendered {
    let html = render(layout, page)?.into_bytes();
    let etag = etag_of(&html);
    Ok((html, etag))
}

/// The embedded pages, put together once: (name, page).
fn embedded_pages() -> &'static [(String, Rendered)] {
    static PAGES: OnceLock<Vec<(String, Rendered)>> = OnceLock::new();
    PAGES.get_or_init(|| {
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let layout = text(embedded("layout.html").map_or(&[][..], |(_, b)| b));
        FILES
            .iter()
            .filter_map(|(p, _, bytes)| {
                let name = p.strip_prefix("pages/")?.strip_suffix(".html")?;
                Some((name.to_owned(), rendered(&layout, &text(bytes))))
            })
            .collect()
    })
}

async fn page(name: &'static str, headers: HeaderMap) -> Response {
    let page = if std::env::var_os("EMBARGO_WEB_DIR").is_some() {
        let text = |path: &str| source(path).map(|(_, b)| String::from_utf8_lossy(&b).into_owned());
        match (text("layout.html"), text(&format!("pages/{name}.html"))) {
            (Some(layout), Some(page)) => rendered(&layout, &page),
            _ => Err(format!("the website has no page {name}")),
        }
    } else {
        embedded_pages()
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(
                || Err(format!("the website has no page {name}")),
                |(_, r)| r.clone(),
            )
    };
    match page {
        Ok((body, etag)) => respond(body, etag, HTML, &headers),
        Err(why) => super::ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "page_unavailable",
            format!("the page {name} could not be put together: {why}"),
        )
        .into_response(),
    }
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let path = format!("assets/{file}");
    match source(&path) {
        Some((content_type, body)) => {
            let etag = if std::env::var_os("EMBARGO_WEB_DIR").is_some() {
                etag_of(&body)
            } else {
                embedded_etag(&path)
            };
            respond(body, etag, content_type, &headers)
        }
        None => super::ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("/{path} is not one of the website's files"),
        )
        .into_response(),
    }
}

/// The ETag of an embedded file, computed once.
fn embedded_etag(path: &str) -> String {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    let etags = ETAGS.get_or_init(|| FILES.iter().map(|(_, _, b)| etag_of(b)).collect());
    FILES
        .iter()
        .position(|(p, _, _)| *p == path)
        .map_or_else(String::new, |i| etags[i].clone())
}

fn respond(
    body: Vec<u8>,
    etag: String,
    content_type: &'static str,
    headers: &HeaderMap,
) -> Response {
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

    /// Every page is put together from the embedded layout: one title, its own script (a
    /// file of the website), one `<main>`, at most one navigation link marked current, and no
    /// placeholder left over.
    #[test]
    fn every_page_renders_from_the_layout() {
        let pages = embedded_pages();
        assert_eq!(pages.len(), 7);
        for (name, page) in pages {
            let html = String::from_utf8(page.clone().unwrap().0).unwrap();
            let source =
                String::from_utf8_lossy(embedded(&format!("pages/{name}.html")).unwrap().1)
                    .into_owned();
            let page = Page::parse(&source).unwrap();
            assert!(html.starts_with("<!doctype html>"), "{name}");
            assert!(!html.contains("{{"), "{name}: a placeholder is left");
            assert_eq!(html.matches("<main").count(), 1, "{name}");
            assert!(
                html.contains(&format!("<title>{}</title>", page.title)),
                "{name}"
            );
            let script = page.script.strip_prefix('/').unwrap();
            assert!(
                embedded(script).is_some(),
                "{name}: {script} is not a file of the website"
            );
            assert!(html.matches("aria-current=\"page\"").count() <= 1, "{name}");
            if let Some(nav) = page.nav {
                assert!(
                    html.contains(&format!("<a href=\"{nav}\" aria-current=\"page\">")),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn a_malformed_page_or_layout_says_what_is_wrong() {
        let layout = "<title>{{title}}</title><script src=\"{{script}}\"></script><a href=\"/\">Home</a>{{main}}";
        let ok = "<!--\ntitle: T\nscript: /assets/x.js\nnav: /\n-->\n<main></main>\n";
        assert_eq!(
            render(layout, ok).unwrap(),
            "<title>T</title><script src=\"/assets/x.js\"></script><a href=\"/\" aria-current=\"page\">Home</a><main></main>\n"
        );
        let err = |layout: &str, page: &str| render(layout, page).unwrap_err();
        assert!(err(layout, "<main></main>").contains("must start with a `<!--` comment"));
        assert!(err(layout, "<!--\nscript: /a.js\n-->\n").contains("no `title: `"));
        assert!(err(layout, "<!--\ntitle: T\n-->\n").contains("no `script: `"));
        assert!(
            err(layout, "<!--\ntitle: T\nscript: /a.js\nlang: en\n-->\n").contains("\"lang: en\"")
        );
        assert!(
            err(layout, &ok.replace("nav: /", "nav: /elsewhere")).contains("no link to /elsewhere")
        );
        assert!(err("{{title}}{{script}}", ok).contains("{{main}} exactly once"));
    }

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
