//! The key versions an operator retired, and the guard every write of a
//! sealed value passes: a value sealed under a retired version is refused
//! inside the writing transaction (see `keys` for why that closes the race
//! with a retirement).

use std::collections::BTreeSet;

use redb::{ReadableTable, Table, WriteTransaction};

use super::{META, StoreError, decode, encode};
use crate::secrets::sealed_version;

/// The meta key of the retired versions (a JSON array).
const RETIRED: &str = "retired-key-versions";

/// The retired versions in `meta`.
pub(super) fn read(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<BTreeSet<u32>, StoreError> {
    meta.get(RETIRED)?
        .map(|v| decode(v.value()))
        .transpose()
        .map(Option::unwrap_or_default)
}

/// Add `version` to the retired ones.
pub(super) fn add(
    meta: &mut Table<&'static str, &'static [u8]>,
    version: u32,
) -> Result<(), StoreError> {
    let mut retired = read(meta)?;
    retired.insert(version);
    meta.insert(RETIRED, encode(&retired).as_slice())?;
    Ok(())
}

/// Refuse to write `sealed` when its version was retired; called inside
/// every write transaction that stores a sealed value.
pub(super) fn refuse_retired(txn: &WriteTransaction, sealed: &[u8]) -> Result<(), StoreError> {
    let version = sealed_version(sealed);
    if read(&txn.open_table(META)?)?.contains(&version) {
        return Err(StoreError::RetiredKey(version));
    }
    Ok(())
}
