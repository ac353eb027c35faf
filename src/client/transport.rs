//! The HTTP transport every outbound request of the crate goes through: timeouts, and proxies
//! from the environment except for a log on this machine.
//! Never: knows what it talks to (the log's API is in [`super::Client`], drand in
//! [`super::drand`]).

use std::time::Duration;

/// An HTTP client for `targets`. A proxy from the environment (`HTTPS_PROXY`, ...) is used,
/// except when every target is on this machine: a loopback log is never reached through a
/// proxy, whatever `NO_PROXY` says.
pub fn http_client(timeout: Duration, targets: &[&str]) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().timeout(timeout);
    if !targets.is_empty() && targets.iter().all(|t| is_loopback(t)) {
        builder = builder.no_proxy();
    }
    builder.build().expect("building the HTTP client")
}

fn is_loopback(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = url.host_str().unwrap_or("");
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn only_this_machine_is_loopback() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost/",
            "http://[::1]:9/",
            "http://127.9.9.9",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "https://log.example",
            "http://10.0.0.1",
            "http://127",
            "not a url",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }
}
