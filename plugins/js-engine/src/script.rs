//! Compiling user source to bytecode and running one command from it.
//!
//! Scripts are plain global code (`function listContacts() {...}`), not ES
//! modules, so this uses QuickJS's script entry points directly:
//! `JS_Eval(.., COMPILE_ONLY)` + `JS_WriteObject` to compile, and
//! `JS_ReadObject` + `JS_EvalFunction` to run. `JS_ReadObject` trusts its
//! input; the host only ever hands back bytes that `compile` produced.

use std::cell::Cell;

use javy::quickjs::{Ctx, Function, Object, Value, qjs};

use crate::bindings::floh::connector::config;
use crate::bindings::floh::connector::types::{ConnectorResult, Invocation};
use crate::bindings::{Diagnostic, Exception, RunError};
use crate::js_runtime::with_runtime;
use crate::outcome::{self, caught_exception};

/// The file name scripts carry in stack traces and diagnostics.
const SCRIPT_NAME: &std::ffi::CStr = c"script.js";

/// Compile `source`, returning bytecode or a positioned syntax diagnostic.
pub fn compile(source: &str) -> Result<Vec<u8>, Diagnostic> {
    with_runtime(|js| {
        js.runtime.context().with(|cx| {
            let function = match compile_function(&cx, source) {
                Ok(function) => function,
                Err(exception) => return Err(diagnostic(&cx, source, exception)),
            };
            let ctx = cx.as_raw().as_ptr();
            let mut size = 0;
            // SAFETY: `function` is a live compiled function owned here; the
            // buffer QuickJS returns is copied before it is freed.
            let bytecode = unsafe {
                let buffer = qjs::JS_WriteObject(
                    ctx,
                    &mut size,
                    function,
                    (qjs::JS_WRITE_OBJ_BYTECODE | qjs::JS_WRITE_OBJ_STRIP_SOURCE) as i32,
                );
                qjs::JS_FreeValue(ctx, function);
                if buffer.is_null() {
                    drop(cx.catch());
                    return Err(Diagnostic {
                        message: "the compiled script could not be serialized".into(),
                        line: 0,
                        column: 0,
                    });
                }
                let bytes = std::slice::from_raw_parts(buffer, size as usize).to_vec();
                qjs::js_free(ctx, buffer.cast());
                bytes
            };
            Ok(bytecode)
        })
    })
}

/// Compile global code without running it; the caller owns the result.
fn compile_function(cx: &Ctx<'_>, source: &str) -> Result<qjs::JSValue, Exception> {
    // QuickJS requires a NUL byte after the input.
    let mut input = Vec::with_capacity(source.len() + 1);
    input.extend_from_slice(source.as_bytes());
    input.push(0);
    let flags = (qjs::JS_EVAL_TYPE_GLOBAL | qjs::JS_EVAL_FLAG_COMPILE_ONLY) as i32;
    // SAFETY: `input` is NUL-terminated and outlives the call.
    let function = unsafe {
        qjs::JS_Eval(
            cx.as_raw().as_ptr(),
            input.as_ptr().cast(),
            source.len() as _,
            SCRIPT_NAME.as_ptr(),
            flags,
        )
    };
    if unsafe { qjs::JS_IsException(function) } {
        return Err(caught_exception(cx));
    }
    Ok(function)
}

thread_local! {
    /// Whether `prepare` loaded a script into this instance (and so into the
    /// snapshot the host takes of it).
    static PREPARED: Cell<bool> = const { Cell::new(false) };
}

/// Load `bytecode`, evaluate the script's top level and call the command.
pub fn run(bytecode: &[u8], invocation: &Invocation) -> Result<ConnectorResult, RunError> {
    with_runtime(|js| {
        js.runtime.context().with(|cx| {
            install_run_data(&cx, invocation)?;
            evaluate_top_level(&cx, bytecode)?;
            call_command(&cx, invocation, &js.builtin_globals)
        })
    })
}

