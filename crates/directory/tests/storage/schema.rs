//! `src/schema.rs` (diesel's view of the tables, written by hand) says exactly what the
//! migrations make, on each backend: the same tables, the same columns, the same types and
//! nullability. A migration that adds a column the schema lacks (or the reverse) fails here,
//! not in production.

use std::collections::BTreeSet;

use diesel::QueryableByName;
use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Text};
use directory::db::DbConnection;
use directory::testing::TestDatabase;

/// (table, column, type as diesel names it, nullable)
type Column = (String, String, String, bool);

/// The columns `src/schema.rs` declares, read from its `table!` blocks.
fn declared() -> BTreeSet<Column> {
    let source = include_str!("../../src/schema.rs");
    let mut out = BTreeSet::new();
    let mut table: Option<String> = None;
    for line in source.lines().map(str::trim) {
        if let Some(rest) = line.strip_suffix('{')
            && let Some((name, _key)) = rest.trim().split_once(" (")
            && !name.contains(' ')
        {
            table = Some(name.to_owned());
            continue;
        }
        if line == "}" {
            table = None;
            continue;
        }
        if let (Some(t), Some((column, ty))) = (&table, line.trim_end_matches(',').split_once(" -> ")) {
            let (ty, nullable) = match ty.strip_prefix("Nullable<").and_then(|t| t.strip_suffix('>')) {
                Some(inner) => (inner, true),
                None => (ty, false),
            };
            out.insert((t.clone(), column.trim().to_owned(), ty.to_owned(), nullable));
        }
    }
    out
}

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

#[derive(QueryableByName)]
struct SqliteTable {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    r#type: String,
    #[diesel(sql_type = BigInt)]
    notnull: i64,
    #[diesel(sql_type = BigInt)]
    pk: i64,
}

/// The diesel type a database's column type maps to.
fn diesel_type(database_type: &str) -> String {
    match database_type.to_ascii_lowercase().as_str() {
        "text" => "Text",
        "boolean" => "Bool",
        "bigint" => "BigInt",
        "integer" => "Integer",
        "timestamp" | "timestamp without time zone" => "Timestamp",
        other => return format!("unmapped {other}"),
    }
    .to_owned()
}

