//! Which store a command works on: a store file (`--store FILE`), or a tenant's database in a server's data
//! directory (`--data-dir DIR --tenant NAME`, the embedded backend's `<dir>/<tenant>.db`).

use std::path::PathBuf;

use clap::Args;
use eventlite::{Location, Store, StoreOptions};

use crate::cli::exit::{CliCode, CliError};

/// The store's location.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The store file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["data_dir", "tenant"])]
    pub store: Option<PathBuf>,
    /// A sync server's data directory (one database per tenant); needs --tenant.
    #[arg(long, value_name = "DIR", requires = "tenant")]
    pub data_dir: Option<PathBuf>,
    /// The tenant whose database to open in --data-dir.
    #[arg(long, value_name = "NAME", requires = "data_dir")]
    pub tenant: Option<String>,
}

impl StoreArgs {
    /// Whether a store was named at all.
    pub fn given(&self) -> bool {
        self.store.is_some() || self.data_dir.is_some()
    }

    /// The database file.
    pub fn path(&self) -> Result<PathBuf, CliError> {
        match (&self.store, &self.data_dir, &self.tenant) {
            (Some(path), _, _) => Ok(path.clone()),
            (None, Some(dir), Some(tenant)) => {
                let tenant = eventlite_server::auth::Tenant::new(tenant).map_err(CliError::usage)?;
                Ok(dir.join(format!("{}.db", tenant.as_str())))
            }
            _ => Err(CliError::usage("give --store FILE, or --data-dir DIR with --tenant NAME")),
        }
    }

    /// The path, which must exist (exit 4 otherwise).
    pub fn existing(&self) -> Result<PathBuf, CliError> {
        let path = self.path()?;
        if !path.exists() {
            return Err(CliError::cli(CliCode::StoreNotFound, format!("{}: no such store", path.display())));
        }
        Ok(path)
    }

    /// Opens the store read-only: commands that only read never write to it, and work on a read-only mount.
    pub fn open_read_only(&self) -> Result<Store, CliError> {
        let options = StoreOptions { read_only: true, ..tool_options() };
        Ok(Store::open_with(Location::File(self.existing()?), options)?)
    }

    /// Opens (creating) the store read-write.
    pub fn open(&self) -> Result<Store, CliError> {
        Ok(Store::open_with(Location::File(self.path()?), tool_options())?)
    }
}

/// The tools read whole stores: without a memory map their resident memory stays one page cache whatever the
/// store's size (mapped pages would count in it).
fn tool_options() -> StoreOptions {
    StoreOptions { memory_map_bytes: 0, ..StoreOptions::default() }
}