/// Load `bytecode` and evaluate its top level for a per-script snapshot.
///
/// The run data objects are guarded meanwhile (a top level that reads them
/// depends on the run). Garbage is collected before returning, so the
/// snapshot holds only what the script keeps.
pub fn prepare(bytecode: &[u8]) -> Result<(), String> {
    if PREPARED.get() {
        return Err("this instance already holds a prepared script".into());
    }
    with_runtime(|js| {
        js.runtime.context().with(|cx| {
            crate::floh_global::guard_run_data(&cx).map_err(|_| {
                drop(cx.catch());
                "could not guard floh.config, floh.params and floh.variables".to_string()
            })?;
            let evaluated = evaluate_top_level(&cx, bytecode);
            let touched = crate::floh_global::unguard_run_data(&cx).map_err(|_| {
                drop(cx.catch());
                "could not restore floh.config, floh.params and floh.variables".to_string()
            })?;
            if let Some(name) = touched {
                return Err(format!(
                    "the top level uses floh.{name}, which differs from run to run"
                ));
            }
            match evaluated {
                Err(RunError::ScriptThrew(exception)) => {
                    return Err(format!("the top level threw: {}", exception.message));
                }
                Err(_) => return Err("the bytecode did not load".into()),
                Ok(()) => {}
            }
            // Promise jobs the top level queued stay queued: they are part
            // of the image and run with the command, as without a snapshot.
            cx.run_gc();
            PREPARED.set(true);
            Ok(())
        })
    })
}

/// Call the command of the script `prepare` loaded into this instance.
pub fn run_prepared(invocation: &Invocation) -> Result<ConnectorResult, RunError> {
    if !PREPARED.get() {
        return Err(RunError::InvalidBytecode(
            "this engine image holds no prepared script".into(),
        ));
    }
    with_runtime(|js| {
        js.runtime.context().with(|cx| {
            install_run_data(&cx, invocation)?;
            call_command(&cx, invocation, &js.builtin_globals)
        })
    })
}

fn call_command(
    cx: &Ctx<'_>,
    invocation: &Invocation,
    builtin_globals: &std::collections::HashSet<String>,
) -> Result<ConnectorResult, RunError> {
    let function = command_function(cx, &invocation.command, builtin_globals)?;
    let params: Value<'_> = cx
        .globals()
        .get::<_, Object<'_>>("floh")
        .and_then(|floh| floh.get("params"))
        .unwrap_or_else(|_| Value::new_undefined(cx.clone()));
    let returned = match function.call::<_, Value<'_>>((params,)) {
        Ok(value) => value,
        Err(_) => return Err(RunError::CommandThrew(caught_exception(cx))),
    };
    let settled = outcome::settle(cx, returned)?;
    outcome::connector_result(cx, settled)
}

fn install_run_data(cx: &Ctx<'_>, invocation: &Invocation) -> Result<(), RunError> {
    let parse = |what: &str, json: &str| {
        cx.json_parse(json).map_err(|_| {
            drop(cx.catch());
            RunError::InvalidResult(format!("the host passed {what} that is not valid JSON"))
        })
    };
    let config = parse("config", &config::get())?;
    let params = parse("params", &invocation.params)?;
    let variables = parse("variables", &invocation.variables)?;
    crate::floh_global::set_run_data(cx, config, params, variables)
        .map_err(|_| RunError::InvalidResult("could not install floh.params".into()))
}

fn evaluate_top_level(cx: &Ctx<'_>, bytecode: &[u8]) -> Result<(), RunError> {
    let ctx = cx.as_raw().as_ptr();
    // SAFETY: the bytes come from `compile` of this engine version (the host
    // stores the engine version beside them and recompiles on change).
    let function = unsafe {
        qjs::JS_ReadObject(
            ctx,
            bytecode.as_ptr(),
            bytecode.len() as _,
            qjs::JS_READ_OBJ_BYTECODE as i32,
        )
    };
    if unsafe { qjs::JS_IsException(function) } {
        let exception = caught_exception(cx);
        return Err(RunError::InvalidBytecode(exception.message));
    }
    // SAFETY: JS_EvalFunction takes ownership of `function`.
    let result = unsafe { qjs::JS_EvalFunction(ctx, function) };
    if unsafe { qjs::JS_IsException(result) } {
        return Err(RunError::ScriptThrew(caught_exception(cx)));
    }
    unsafe { qjs::JS_FreeValue(ctx, result) };
    Ok(())
}

