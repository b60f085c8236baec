//! Discovery and JWKS.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn discovery_advertises_every_endpoint_under_the_issuer() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery");
    assert_eq!(r.status(), StatusCode::OK);
    let d: serde_json::Value = r.json().await.expect("json");
    assert_eq!(d["issuer"], app.base);
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
    ] {
        let url = d[endpoint].as_str().unwrap_or_else(|| panic!("{endpoint}"));
        assert!(url.starts_with(&app.base), "{endpoint}: {url}");
    }
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(d["subject_types_supported"], serde_json::json!(["public"]));
    assert!(
        d["id_token_signing_alg_values_supported"]
            .as_array()
            .expect("algs")
            .iter()
            .any(|a| a == "RS256")
    );
    assert!(d["acr_values_supported"].as_array().expect("acr").len() >= 2);
}

#[tokio::test]
async fn jwks_publishes_an_rs256_and_an_es256_key_with_kids() {
    let app = spawn_app().await;
    let jwks = jwks(&app).await;
    let keys = jwks["keys"].as_array().expect("keys");
    let algs: Vec<&str> = keys.iter().filter_map(|k| k["alg"].as_str()).collect();
    assert!(
        algs.contains(&"RS256") && algs.contains(&"ES256"),
        "{algs:?}"
    );
    for k in keys {
        assert!(k["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
        assert_eq!(k["use"], "sig");
        assert!(k.get("d").is_none(), "no private parts");
    }
}

#[tokio::test]
async fn discovery_advertises_refresh_revocation_introspection_and_dpop() {
    let app = spawn_app().await;
    let d = discovery(&app).await;
    assert_eq!(
        d["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(d["revocation_endpoint"], app.url("/revoke"));
    assert_eq!(d["introspection_endpoint"], app.url("/introspect"));
    assert_eq!(
        d["introspection_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    assert!(
        d["revocation_endpoint_auth_methods_supported"]
            .as_array()
            .expect("methods")
            .contains(&serde_json::json!("none"))
    );
    assert!(
        d["dpop_signing_alg_values_supported"]
            .as_array()
            .expect("dpop algs")
            .contains(&serde_json::json!("ES256"))
    );
}
