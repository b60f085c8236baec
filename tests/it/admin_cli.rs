//! The command line as operators and scripts use it: the real binary, a config file or
//! environment variables, `--json` on stdout, one-line errors on stderr.

use std::path::Path;
use std::process::{Command, Output};

use crate::helpers::{TestDb, binary, copy_keys};

struct Cli {
    dir: tempfile::TempDir,
    _db: TestDb,
    config: std::path::PathBuf,
}

impl Cli {
    fn new() -> Cli {
        let dir = tempfile::tempdir().expect("dir");
        let db = TestDb::new(dir.path());
        copy_keys(&dir.path().join("keys"));
        let config = dir.path().join("uec-idp.toml");
        std::fs::write(
            &config,
            format!(
                "database_url = {:?}\nkeys_dir = {:?}\n[passwords]\nhashing_threads = 1\n",
                db.url,
                dir.path().join("keys").display().to_string()
            ),
        )
        .expect("config");
        Cli {
            dir,
            _db: db,
            config,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(binary());
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "warn");
        cmd.output().expect("run uec-idp")
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(&[args, &["--json"]].concat());
        assert!(
            out.status.success(),
            "{args:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

#[test]
fn account_create_generates_an_initial_password_and_refuses_duplicates() {
    let cli = Cli::new();
    let created = cli.json(&[
        "account",
        "create",
        "--id",
        "a1830000",
        "--name",
        "Taro Chofu",
        "--affiliation",
        "student",
        "--email",
        "taro@example.com",
        "--valid-until",
        "2030-03-31",
    ]);
    assert_eq!(created["id"], "a1830000");
    assert!(
        created["initial_password"]
            .as_str()
            .is_some_and(|p| p.len() >= 12),
        "{created}"
    );
    assert!(created["sub"].as_str().is_some_and(|s| s != "a1830000"));
    let again = cli.run(&[
        "account",
        "create",
        "--id",
        "a1830000",
        "--name",
        "X",
        "--affiliation",
        "student",
    ]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    let shown = cli.json(&["account", "show", "--id", "a1830000"]);
    assert_eq!(shown["name"], "Taro Chofu");
    assert!(
        shown.get("initial_password").is_none(),
        "the password is shown once"
    );
    let listed = cli.json(&["account", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
}

#[test]
fn account_create_validates_its_input() {
    let cli = Cli::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--id", "A183", "--name", "X", "--affiliation", "student"],
            "--id",
        ),
        (
            &["--id", "itc-admin", "--name", "X", "--affiliation", "staff"],
            "--allow-nonstandard-id",
        ),
        (
            &[
                "--id",
                "a1830001",
                "--name",
                "X",
                "--affiliation",
                "professor",
            ],
            "--affiliation",
        ),
        (
            &[
                "--id",
                "a1830002",
                "--name",
                "X",
                "--affiliation",
                "student",
                "--email",
                "nope",
            ],
            "--email",
        ),
        (
            &[
                "--id",
                "a1830003",
                "--name",
                "X",
                "--affiliation",
                "student",
                "--valid-until",
                "31/03/2030",
            ],
            "--valid-until",
        ),
    ];
    for (args, want) in cases {
        let out = cli.run(&[&["account", "create"], *args].concat());
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.starts_with("error: ") && err.contains(want),
            "{args:?}: {err}"
        );
    }
    let ok = cli.json(&[
        "account",
        "create",
        "--id",
        "itc-admin",
        "--allow-nonstandard-id",
        "--name",
        "ITC",
        "--affiliation",
        "staff",
        "--password",
        "a long operator password",
    ]);
    assert!(
        ok.get("initial_password").is_none(),
        "a given password is not echoed"
    );
}

#[test]
fn client_register_prints_credentials_and_validates_redirect_uris() {
    let cli = Cli::new();
    let confidential = cli.json(&[
        "client",
        "register",
        "--name",
        "LMS",
        "--redirect-uri",
        "https://lms.uec.ac.jp/cb",
        "--redirect-uri",
        "http://localhost:3000/cb",
        "--allow-affiliation",
        "staff",
        "--id-token-alg",
        "ES256",
    ]);
    assert!(confidential["client_id"].is_string());
    assert!(
        confidential["client_secret"]
            .as_str()
            .is_some_and(|s| s.len() >= 43)
    );
    let public = cli.json(&[
        "client",
        "register",
        "--name",
        "App",
        "--redirect-uri",
        "http://127.0.0.1:8000/cb",
        "--public",
    ]);
    assert!(public.get("client_secret").is_none(), "{public}");
    assert_eq!(public["token_endpoint_auth_method"], "none");
    for bad in [
        "http://lms.uec.ac.jp/cb",
        "/cb",
        "https://lms.uec.ac.jp/cb#frag",
        "https://*.uec.ac.jp/cb",
    ] {
        let out = cli.run(&["client", "register", "--name", "X", "--redirect-uri", bad]);
        assert!(!out.status.success(), "{bad}");
        assert!(
            stderr(&out).starts_with("error: redirect URI"),
            "{bad}: {}",
            stderr(&out)
        );
    }
    let out = cli.run(&[
        "client",
        "register",
        "--name",
        "X",
        "--redirect-uri",
        "https://a.uec.ac.jp/cb",
        "--public",
        "--auth-method",
        "client_secret_basic",
    ]);
    assert!(!out.status.success());
    assert_eq!(
        cli.json(&["client", "list"]).as_array().map(Vec::len),
        Some(2)
    );

    let id = public["client_id"].as_str().expect("client_id");
    let disabled = |cli: &Cli| {
        cli.json(&["client", "list"])
            .as_array()
            .and_then(|all| all.iter().find(|c| c["client_id"] == id).cloned())
            .map(|c| c["disabled"].clone())
    };
    assert_eq!(
        cli.json(&["client", "disable", "--id", id])["disabled"],
        true
    );
    assert_eq!(disabled(&cli), Some(serde_json::json!(true)));
    assert_eq!(
        cli.json(&["client", "enable", "--id", id])["disabled"],
        false
    );
    assert_eq!(disabled(&cli), Some(serde_json::json!(false)));
    let out = cli.run(&["client", "disable", "--id", "no-such-client"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no client"), "{}", stderr(&out));
}

#[test]
fn keys_rotate_adds_keys_and_keeps_the_old_ones_published() {
    let cli = Cli::new();
    let before = cli.json(&["keys", "list"]);
    assert_eq!(before.as_array().map(Vec::len), Some(2));
    let rotated = cli.json(&["keys", "rotate"]);
    assert_eq!(rotated["added"].as_array().map(Vec::len), Some(2));
    let after = cli.json(&["keys", "list"]);
    assert_eq!(
        after.as_array().map(Vec::len),
        Some(4),
        "old keys stay published: {after}"
    );
    for key in std::fs::read_dir(cli.dir.path().join("keys"))
        .expect("dir")
        .flatten()
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = key.metadata().expect("meta").permissions().mode() & 0o777;
        if key.file_name().to_string_lossy().ends_with(".pem") {
            assert_eq!(mode, 0o600, "{:?}", key.file_name());
        }
    }
}

#[test]
fn migrate_reports_what_it_applied() {
    let cli = Cli::new();
    assert!(
        cli.json(&["migrate"])["applied"]
            .as_u64()
            .is_some_and(|n| n >= 1)
    );
    assert_eq!(cli.json(&["migrate"])["applied"], 0);
}

/// Runs `serve` with a bad setting and expects a quick exit with one clear last line.
fn serve_fails(dir: &Path, env: &[(&str, &str)], key: &str) {
    let mut cmd = Command::new(binary());
    cmd.arg("serve")
        .current_dir(dir)
        .env("RUST_LOG", "off")
        .env("UEC_IDP_LISTEN", "127.0.0.1:0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run");
    assert!(!out.status.success(), "{env:?} must fail");
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with("error: configuration error: ") && err.contains(key),
        "{env:?}: {err}"
    );
}

#[test]
fn bad_configuration_stops_start_up_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    let sqlite = format!("sqlite://{}", dir.path().join("x.sqlite3").display());
    let keys = dir.path().join("keys");
    let base = [
        ("UEC_IDP_DATABASE_URL", sqlite.as_str()),
        ("UEC_IDP_KEYS_DIR", keys.to_str().expect("utf8")),
    ];
    serve_fails(
        dir.path(),
        &[
            &base[..],
            &[("UEC_IDP_NETWORK_CAMPUS", "[\"300.1.0.0/16\"]")],
        ]
        .concat(),
        "network.campus[0]",
    );
    serve_fails(
        dir.path(),
        &[&base[..], &[("UEC_IDP_ISSUER", "idp.uec.ac.jp")]].concat(),
        "issuer",
    );
    serve_fails(
        dir.path(),
        &[
            &base[..],
            &[("UEC_IDP_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")],
        ]
        .concat(),
        "database_url",
    );
    serve_fails(
        dir.path(),
        &[&base[..], &[("UEC_IDP_DATABASE_URL", "mysql://x")]].concat(),
        "database_url",
    );
    let bad_keys = dir.path().join("bad-keys");
    std::fs::create_dir_all(&bad_keys).expect("dir");
    std::fs::write(bad_keys.join("rs256-1700000000-0000abcd.pem"), "not a key").expect("write");
    let bad = [
        ("UEC_IDP_DATABASE_URL", sqlite.as_str()),
        ("UEC_IDP_KEYS_DIR", bad_keys.to_str().expect("utf8")),
    ];
    serve_fails(dir.path(), &bad, "keys_dir");
    let config = dir.path().join("broken.toml");
    std::fs::write(&config, "issuer = [").expect("write");
    let out = Command::new(binary())
        .args(["--config", config.to_str().expect("utf8"), "migrate"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        stderr(&out).starts_with("error: configuration error"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn lifecycle_run_deletes_accounts_past_their_grace_and_is_idempotent() {
    let cli = Cli::new();
    let args = |id: &'static str, until: &'static str| {
        [
            "account",
            "create",
            "--id",
            id,
            "--name",
            "Old Student",
            "--affiliation",
            "student",
            "--valid-until",
            until,
        ]
    };
    cli.json(&args("a1530000", "2020-03-31"));
    cli.json(&args("a1830000", "2099-03-31"));
    let report = cli.json(&["lifecycle", "run"]);
    assert_eq!(report["deleted"], 1, "{report}");
    assert_eq!(
        cli.json(&["lifecycle", "run"])["deleted"],
        0,
        "a second pass deletes nothing"
    );
    let old = cli.json(&["account", "show", "--id", "a1530000"]);
    assert_eq!(
        (old["status"].as_str(), old["name"].as_str()),
        (Some("deleted"), Some(""))
    );
    assert_eq!(
        cli.json(&["account", "show", "--id", "a1830000"])["status"],
        "active"
    );
    let again = cli.run(&args("a1530000", "2099-03-31"));
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("never reused"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn account_import_issues_good_rows_reports_bad_ones_and_is_safe_to_run_twice() {
    let cli = Cli::new();
    let roster = cli.dir.path().join("roster.csv");
    std::fs::write(
        &roster,
        "id,name,affiliation,valid_until,email\n\
         a2410001,Chofu Hanako,student,2030-03-31,hanako@example.com\n\
         a2410002,Chofu Jiro,student,2030-03-31,\n\
         A24,Bad Id,student,,\n\
         a2410003,Bad Affiliation,wizard,,\n\
         a2410004,Too,Many,Columns,x,y\n\
         a2410005,Bad Date,student,2030-02-30,\n",
    )
    .expect("roster");
    let notices = cli.dir.path().join("notices.html");
    let args = [
        "account",
        "import",
        roster.to_str().expect("path"),
        "--notices",
        notices.to_str().expect("path"),
        "--json",
    ];
    let out = cli.run(&args);
    assert!(!out.status.success(), "bad rows make a non-zero exit");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json summary");
    assert_eq!(summary["issued"], 2, "{summary}");
    assert_eq!(
        (
            summary["mailed_notices"].as_i64(),
            summary["printed_notices"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let err = stderr(&out);
    for line in ["line 4:", "line 5:", "line 6:", "line 7:"] {
        assert!(err.contains(line), "{line} in {err}");
    }
    let page = std::fs::read_to_string(&notices).expect("printed notices");
    assert!(
        page.contains("a2410002") && !page.contains("a2410001"),
        "paper only for the one without e-mail"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&notices)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert_eq!(
        cli.json(&["account", "show", "--id", "a2410001"])["personal_email"],
        "hanako@example.com"
    );

    let notices2 = cli.dir.path().join("notices2.html");
    let args = [
        "account",
        "import",
        roster.to_str().expect("path"),
        "--notices",
        notices2.to_str().expect("path"),
        "--json",
    ];
    let summary: serde_json::Value = serde_json::from_slice(&cli.run(&args).stdout).expect("json");
    assert_eq!(
        (
            summary["issued"].as_i64(),
            summary["already_issued"].as_i64()
        ),
        (Some(0), Some(2)),
        "{summary}"
    );
    assert!(!notices2.exists(), "no notices for nothing new");
}

fn create(cli: &Cli, id: &str, extra: &[&str]) -> Output {
    cli.run(
        &[
            &[
                "account",
                "create",
                "--id",
                id,
                "--name",
                "Taro Chofu",
                "--affiliation",
                "student",
                "--password",
                "a long test password",
                "--json",
            ][..],
            extra,
        ]
        .concat(),
    )
}

#[test]
fn compliance_import_records_good_rows_reports_bad_ones_by_line_and_is_idempotent() {
    let cli = Cli::new();
    for id in ["a1830000", "a1830001"] {
        assert!(create(&cli, id, &[]).status.success());
    }
    let file = cli.dir.path().join("infoss.csv");
    std::fs::write(
        &file,
        "id,pledge_completed,infoss_completed\n\
         a1830000,2026-04-10,2026-05-01\n\
         a1830001,,2026-05-02\n\
         a1830002,2026-04-10,\n\
         a1830001,2026-02-30,\n\
         a1830000,,\n",
    )
    .expect("csv");
    let path = file.display().to_string();
    let import = || cli.run(&["compliance", "import", &path, "--json"]);

    let out = import();
    assert!(!out.status.success(), "bad rows make a non-zero exit");
    let err = stderr(&out);
    assert!(err.contains("infoss.csv:4: no account a1830002"), "{err}");
    assert!(err.contains("infoss.csv:5: pledge_completed"), "{err}");
    assert!(err.contains("infoss.csv:6: neither date"), "{err}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("summary JSON");
    assert_eq!(summary["rows"], 5);
    assert_eq!(summary["recorded"], 2);
    assert_eq!(summary["unchanged"], 0);
    let lines: Vec<i64> = summary["refused"]
        .as_array()
        .expect("refused")
        .iter()
        .filter_map(|e| e["line"].as_i64())
        .collect();
    assert_eq!(lines, vec![4, 5, 6]);
    let shown = cli.json(&["account", "show", "--id", "a1830000"]);
    // 2026-04-10T00:00+09:00
    assert_eq!(shown["pledge_completed_at"], 1_775_746_800);
    assert!(shown["infoss_completed_at"].is_i64());
    let shown = cli.json(&["account", "show", "--id", "a1830001"]);
    assert!(shown["pledge_completed_at"].is_null());

    let again: serde_json::Value = serde_json::from_slice(&import().stdout).expect("summary JSON");
    assert_eq!(
        (again["recorded"].as_i64(), again["unchanged"].as_i64()),
        (Some(0), Some(2))
    );

    // An older date never moves a recorded one backwards; a later one wins.
    std::fs::write(
        &file,
        "id,pledge_completed,infoss_completed\na1830000,2025-01-01,2026-11-01\n",
    )
    .expect("csv");
    let out = cli.json(&["compliance", "import", &path]);
    assert_eq!(out["recorded"], 1);
    let shown = cli.json(&["account", "show", "--id", "a1830000"]);
    assert_eq!(shown["pledge_completed_at"], 1_775_746_800);
    // 2026-11-01T00:00+09:00
    assert_eq!(shown["infoss_completed_at"], 1_793_458_800);

    std::fs::write(&file, "account,pledge\n").expect("csv");
    let out = import();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("header"), "{}", stderr(&out));
}

#[test]
fn progression_moves_the_alias_in_one_step_and_links_both_accounts() {
    let cli = Cli::new();
    let old = create(
        &cli,
        "a1830000",
        &[
            "--email-alias",
            "Taro.Chofu@uec.ac.jp",
            "--valid-until",
            "2027-03-31",
        ],
    );
    assert!(old.status.success(), "{}", stderr(&old));
    let taken = create(&cli, "a1830001", &["--email-alias", "taro.chofu@uec.ac.jp"]);
    assert!(!taken.status.success());
    assert!(
        stderr(&taken).contains("held by account a1830000"),
        "{}",
        stderr(&taken)
    );

    let unknown = create(&cli, "g2430000", &["--previous", "a9999999"]);
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("--previous: no account a9999999"));
    assert!(
        !cli.run(&["account", "show", "--id", "g2430000"])
            .status
            .success(),
        "nothing written"
    );
    assert_eq!(
        cli.json(&["account", "show", "--id", "a1830000"])["email_alias"],
        "taro.chofu@uec.ac.jp"
    );

    let new = create(&cli, "g2430000", &["--previous", "a1830000"]);
    assert!(new.status.success(), "{}", stderr(&new));
    let new: serde_json::Value = serde_json::from_slice(&new.stdout).expect("json");
    assert_eq!(new["email_alias"], "taro.chofu@uec.ac.jp");
    assert_eq!(new["previous"], "a1830000");

    let old = cli.json(&["account", "show", "--id", "a1830000"]);
    assert!(old["email_alias"].is_null(), "{old}");
    assert_eq!(old["successors"], serde_json::json!(["g2430000"]));
    assert_eq!(old["status"], "active");
    // 2027-03-31 still ends at 2027-04-01T00:00+09:00.
    assert_eq!(old["valid_until"], 1_806_505_200);
    let shown = cli.json(&["account", "show", "--id", "g2430000"]);
    assert_eq!(shown["previous"], "a1830000");
    let text = cli.run(&["account", "show", "--id", "a1830000"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("successors:      g2430000"), "{text}");
}

#[test]
fn client_ids_that_begin_with_a_hyphen_are_taken_as_values() {
    let cli = Cli::new();
    let out = cli.run(&["client", "disable", "--id", "-opmp-Icjve6IPNGAW4Adw"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no client"), "{}", stderr(&out));
}
