//! `uec-idp client register|list|disable|enable|initial-token`.

use clap::Subcommand;
use serde_json::json;

use super::{CliError, Context};
use crate::domain::client::RelyingParty;
use crate::services::clients::{self, NewClient};
use crate::services::registration;

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Register a relying party; prints client_id and (for confidential clients) client_secret.
    Register {
        #[arg(long)]
        name: String,
        #[arg(long = "redirect-uri", value_name = "URI", required = true)]
        redirect_uris: Vec<String>,
        /// A public client (native or browser app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// client_secret_basic | client_secret_post | none
        #[arg(long)]
        auth_method: Option<String>,
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        #[arg(long, value_name = "URI")]
        backchannel_logout_uri: Option<String>,
        #[arg(long)]
        require_consent: bool,
        /// Always ask for a second factor, even on campus.
        #[arg(long)]
        require_mfa: bool,
        /// Admit only these affiliations (repeatable).
        #[arg(long = "allow-affiliation", value_name = "AFFILIATION")]
        allow_affiliations: Vec<String>,
        #[arg(long)]
        requires_compliance: bool,
        /// RS256 (default) | ES256
        #[arg(long, value_name = "ALG")]
        id_token_alg: Option<String>,
        /// Accept authorization requests only through the PAR endpoint (RFC 9126).
        #[arg(long = "require-par")]
        require_par: bool,
        /// Issue access tokens only bound to a DPoP key (RFC 9449).
        #[arg(long = "dpop-bound")]
        dpop_bound: bool,
    },
    /// List relying parties.
    List,
    /// Disable a client: it gets no token and its tokens stop working.
    Disable {
        /// Client ids may begin with '-'.
        #[arg(long, allow_hyphen_values = true)]
        id: String,
    },
    /// Re-enable a disabled client.
    Enable {
        #[arg(long, allow_hyphen_values = true)]
        id: String,
    },
    /// Make an RFC 7591 initial access token for dynamic registration (printed once).
    InitialToken {
        /// How long it is valid, in hours.
        #[arg(long, value_name = "HOURS", default_value_t = registration::DEFAULT_INITIAL_TOKEN_HOURS)]
        expires_in: i64,
        /// How many registrations it allows.
        #[arg(long, value_name = "N", default_value_t = 1)]
        uses: i64,
    },
}

pub fn run(ctx: &Context, cmd: ClientCommand) -> Result<(), CliError> {
    let db = ctx.database()?;
    match cmd {
        ClientCommand::Register {
            name,
            redirect_uris,
            public,
            auth_method,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            require_consent,
            require_mfa,
            allow_affiliations,
            requires_compliance,
            id_token_alg,
            require_par,
            dpop_bound,
        } => {
            let new = NewClient {
                name,
                redirect_uris,
                public,
                auth_method,
                post_logout_redirect_uris,
                backchannel_logout_uri,
                require_consent,
                require_mfa,
                allow_affiliations,
                requires_compliance,
                id_token_alg,
                require_par,
                dpop_bound,
            };
            let registered = clients::register_client(&db, new, ctx.clock.now())
                .map_err(|e| CliError::Failed(e.to_string()))?;
            let mut value = client_json(&registered.client);
            value["client_id"] = json!(registered.client_id);
            if let Some(secret) = &registered.client_secret {
                value["client_secret"] = json!(secret);
            }
            ctx.print(value, || {
                let mut text = format!("client_id: {}", registered.client_id);
                if let Some(secret) = &registered.client_secret {
                    text.push_str(&format!(
                        "\nclient_secret: {secret}\n(shown once: only its hash is stored)"
                    ));
                }
                text
            });
        }
        ClientCommand::List => {
            let all = clients::list_clients(&db).map_err(|e| CliError::Failed(e.to_string()))?;
            ctx.print(
                json!(all.iter().map(client_json).collect::<Vec<_>>()),
                || {
                    all.iter()
                        .map(|c| {
                            let state = if c.disabled { "disabled" } else { "enabled" };
                            format!("{}\t{}\t{state}\t{}", c.id, c.auth_method.as_str(), c.name)
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
        }
        ClientCommand::Disable { id } => set_disabled(ctx, &db, &id, true)?,
        ClientCommand::Enable { id } => set_disabled(ctx, &db, &id, false)?,
        ClientCommand::InitialToken { expires_in, uses } => {
            let t = registration::issue_initial_token(&db, expires_in, uses, ctx.clock.now())
                .map_err(|e| CliError::Failed(e.to_string()))?;
            ctx.print(
                json!({"initial_access_token": t.token, "expires_at": t.expires_at, "uses": t.uses}),
                || {
                    format!(
                        "initial_access_token: {}\n(valid for {uses} registration(s) until {}; shown once)",
                        t.token, t.expires_at
                    )
                },
            );
        }
    }
    Ok(())
}

fn set_disabled(
    ctx: &Context,
    db: &crate::store::Db,
    id: &str,
    disabled: bool,
) -> Result<(), CliError> {
    clients::set_disabled(db, id, disabled, ctx.clock.now())
        .map_err(|e| CliError::Failed(e.to_string()))?;
    ctx.print(json!({"client_id": id, "disabled": disabled}), || {
        format!("{id}: {}", if disabled { "disabled" } else { "enabled" })
    });
    Ok(())
}

fn client_json(c: &RelyingParty) -> serde_json::Value {
    json!({
        "client_id": c.id,
        "name": c.name,
        "token_endpoint_auth_method": c.auth_method.as_str(),
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "backchannel_logout_uri": c.backchannel_logout_uri,
        "require_consent": c.require_consent,
        "require_mfa": c.require_mfa,
        "allowed_affiliations": c.allowed_affiliations.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "requires_compliance": c.requires_compliance,
        "id_token_signed_response_alg": c.id_token_alg.as_str(),
        "require_pushed_authorization_requests": c.require_par,
        "dpop_bound_access_tokens": c.dpop_bound,
        "registered_by": c.registered_by.as_str(),
        "disabled": c.disabled,
    })
}
