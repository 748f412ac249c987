//! `floh.cache`: the host's per-connector cache, for values worth keeping
//! between executions (each runs in a fresh instance), such as an OAuth2
//! access token. Keys and values are strings; the host scopes entries to the
//! connector and its configuration and bounds their size and lifetime.

use javy::quickjs::function::Opt;
use javy::quickjs::prelude::Func;
use javy::quickjs::{Ctx, Exception, Object, Result};

use crate::bindings::floh::connector::cache;

/// Lifetime of an entry set without one, in seconds.
const DEFAULT_TTL_SECONDS: f64 = 300.0;

/// `floh.cache.get/set/delete`.
pub fn cache_object<'js>(cx: &Ctx<'js>) -> Result<Object<'js>> {
    let object = Object::new(cx.clone())?;
    object.set(
        "get",
        Func::from(|key: String| -> Option<String> { cache::get(&key) }),
    )?;
    object.set("set", Func::from(set))?;
    object.set("delete", Func::from(|key: String| cache::delete(&key)))?;
    Ok(object)
}

fn set(cx: Ctx<'_>, key: String, value: String, ttl_seconds: Opt<f64>) -> Result<()> {
    let ttl = ttl_seconds.0.unwrap_or(DEFAULT_TTL_SECONDS);
    if !ttl.is_finite() || ttl < 0.0 {
        return Err(Exception::throw_range(
            &cx,
            "floh.cache.set: ttlSeconds must be a non-negative number",
        ));
    }
    let ttl = ttl.min(f64::from(u32::MAX)) as u32;
    cache::set(&key, &value, ttl)
        .map_err(|reason| Exception::throw_message(&cx, &format!("floh.cache.set: {reason}")))
}
