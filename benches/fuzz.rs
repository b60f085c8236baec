//! Property-based fuzzing of the request parsers (issue #12): no input may panic them.
//!
//! `cargo bench --profile dev --bench fuzz` runs 100,000 generated inputs per parser
//! (`FUZZ_CASES` changes the number; CI runs a small smoke pass). The dev profile keeps
//! overflow checks on, so arithmetic on hostile numbers panics here as it would in a
//! debug build; dependencies are optimised (opt-level 2), so it stays quick. Each parser gets a mix of raw bytes and
//! inputs shaped like the real thing (known parameter names, JSON with the right keys,
//! JWTs with real signatures and hostile claims), so generation reaches past the first
//! syntax check. A panic fails the run with proptest's shrunk input; the parsers' own
//! answers (errors) are fine.
//!
//! Parsers: authorization request (query/form decoding and validation against a client),
//! token endpoint body and headers (form, Basic credentials, DPoP header), registration
//! metadata (RFC 7591 JSON through the shared client validation), DPoP proofs, the client
//! address behind `X-Forwarded-For` / `Forwarded`, and the cookies the pages read.

use std::net::IpAddr;
use std::time::Instant;

use actix_web::test::TestRequest;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ipnet::IpNet;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use uec_idp::domain::client::RelyingParty;
use uec_idp::domain::client_address;
use uec_idp::oidc::authorize::{RawAuthorizeParams, validate};
use uec_idp::oidc::dpop::{self, Expected};
use uec_idp::oidc::dpop_key::DpopKey;
use uec_idp::oidc::registration::ClientMetadata;
use uec_idp::services::clients;
use uec_idp::services::registration::new_client;
use uec_idp::services::token::TokenForm;
use uec_idp::web::client_auth::form_request;
use uec_idp::web::cookies;
use uec_idp::web::oidc::{dpop_header, parse_single_valued};

fn main() {
    let cases: u32 = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    // proptest reports a failure with its message and shrunk input; the default hook
    // would also print every panic met while shrinking.
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = 0;
    for (name, run) in [
        (
            "authorization request",
            authorize as fn(u32) -> Result<(), String>,
        ),
        ("token request", token),
        ("registration metadata", registration),
        ("DPoP proof", dpop_proof),
        ("X-Forwarded-For / Forwarded", forwarded),
        ("cookies", cookie_header),
    ] {
        let started = Instant::now();
        match run(cases) {
            Ok(()) => println!(
                "fuzz {name}: {cases} inputs, no panic ({:.1} s)",
                started.elapsed().as_secs_f64()
            ),
            Err(e) => {
                failed += 1;
                println!("fuzz {name}: FAILED\n{e}");
            }
        }
    }
    println!("{} passed, {failed} failed", 6 - failed);
    if failed > 0 {
        std::process::exit(1);
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        // Shrinking a failure is worth a while; a run without one never shrinks.
        max_shrink_iters: 2_000,
        ..Config::default()
    })
}

/// Strings a parser meets: empty, short, long, control characters, non-ASCII, escapes.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-zA-Z0-9._~:/?#@!$&'()*+,;=%-]{0,40}",
        any::<String>(),
        "\\PC{0,8}",
        ".{200,600}",
        "(%[0-9A-Fa-f]{0,2}|[\u{0}-\u{1f}]|[ \"\\\\]){0,20}",
    ]
}

/// `key=value&...` bodies: known keys (repeated at times), unknown ones, raw bytes.
fn form_body(keys: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let key = prop_oneof![
        4 => proptest::sample::select(keys).prop_map(str::to_string),
        1 => text(),
    ];
    prop_oneof![
        4 => proptest::collection::vec((key, text()), 0..12).prop_map(|pairs| {
            let mut out = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &pairs {
                out.append_pair(k, v);
            }
            out.finish().into_bytes()
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..512),
        1 => text().prop_map(String::into_bytes),
    ]
}

const AUTHORIZE_KEYS: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "ui_locales",
    "acr_values",
    "code_challenge",
    "code_challenge_method",
    "request",
    "request_uri",
    "claims",
    "id_token_hint",
];