/// The columns the migrations made.
fn migrated(conn: &mut DbConnection) -> BTreeSet<Column> {
    let mut out = BTreeSet::new();
    match conn {
        DbConnection::Postgresql(pg) => {
            let rows: Vec<PgColumn> = diesel::sql_query(
                "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type, \
                 is_nullable::text AS is_nullable FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
            )
            .load(pg)
            .unwrap();
            for c in rows {
                out.insert((c.table_name, c.column_name, diesel_type(&c.data_type), c.is_nullable == "YES"));
            }
        }
        DbConnection::Sqlite(lite) => {
            let tables: Vec<SqliteTable> = diesel::sql_query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                 AND name <> '__diesel_schema_migrations'",
            )
            .load(lite)
            .unwrap();
            for t in tables {
                let columns: Vec<SqliteColumn> = diesel::sql_query(format!(
                    "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{}')",
                    t.name
                ))
                .load(lite)
                .unwrap();
                for c in columns {
                    // A single-column primary key without NOT NULL still holds no NULL here.
                    out.insert((t.name.clone(), c.name, diesel_type(&c.r#type), c.notnull == 0 && c.pk == 0));
                }
            }
        }
    }
    out
}

fn the_schema_matches_the_migrations(db: TestDatabase) {
    let (dir, _) = crate::open(&db);
    drop(dir);
    let url = directory::DatabaseUrl::parse(&db.url).unwrap();
    let pool = directory::db::open_pool(&url, 1, std::time::Duration::from_secs(5)).unwrap();
    let mut conn = pool.get().unwrap();
    let sqlite = matches!(&*conn, DbConnection::Sqlite(_));
    // SQLite has one integer type (64 bits), which diesel reads as BigInt and Integer alike.
    let declared: BTreeSet<Column> = declared()
        .into_iter()
        .map(|(t, c, ty, n)| (t, c, if sqlite && ty == "BigInt" { "Integer".to_owned() } else { ty }, n))
        .collect();
    let migrated = migrated(&mut conn);
    assert!(declared.len() > 100, "schema.rs was read: {} columns", declared.len());
    let missing: Vec<&Column> = migrated.difference(&declared).collect();
    let extra: Vec<&Column> = declared.difference(&migrated).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "schema.rs lacks {missing:?}\nschema.rs has but the migrations do not make {extra:?}"
    );
}

directory::both_backends!(the_schema_matches_the_migrations);

/// Every enum kept as text is spelled in Rust exactly as the schema's CHECK constraints allow,
/// on both backends: a value Rust writes is never refused, and a value the database holds is
/// never unreadable.
#[test]
fn stored_enums_match_the_check_constraints() {
    use directory::connection::{ConnectionStatus, Protocol, Provider};
    use directory::enterprise::ProvisioningMode;
    use directory::group::MembershipSource;
    use directory::job::JobState;
    use directory::provisioning::GroupOrigin;
    use directory::role::Role;
    use directory::user::Origin;
    macro_rules! spelled {
        ($e:ty) => {
            <$e>::ALL.iter().map(|v| v.as_str().to_owned()).collect::<BTreeSet<String>>()
        };
    }
    let enums = [
        ("provisioning_mode", spelled!(ProvisioningMode)),
        ("protocol", spelled!(Protocol)),
        ("provider", spelled!(Provider)),
        ("status", spelled!(ConnectionStatus)),
        ("state", spelled!(JobState)),
        ("source", spelled!(MembershipSource)),
        ("role", spelled!(Role)),
        // Two tables have an `origin`: users (local, jit, scim) and IdP groups (jit, scim).
        ("origin", spelled!(Origin)),
        ("origin", spelled!(GroupOrigin)),
    ];
    for backend in ["sqlite", "postgres"] {
        for (column, rust) in &enums {
            let checks = checks_of(backend, column);
            assert!(checks.contains(rust), "{backend}: {column} allows {checks:?}, Rust spells {rust:?}");
        }
    }
    assert!(Origin::parse("LOCAL").is_none() && Origin::parse("").is_none(), "spellings are exact");
    assert_eq!(Origin::try_from("ldap".to_owned()).unwrap_err().to_string(), "unknown Origin \"ldap\" in the database");
}

/// Every value list the migrations of `backend` give a `CHECK (column IN (…))`.
fn checks_of(backend: &str, column: &str) -> Vec<BTreeSet<String>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations").join(backend);
    let needle = format!("CHECK ({column} IN (");
    let mut lists = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let sql = std::fs::read_to_string(entry.unwrap().path().join("up.sql")).unwrap();
        let mut rest = sql.as_str();
        while let Some(start) = rest.find(&needle) {
            let after = &rest[start + needle.len()..];
            let list = &after[..after.find(')').unwrap()];
            lists.push(list.split(',').map(|v| v.trim().trim_matches('\'').to_owned()).collect());
            rest = after;
        }
    }
    assert!(!lists.is_empty(), "{backend}: no CHECK for {column}");
    lists
}

#[derive(QueryableByName)]
struct CompileOption {
    #[diesel(sql_type = Text)]
    compile_options: String,
}

/// The bundled SQLite has the query planner stability guarantee (`.cargo/config.toml`):
/// without it every `.first()` (a bound `LIMIT ?`) re-prepares its cached statement each time.
#[test]
fn sqlite_keeps_its_prepared_statements() {
    let db = TestDatabase::sqlite();
    let url = directory::DatabaseUrl::parse(&db.url).unwrap();
    let pool = directory::db::open_pool(&url, 1, std::time::Duration::from_secs(5)).unwrap();
    let mut conn = pool.get().unwrap();
    let DbConnection::Sqlite(lite) = &mut *conn else { unreachable!() };
    let options: Vec<CompileOption> = diesel::sql_query("PRAGMA compile_options").load(lite).unwrap();
    assert!(options.iter().any(|o| o.compile_options == "ENABLE_QPSG"), "built without ENABLE_QPSG");
}
