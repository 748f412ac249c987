//! The `floh` global that scripts see, as the spec documents it:
//! `floh.http.get/post/put/patch/delete`, `floh.log.trace..error`,
//! `floh.config`, `floh.params` and `floh.variables`; plus `floh.cache`
//! (values kept between executions) and `floh.http.head/options/request`
//! (the rest of the WIT's methods, and any of them by name).
//!
//! The functions are installed once (into the build snapshot); the three data
//! objects are replaced at the start of every run, and guarded while a
//! script's top level is evaluated for its own snapshot.

use std::cell::Cell;

use javy::quickjs::function::Rest;
use javy::quickjs::object::{Accessor, Property};
use javy::quickjs::prelude::Func;
use javy::quickjs::{Ctx, Exception, Object, Result, Value};

use crate::bindings::floh::connector::http::Method;
use crate::bindings::floh::connector::log::{self, Level};
use crate::cache_bridge;
use crate::http_bridge::{self, BodyArgument};

/// Create `globalThis.floh` with its functions and empty data objects, and
/// route `console.*` to the same host log.
pub fn install(cx: &Ctx<'_>) -> Result<()> {
    let floh = Object::new(cx.clone())?;
    floh.set("http", http_object(cx)?)?;
    floh.set("log", log_object(cx)?)?;
    floh.set("cache", cache_bridge::cache_object(cx)?)?;
    for name in RUN_DATA {
        floh.set(name, Object::new(cx.clone())?)?;
    }
    cx.globals().set("floh", floh)?;
    cx.globals().set("console", console_object(cx)?)?;
    Ok(())
}

/// The run data objects, which differ from run to run.
const RUN_DATA: [&str; 3] = ["config", "params", "variables"];

thread_local! {
    /// The first run data object the top level touched while guarded.
    static RUN_DATA_TOUCHED: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Make `floh.config`, `floh.params` and `floh.variables` throw while a
/// script's top level is evaluated for a snapshot: their values belong to one
/// run, so a top level that reads them cannot be captured once for all runs.
/// The touch is also recorded, so a top level that catches the exception is
/// refused all the same.
pub fn guard_run_data(cx: &Ctx<'_>) -> Result<()> {
    RUN_DATA_TOUCHED.set(None);
    let floh: Object<'_> = cx.globals().get("floh")?;
    for name in RUN_DATA {
        let refuse = move |cx: Ctx<'_>| -> Result<()> {
            RUN_DATA_TOUCHED.set(RUN_DATA_TOUCHED.get().or(Some(name)));
            Err(Exception::throw_message(
                &cx,
                &format!("floh.{name} is not available while the script loads for a snapshot"),
            ))
        };
        let refuse_write = move |cx: Ctx<'_>, _: Value<'_>| refuse(cx);
        floh.prop(
            name,
            Accessor::new(refuse, refuse_write)
                .configurable()
                .enumerable(),
        )?;
    }
    Ok(())
}

/// Put plain, empty run data objects back after [`guard_run_data`], and say
/// which one the top level touched, if any.
pub fn unguard_run_data(cx: &Ctx<'_>) -> Result<Option<&'static str>> {
    let floh: Object<'_> = cx.globals().get("floh")?;
    for name in RUN_DATA {
        let empty = Object::new(cx.clone())?;
        floh.prop(
            name,
            Property::from(empty).writable().configurable().enumerable(),
        )?;
    }
    Ok(RUN_DATA_TOUCHED.take())
}

/// Set `floh.config`, `floh.params` and `floh.variables` for one run.
pub fn set_run_data<'js>(
    cx: &Ctx<'js>,
    config: Value<'js>,
    params: Value<'js>,
    variables: Value<'js>,
) -> Result<()> {
    let floh: Object<'js> = cx.globals().get("floh")?;
    floh.set("config", config)?;
    floh.set("params", params)?;
    floh.set("variables", variables)?;
    Ok(())
}

fn http_object<'js>(cx: &Ctx<'js>) -> Result<Object<'js>> {
    let http = Object::new(cx.clone())?;
    http.set(
        "get",
        Func::from(|cx, args| http_bridge::request(cx, Method::Get, BodyArgument::None, args)),
    )?;
    http.set(
        "delete",
        Func::from(|cx, args| http_bridge::request(cx, Method::Delete, BodyArgument::None, args)),
    )?;
    http.set(
        "post",
        Func::from(|cx, args| http_bridge::request(cx, Method::Post, BodyArgument::AfterUrl, args)),
    )?;
    http.set(
        "put",
        Func::from(|cx, args| http_bridge::request(cx, Method::Put, BodyArgument::AfterUrl, args)),
    )?;
    http.set(
        "patch",
        Func::from(|cx, args| {
            http_bridge::request(cx, Method::Patch, BodyArgument::AfterUrl, args)
        }),
    )?;
    http.set(
        "head",
        Func::from(|cx, args| http_bridge::request(cx, Method::Head, BodyArgument::None, args)),
    )?;
    http.set(
        "options",
        Func::from(|cx, args| http_bridge::request(cx, Method::Options, BodyArgument::None, args)),
    )?;
    http.set(
        "request",
        Func::from(|cx, args| http_bridge::request_with_method(cx, args)),
    )?;
    Ok(http)
}

fn log_object<'js>(cx: &Ctx<'js>) -> Result<Object<'js>> {
    logger_object(
        cx,
        &[
            ("trace", Level::Trace),
            ("debug", Level::Debug),
            ("info", Level::Info),
            ("warn", Level::Warn),
            ("error", Level::Error),
        ],
    )
}

/// `console` is not part of the spec, but scripts copied from elsewhere use
/// it; writing to the host log keeps those messages instead of dropping them.
fn console_object<'js>(cx: &Ctx<'js>) -> Result<Object<'js>> {
    logger_object(
        cx,
        &[
            ("log", Level::Info),
            ("info", Level::Info),
            ("debug", Level::Debug),
            ("warn", Level::Warn),
            ("error", Level::Error),
        ],
    )
}

/// An object whose methods log their arguments at the given levels.
fn logger_object<'js>(cx: &Ctx<'js>, methods: &[(&str, Level)]) -> Result<Object<'js>> {
    let object = Object::new(cx.clone())?;
    for &(name, level) in methods {
        object.set(name, Func::from(move |cx, args| write_log(cx, level, args)))?;
    }
    Ok(object)
}

fn write_log<'js>(cx: Ctx<'js>, level: Level, args: Rest<Value<'js>>) -> Result<()> {
    let mut message = String::new();
    for (index, value) in args.0.into_iter().enumerate() {
        if index > 0 {
            message.push(' ');
        }
        message.push_str(&display(&cx, value)?);
    }
    log::log(level, &message);
    Ok(())
}

/// Render a value for a log line: strings as they are, objects as JSON,
/// everything else through JavaScript's `String()`.
pub fn display<'js>(cx: &Ctx<'js>, value: Value<'js>) -> Result<String> {
    if let Some(text) = value.as_string() {
        return text.to_string();
    }
    if value.is_error() {
        let message = value
            .as_object()
            .and_then(|o| o.get::<_, String>("message").ok())
            .unwrap_or_default();
        return Ok(format!("Error: {message}"));
    }
    if value.is_object()
        && let Ok(Some(json)) = cx.json_stringify(value.clone())
    {
        return json.to_string();
    }
    let coerced: javy::quickjs::Coerced<String> = value.get()?;
    Ok(coerced.0)
}
