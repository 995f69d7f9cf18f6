//! Backups of the embedded SQLite database, taken while Portico serves. PostgreSQL is backed up
//! with its own tools (`pg_dump`, or the provider's snapshots); see docs/operations.md.

use std::path::Path;

use diesel::RunQueryDsl;
use diesel::sql_types::Text;

use crate::Directory;
use crate::db::DbConnection;
use crate::error::{DirectoryError, Result};

impl Directory {
    /// Writes a consistent copy of the SQLite database to `to`, a file that must not exist
    /// yet. `VACUUM INTO` reads one snapshot (a read transaction, which in WAL mode neither
    /// waits for writers nor holds them up), so requests go on being served meanwhile; the copy
    /// is compacted and opens as a database of its own, migrations included.
    pub fn backup_sqlite(&self, to: &Path) -> Result<()> {
        if to.exists() {
            return Err(DirectoryError::Conflict(format!("{} exists already; back up to a new file", to.display())));
        }
        let target =
            to.to_str().ok_or_else(|| DirectoryError::Conflict(format!("{} is not a UTF-8 path", to.display())))?;
        let mut conn = self.conn()?;
        match &mut *conn {
            DbConnection::Sqlite(c) => {
                diesel::sql_query("VACUUM INTO ?").bind::<Text, _>(target).execute(c)?;
                Ok(())
            }
            DbConnection::Postgresql(_) => Err(DirectoryError::Conflict(
                "this installation runs on PostgreSQL: back it up with pg_dump (see docs/operations.md)".into(),
            )),
        }
    }
}