fn authorize(cases: u32) -> Result<(), String> {
    let client = RelyingParty::for_tests("c1", "https://rp.example/cb");
    runner(cases)
        .run(&form_body(AUTHORIZE_KEYS), |body| {
            if let Ok(raw) = parse_single_valued::<RawAuthorizeParams>(&body) {
                let _ = validate(&raw, Some(&client));
                let _ = validate(&raw, None);
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    // Parameters that pass the client and redirect checks, so the rest is reached too.
    let reachable =
        proptest::collection::vec((proptest::sample::select(AUTHORIZE_KEYS), text()), 0..10);
    runner(cases)
        .run(&reachable, |pairs| {
            let mut out = url::form_urlencoded::Serializer::new(String::new());
            out.append_pair("client_id", "c1");
            out.append_pair("redirect_uri", "https://rp.example/cb");
            for (k, v) in pairs
                .iter()
                .filter(|(k, _)| !k.ends_with("_id") && *k != "redirect_uri")
            {
                out.append_pair(k, v);
            }
            if let Ok(raw) = parse_single_valued::<RawAuthorizeParams>(out.finish().as_bytes()) {
                let _ = validate(&raw, Some(&client));
            }
            Ok(())
        })
        .map_err(|e| e.to_string())
}

const TOKEN_KEYS: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "client_id",
    "client_secret",
    "token",
    "token_type_hint",
];

fn token(cases: u32) -> Result<(), String> {
    let authorization = prop_oneof![
        Just(None),
        text().prop_map(Some),
        text().prop_map(|s| Some(format!("Basic {}", STANDARD.encode(s)))),
        (text(), text()).prop_map(|(id, secret)| Some(format!(
            "Basic {}",
            STANDARD.encode(format!("{id}:{secret}"))
        ))),
    ];
    let content_type = prop_oneof![
        Just("application/x-www-form-urlencoded".to_string()),
        Just("application/x-www-form-urlencoded; charset=UTF-8".to_string()),
        text(),
    ];
    let dpop = proptest::collection::vec(text(), 0..3);
    let input = (form_body(TOKEN_KEYS), authorization, content_type, dpop);
    runner(cases)
        .run(&input, |(body, authorization, content_type, dpop)| {
            let mut req = TestRequest::post().uri("/token");
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&content_type) {
                req = req.insert_header(("content-type", v));
            }
            if let Some(a) = authorization
                && let Ok(v) = actix_web::http::header::HeaderValue::from_str(&a)
            {
                req = req.insert_header(("authorization", v));
            }
            for proof in &dpop {
                if let Ok(v) = actix_web::http::header::HeaderValue::from_str(proof) {
                    req = req.append_header(("dpop", v));
                }
            }
            let req = req.to_http_request();
            let _ = form_request::<TokenForm>(&req, &body);
            let _ = dpop_header(&req);
            Ok(())
        })
        .map_err(|e| e.to_string())
}

/// JSON values of any shape, a few levels deep.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        text().prop_map(serde_json::Value::from),
        proptest::sample::select(
            &[
                "https://rp.example/cb",
                "http://127.0.0.1:9/cb",
                "http://localhost/cb",
                "https://*.example/cb",
                "https://user@rp.example/cb",
                "https://rp.example/cb#frag",
                "javascript:alert(1)",
                "https://[::1]/cb",
                "https://169.254.169.254/latest",
                "code",
                "none",
                "client_secret_basic",
                "authorization_code",
                "refresh_token",
                "ES256",
                "RS256",
            ][..]
        )
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(text(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

const METADATA_KEYS: &[&str] = &[
    "redirect_uris",
    "client_name",
    "token_endpoint_auth_method",
    "grant_types",
    "response_types",
    "post_logout_redirect_uris",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
    "id_token_signed_response_alg",
    "require_pushed_authorization_requests",
    "dpop_bound_access_tokens",
    "client_id",
    "client_secret",
];

fn registration(cases: u32) -> Result<(), String> {
    let shaped = proptest::collection::btree_map(
        proptest::sample::select(METADATA_KEYS).prop_map(str::to_string),
        json(),
        0..10,
    )
    .prop_map(|m| {
        serde_json::Value::Object(m.into_iter().collect())
            .to_string()
            .into_bytes()
    });
    let body = prop_oneof![
        4 => shaped,
        1 => json().prop_map(|v| v.to_string().into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..256),
    ];
    runner(cases)
        .run(&body, |body| {
            if let Ok(metadata) = ClientMetadata::parse(&body)
                && let Ok(new) = new_client(&metadata)
            {
                let _ = clients::validate(&new);
            }
            Ok(())
        })
        .map_err(|e| e.to_string())
}

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn dpop_proof(cases: u32) -> Result<(), String> {
    let key = DpopKey::generate();
    // Mostly the method and URL the check expects, so the later checks (iat, ath) run.
    let signed = (
        prop_oneof![3 => Just("POST".to_string()), 1 => text()],
        prop_oneof![
            3 => Just("https://idp.example/token".to_string()),
            1 => text(),
        ],
        prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), 0i64..2_000],
        proptest::option::of(text()),
        proptest::option::of(text()),
    )
        .prop_map(move |(htm, htu, iat, ath, nonce)| {
            key.proof(&htm, &htu, iat, ath.as_deref(), nonce.as_deref())
        });
    let header = proptest::collection::btree_map(
        proptest::sample::select(&["typ", "alg", "jwk", "kid", "crit"][..])
            .prop_map(str::to_string),
        json(),
        0..5,
    );
    let claims = proptest::collection::btree_map(
        proptest::sample::select(&["jti", "htm", "htu", "iat", "ath", "nonce"][..])
            .prop_map(str::to_string),
        json(),
        0..6,
    );
    let forged = (header, claims, text()).prop_map(|(h, c, sig)| {
        let h = serde_json::Value::Object(h.into_iter().collect());
        let c = serde_json::Value::Object(c.into_iter().collect());
        format!("{}.{}.{}", b64(&h), b64(&c), URL_SAFE_NO_PAD.encode(sig))
    });
    let proof = prop_oneof![2 => signed, 2 => forged, 1 => text()];
    runner(cases)
        .run(&proof, |proof| {
            for access_token in [None, Some("tok")] {
                let _ = dpop::verify(
                    &proof,
                    &Expected {
                        method: "POST",
                        url: "https://idp.example/token",
                        access_token,
                        now: 1_000,
                        max_skew: 60,
                    },
                );
            }
            Ok(())
        })
        .map_err(|e| e.to_string())
}

fn forwarded(cases: u32) -> Result<(), String> {
    let trusted: Vec<IpNet> = ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
        .iter()
        .map(|n| n.parse().expect("net"))
        .collect();
    let hop = prop_oneof![
        any::<std::net::Ipv4Addr>().prop_map(|a| a.to_string()),
        any::<std::net::Ipv6Addr>().prop_map(|a| a.to_string()),
        any::<std::net::Ipv6Addr>().prop_map(|a| format!("\"[{a}]:443\"")),
        Just("unknown".to_string()),
        Just("_hidden".to_string()),
        text(),
    ];
    let chain = proptest::collection::vec(hop, 0..40).prop_map(|hops| hops.join(", "));
    let forwarded = proptest::collection::vec(
        (
            proptest::sample::select(&["for", "by", "proto", "host", "For"][..]),
            text(),
        ),
        0..8,
    )
    .prop_map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";")
    });
    let input = (
        prop_oneof![
            Just("127.0.0.1".parse::<IpAddr>().expect("ip")),
            any::<IpAddr>()
        ],
        proptest::collection::vec(prop_oneof![chain, text()], 0..3),
        proptest::collection::vec(prop_oneof![forwarded, text()], 0..3),
    );
    runner(cases)
        .run(&input, |(peer, xff, fwd)| {
            let xff: Vec<&str> = xff.iter().map(String::as_str).collect();
            let fwd: Vec<&str> = fwd.iter().map(String::as_str).collect();
            let _ = client_address::resolve(peer, &xff, &fwd, &trusted);
            Ok(())
        })
        .map_err(|e| e.to_string())
}

fn cookie_header(cases: u32) -> Result<(), String> {
    let pair = prop_oneof![
        (
            proptest::sample::select(
                &[
                    "uec_idp_session",
                    "__Host-uec_idp_session",
                    "uec_idp_csrf",
                    "__Host-uec_idp_csrf",
                ][..]
            ),
            text()
        )
            .prop_map(|(k, v)| format!("{k}={v}")),
        text(),
    ];
    let header = proptest::collection::vec(pair, 0..8).prop_map(|p| p.join("; "));
    runner(cases)
        .run(&(header, text()), |(header, submitted)| {
            let Ok(value) = actix_web::http::header::HeaderValue::from_str(&header) else {
                return Ok(());
            };
            let req = TestRequest::get()
                .insert_header(("cookie", value))
                .to_http_request();
            for secure in [false, true] {
                let _ = cookies::session_value(&req, secure);
                let _ = cookies::csrf_ok(&req, secure, &submitted);
                let _ = cookies::csrf_token(&req, secure);
            }
            Ok(())
        })
        .map_err(|e| e.to_string())
}
