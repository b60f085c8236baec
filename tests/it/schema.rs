//! The migrations of both back-ends create exactly the tables and columns `schema.rs`
//! declares (run on SQLite, and on PostgreSQL when the suite is pointed at it).

use diesel::prelude::*;
use diesel::sql_types::Text;
use uec_idp::config::Settings;
use uec_idp::store::schema::TABLES;
use uec_idp::store::{Db, DbConnection};

use crate::helpers::TestDb;

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    name: String,
}

#[test]
fn migrations_create_exactly_the_declared_schema() {
    let dir = tempfile::tempdir().expect("dir");
    let db_url = TestDb::new(dir.path());
    let settings = Settings {
        database_url: db_url.url.clone(),
        ..Settings::default()
    };
    let cfg = settings.validate().expect("valid");
    let db = Db::connect(&cfg.database, 1).expect("connect");
    assert!(db.migrate().expect("migrate") >= 1);
    assert_eq!(
        db.migrate().expect("migrate again"),
        0,
        "migrations are idempotent"
    );
    let mut conn = db.conn().expect("conn");
    for (table, declared) in TABLES {
        let live: Vec<Column> = match &mut *conn {
            DbConnection::Sqlite(c) => diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid")).load(c),
            DbConnection::Postgresql(c) => diesel::sql_query(format!(
                "SELECT column_name::text AS name FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = '{table}' ORDER BY ordinal_position"
            ))
            .load(c),
        }
        .expect("columns");
        let live: Vec<&str> = live.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(&live, declared, "table {table}");
    }
}