/// The command must be a function the script defined at global scope: an
/// own property of the global object that did not exist before the script
/// ran. Inherited (`toString`) and engine globals (`eval`, `floh`) never are.
fn command_function<'js>(
    cx: &Ctx<'js>,
    command: &str,
    builtin_globals: &std::collections::HashSet<String>,
) -> Result<Function<'js>, RunError> {
    let unknown = || RunError::UnknownCommand(command.to_string());
    if builtin_globals.contains(command) || !is_own_global(cx, command) {
        return Err(unknown());
    }
    let value: Value<'js> = cx.globals().get(command).map_err(|_| {
        drop(cx.catch());
        unknown()
    })?;
    value.into_function().ok_or_else(unknown)
}

fn is_own_global(cx: &Ctx<'_>, name: &str) -> bool {
    let ctx = cx.as_raw().as_ptr();
    let globals = cx.globals();
    // SAFETY: the atom is created and freed here; a null descriptor asks
    // only whether the property exists; the global object outlives the call.
    let found = unsafe {
        let atom = qjs::JS_NewAtomLen(ctx, name.as_ptr().cast(), name.len() as _);
        let found = qjs::JS_GetOwnProperty(ctx, std::ptr::null_mut(), globals.as_raw(), atom);
        qjs::JS_FreeAtom(ctx, atom);
        found
    };
    if found < 0 {
        drop(cx.catch());
    }
    found == 1
}

/// A syntax error's message and 1-based position.
///
/// QuickJS reports the line reliably but not the column (its parser keeps
/// the column of the current token, not of the error). The column is found
/// with the parser itself: the shortest prefix of the failing line that
/// reproduces the same error ends at the offending token.
fn diagnostic(cx: &Ctx<'_>, source: &str, exception: Exception) -> Diagnostic {
    let Some((line, _)) = position(&exception.stack) else {
        return Diagnostic {
            message: exception.message,
            line: 0,
            column: 0,
        };
    };
    let column = error_column(cx, source, line, &exception.message).unwrap_or(1);
    Diagnostic {
        message: exception.message,
        line,
        column,
    }
}

fn error_column(cx: &Ctx<'_>, source: &str, line: u32, message: &str) -> Option<u32> {
    let line_start = if line <= 1 {
        0
    } else {
        source.match_indices('\n').nth(line as usize - 2)?.0 + 1
    };
    let line_text = source[line_start..].split('\n').next()?;
    // Prefix ends after each character of the line.
    let ends: Vec<usize> = line_text
        .char_indices()
        .map(|(offset, c)| line_start + offset + c.len_utf8())
        .collect();
    let same_error = |end: usize| match compile_function(cx, &source[..end]) {
        Ok(function) => {
            unsafe { qjs::JS_FreeValue(cx.as_raw().as_ptr(), function) };
            false
        }
        Err(other) => other.message == message && position(&other.stack).map(|p| p.0) == Some(line),
    };
    let (mut low, mut high, mut found) = (0usize, ends.len(), None);
    while low < high {
        let middle = (low + high) / 2;
        if same_error(ends[middle]) {
            found = Some(middle);
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    found.map(|index| index as u32 + 1)
}

fn position(stack: &str) -> Option<(u32, u32)> {
    let name = SCRIPT_NAME.to_str().ok()?;
    let start = stack.find(name)? + name.len();
    let mut numbers = stack[start..]
        .strip_prefix(':')?
        .split(|c: char| !c.is_ascii_digit())
        .take(2)
        .map(str::parse::<u32>);
    let line = numbers.next()?.ok()?;
    let column = numbers.next().and_then(Result::ok).unwrap_or(0);
    Some((line, column))
}

#[cfg(test)]
mod tests {
    use super::position;

    #[test]
    fn position_reads_line_and_column_of_the_script_frame() {
        assert_eq!(
            position("SyntaxError: x\n    at script.js:3:14\n"),
            Some((3, 14))
        );
        assert_eq!(position("    at script.js:7\n"), Some((7, 0)));
        assert_eq!(position("    at other.js:1:1\n"), None);
    }
}
