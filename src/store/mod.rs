//! Storage with diesel, one code path for SQLite (embedded default) and PostgreSQL.
//!
//! Every query is written once against [`DbConnection`], diesel's `MultiConnection` over
//! both back-ends; only the migration DDL differs (`migrations/sqlite`,
//! `migrations/postgres`). Store functions take `&mut DbConnection`; async code reaches
//! them through [`Db::run`] / [`Db::write`], which run on the blocking pool so the async
//! executor never waits on the database.

pub mod accounts;
pub mod audit;
pub mod clients;
pub mod consents;
pub mod grants;
pub mod initial_tokens;
pub mod lifecycle;
pub mod login_flows;
pub mod logout_notifications;
pub mod pushed_requests;
pub mod refresh_tokens;
pub mod reissue;
pub mod revocations;
pub mod schema;
pub mod second_factors;
pub mod sessions;
pub mod throttle;

use std::path::Path;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::DatabaseUrl;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// What can go wrong in `store/`; diesel's own errors never travel further up.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (duplicate ID, alias, ...).
    #[error("already exists")]
    Conflict,
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Query(diesel::result::Error),
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => StoreError::Conflict,
            other => StoreError::Query(other),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Opens connections of the configured back-end. diesel's own `ConnectionManager` would
/// try PostgreSQL and then SQLite for any URL, and SQLite accepts any string as a file
/// name: a mistyped PostgreSQL URL must fail, not create a stray database file.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        let mut conn = match &self.url {
            DatabaseUrl::Postgres(url) => {
                openssl_without_exit_handlers();
                DbConnection::Postgresql(
                    diesel::PgConnection::establish(&without_gss_probe(url))
                        .map_err(r2d2::Error::ConnectionError)?,
                )
            }
            DatabaseUrl::Sqlite(path) => DbConnection::Sqlite(
                diesel::SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(r2d2::Error::ConnectionError)?,
            ),
        };
        if let DbConnection::Sqlite(c) = &mut conn {
            // WAL lets readers run beside the one writer; NORMAL sync is durable across a
            // process crash (not a power cut), the usual trade for WAL; a writer waits up
            // to 5 s for the lock instead of failing at once.
            c.batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
            )
            .map_err(r2d2::Error::QueryError)?;
        }
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// libpq speaks TLS through the system's OpenSSL, which by default registers an `atexit`
/// handler that frees its global tables (providers, algorithm names, ex-data) when the
/// process exits. Any thread still inside a TLS handshake at that moment (an r2d2 refill
/// thread, a test's server on its way down, a worker connecting while `serve` returns)
/// then reads freed memory: SIGSEGV in `EVP_KDF_fetch`/`OPENSSL_LH_retrieve` while the
/// main thread is in `OPENSSL_cleanup` (issue #11). OpenSSL decides this on its first
/// initialisation only, so before libpq's first connection we initialise it the way
/// rust-openssl does, with `OPENSSL_INIT_NO_ATEXIT`: its state then lives until the
/// kernel reclaims the process, and no exit path depends on which threads are still
/// connecting. Nothing else in this binary uses OpenSSL (rustls and aws-lc do the rest).
fn openssl_without_exit_handlers() {
    openssl_sys::init();
}

/// libpq's default `gssencmode=prefer` asks Kerberos for a credential cache before every
/// connection, even to a server that has never heard of GSSAPI. Kerberos tears its
/// thread-local keys down in a library destructor at exit, and a thread still connecting
/// then aborts (`krb5int_getspecific: Assertion ... failed`), the same race as OpenSSL's.
/// So the probe is off unless the operator's URL names `gssencmode` (a site that really
/// uses GSSAPI says so, and keeps libpq's behaviour).
fn without_gss_probe(url: &str) -> String {
    let names_it = url::Url::parse(url)
        .map(|u| u.query_pairs().any(|(k, _)| k == "gssencmode"))
        .unwrap_or(true);
    if names_it {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}gssencmode=disable")
}

/// The connection pool; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
}

