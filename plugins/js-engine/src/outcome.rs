//! Turning what a command returned (or threw) into the WIT result types.

use javy::quickjs::{Ctx, Object, Value};

use crate::bindings::floh::connector::types::ConnectorResult;
use crate::bindings::{Exception, RunError};

/// Take the pending exception and describe it. Non-`Error` throws
/// (`throw "x"`, `throw {code: 1}`) have no stack; their message is the
/// thrown value rendered as text.
pub fn caught_exception(cx: &Ctx<'_>) -> Exception {
    let value = cx.catch();
    if let Some(exception) = value.as_exception() {
        let message = exception.message().unwrap_or_default();
        let name: String = exception.get("name").unwrap_or_else(|_| "Error".into());
        let stack = exception.stack().unwrap_or_default();
        return Exception {
            message: if name.is_empty() {
                message
            } else {
                format!("{name}: {message}")
            },
            stack,
        };
    }
    let message =
        crate::floh_global::display(cx, value).unwrap_or_else(|_| "uncaught exception".into());
    Exception {
        message: format!("Uncaught {message}"),
        stack: String::new(),
    }
}

/// Wait for a returned promise (an `async function` command) to settle by
/// running QuickJS's job queue; plain values pass through.
pub fn settle<'js>(cx: &Ctx<'js>, value: Value<'js>) -> Result<Value<'js>, RunError> {
    let Some(promise) = value.as_promise().cloned() else {
        return Ok(value);
    };
    // A job that throws rejects its promise, which is reported below.
    while cx.execute_pending_job() {}
    use javy::quickjs::promise::PromiseState;
    match promise.state() {
        PromiseState::Resolved => promise.result::<Value<'js>>().and_then(Result::ok).ok_or_else(|| {
            RunError::InvalidResult("the command's promise resolved without a value".into())
        }),
        PromiseState::Rejected => {
            // Re-throw the rejection reason so it is read like any exception.
            let reason = promise.result::<Value<'js>>().and_then(Result::err);
            drop(reason);
            Err(RunError::CommandThrew(caught_exception(cx)))
        }
        PromiseState::Pending => Err(RunError::InvalidResult(
            "the command's promise never settled (floh.http calls are synchronous; nothing else can resolve it)".into(),
        )),
    }
}

/// Validate the returned value against the ConnectorResult shape.
pub fn connector_result<'js>(
    cx: &Ctx<'js>,
    value: Value<'js>,
) -> Result<ConnectorResult, RunError> {
    let invalid = |reason: String| RunError::InvalidResult(reason);
    let Some(object) = value
        .as_object()
        .filter(|_| !value.is_array() && !value.is_function())
    else {
        return Err(invalid(format!(
            "the command returned {}; expected an object such as {{ success: true, data: {{...}} }}",
            type_name(&value)
        )));
    };
    let success: Value<'js> = object
        .get("success")
        .map_err(|_| invalid("success is unreadable".into()))?;
    let Some(success) = success.as_bool() else {
        return Err(invalid(format!(
            "`success` must be a boolean, found {}",
            type_name(&success)
        )));
    };
    let data = json_field(cx, object, "data")?;
    let output_variables = match object.get::<_, Value<'js>>("outputVariables") {
        Ok(v) if v.is_undefined() || v.is_null() => None,
        Ok(v) if v.is_object() && !v.is_array() => json_field(cx, object, "outputVariables")?,
        Ok(v) => {
            return Err(invalid(format!(
                "`outputVariables` must be an object, found {}",
                type_name(&v)
            )));
        }
        Err(_) => return Err(invalid("outputVariables is unreadable".into())),
    };
    let error = match object.get::<_, Value<'js>>("error") {
        Ok(v) if v.is_undefined() || v.is_null() => None,
        Ok(v) if v.is_error() => Some(
            v.as_object()
                .and_then(|o| o.get::<_, String>("message").ok())
                .unwrap_or_default(),
        ),
        Ok(v) => Some(
            crate::floh_global::display(cx, v)
                .map_err(|_| invalid("error is unreadable".into()))?,
        ),
        Err(_) => return Err(invalid("error is unreadable".into())),
    };
    Ok(ConnectorResult {
        success,
        data,
        output_variables,
        error,
    })
}

/// A field as JSON text, `None` when absent. Values JSON cannot represent
/// (cycles, BigInt) are reported rather than silently dropped.
fn json_field<'js>(
    cx: &Ctx<'js>,
    object: &Object<'js>,
    field: &str,
) -> Result<Option<String>, RunError> {
    let value: Value<'js> = object
        .get(field)
        .map_err(|_| RunError::InvalidResult(format!("{field} is unreadable")))?;
    if value.is_undefined() {
        return Ok(None);
    }
    match cx.json_stringify(value) {
        Ok(Some(json)) => json
            .to_string()
            .map(Some)
            .map_err(|_| RunError::InvalidResult(format!("{field} is not valid text"))),
        Ok(None) => Ok(None),
        Err(_) => {
            let exception = caught_exception(cx);
            Err(RunError::InvalidResult(format!(
                "`{field}` cannot be represented as JSON ({})",
                exception.message
            )))
        }
    }
}

fn type_name(value: &Value<'_>) -> &'static str {
    if value.is_undefined() {
        "undefined (did the function forget to return?)"
    } else if value.is_null() {
        "null"
    } else if value.is_array() {
        "an array"
    } else if value.is_string() {
        "a string"
    } else if value.is_number() {
        "a number"
    } else if value.is_bool() {
        "a boolean"
    } else if value.is_function() {
        "a function"
    } else {
        "a non-object value"
    }
}