impl Db {
    /// Connects (creating the SQLite file's directory if needed) and checks that the
    /// database answers; the error text is meant for the operator.
    pub fn connect(url: &DatabaseUrl, pool_size: u32) -> Result<Db, String> {
        Self::connect_with(url, pool_size, 1)
    }

    /// For a short-lived command: one connection, and none opened in the background (a
    /// command needs no more; see `openssl_without_exit_handlers` for why an exit during a
    /// background connect is safe all the same).
    pub fn connect_for_command(url: &DatabaseUrl) -> Result<Db, String> {
        Self::connect_with(url, 1, 0)
    }

    fn connect_with(url: &DatabaseUrl, pool_size: u32, min_idle: u32) -> Result<Db, String> {
        if let DatabaseUrl::Sqlite(path) = url {
            create_parent_dir(path)?;
        }
        let manager = Manager { url: url.clone() };
        // One direct attempt first: r2d2 would retry an unreachable server until its timeout.
        manager
            .connect()
            .map_err(|e| format!("cannot connect: {e}"))?;
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(min_idle))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(|e| format!("cannot connect: {e}"))?;
        Ok(Db { pool })
    }

    /// A connection for synchronous callers (CLI, start-up); never call from async code.
    pub fn conn(&self) -> StoreResult<r2d2::PooledConnection<Manager>> {
        self.pool
            .get()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Runs `f` with a connection on the blocking pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let db = self.clone();
        let span = tracing::Span::current();
        match tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = db.conn()?;
            f(&mut conn)
        })
        .await
        {
            Ok(result) => result,
            Err(e) => Err(StoreError::Unavailable(format!("database task failed: {e}")).into()),
        }
    }

    /// Runs `f` inside one write transaction on the blocking pool (see [`write_tx`]).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.run(move |conn| write_tx(conn, f)).await
    }

    /// Applies pending migrations of the connected back-end; returns how many ran.
    pub fn migrate(&self) -> Result<usize, String> {
        let mut conn = self.conn().map_err(|e| e.to_string())?;
        let applied = match &mut *conn {
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
            DbConnection::Postgresql(c) => c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len()),
        };
        applied.map_err(|e| format!("migration failed: {e}"))
    }
}

/// One write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, taking the write lock
/// up front: a deferred transaction that reads first and writes later can fail with
/// SQLITE_BUSY when another writer commits in between, instead of waiting its turn.
/// Rolled back when `f` returns an error, so nothing is half-written.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<StoreError>,
{
    let begun = match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
        }
        DbConnection::Postgresql(c) => AnsiTransactionManager::begin_transaction(c),
    };
    begun.map_err(StoreError::from)?;
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)
                .map_err(StoreError::from)?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) =
                <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)
            {
                tracing::error!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}

/// Whether the database answers.
pub fn ping(conn: &mut DbConnection) -> StoreResult<()> {
    Ok(conn.batch_execute("SELECT 1")?)
}

fn create_parent_dir(path: &Path) -> Result<(), String> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create directory {}: {e}", dir.display())),
        _ => Ok(()),
    }
}

/// Serialises a list column.
pub(crate) fn to_json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// Reads a list column; a corrupt value reads as empty (and is logged) rather than failing
/// every request that touches the row.
pub(crate) fn from_json_list(raw: &str) -> Vec<String> {
    serde_json::from_str(raw).unwrap_or_else(|e| {
        tracing::error!(error = %e, "corrupt JSON list column");
        Vec::new()
    })
}

#[cfg(test)]
mod tests {
    use super::without_gss_probe;

    #[test]
    fn the_gss_probe_is_off_unless_the_url_names_it() {
        assert_eq!(
            without_gss_probe("postgres://u@h/db"),
            "postgres://u@h/db?gssencmode=disable"
        );
        assert_eq!(
            without_gss_probe("postgres://u@h/db?sslmode=require"),
            "postgres://u@h/db?sslmode=require&gssencmode=disable"
        );
        for kept in [
            "postgres://u@h/db?gssencmode=require",
            "postgresql://u@h/db?sslmode=require&gssencmode=prefer",
        ] {
            assert_eq!(without_gss_probe(kept), kept);
        }
    }
}
