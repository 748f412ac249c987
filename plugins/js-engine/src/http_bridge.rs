//! `floh.http.*`: turns a script's call into one `http.send` host call and the
//! host's answer into the documented `{status, body, headers}` object.
//!
//! The call is synchronous from the script's point of view; the host performs
//! it asynchronously while this instance is suspended.

use javy::quickjs::function::Rest;
use javy::quickjs::{Ctx, Exception, Object, Result, Value};

use crate::bindings::floh::connector::http::{self, HttpError, Method, Request, Response};

/// Where a method takes its body from.
#[derive(Clone, Copy)]
pub enum BodyArgument {
    /// `get(url, headers?)`, `head`, `options` and `delete`.
    None,
    /// `post(url, body?, headers?)`, `put`, `patch` and
    /// `request(method, url, body?, headers?)`: right after the URL.
    AfterUrl,
}

/// The methods `floh.http.request` accepts, as the WIT `method` enum has them.
const METHODS: [Method; 7] = [
    Method::Get,
    Method::Head,
    Method::Post,
    Method::Put,
    Method::Patch,
    Method::Delete,
    Method::Options,
];

/// Perform one request for a `floh.http.<method>` call.
pub fn request<'js>(
    cx: Ctx<'js>,
    method: Method,
    body_argument: BodyArgument,
    args: Rest<Value<'js>>,
) -> Result<Value<'js>> {
    send(cx, method_name(method), method, body_argument, args.0)
}

/// Perform one request for `floh.http.request(method, url, body?,
/// headers?)`: the method is any of the WIT enum's, in any case.
pub fn request_with_method<'js>(cx: Ctx<'js>, args: Rest<Value<'js>>) -> Result<Value<'js>> {
    let mut args = args.0;
    let given = match args.first().and_then(|v| v.as_string()) {
        Some(text) => Some(text.to_string()?),
        None => None,
    };
    let method = given.as_deref().and_then(|given| {
        METHODS
            .into_iter()
            .find(|method| method_name(*method).eq_ignore_ascii_case(given))
    });
    let Some(method) = method else {
        let got = match &given {
            Some(text) => format!(" (got \"{text}\")"),
            None => String::new(),
        };
        return Err(Exception::throw_type(
            &cx,
            &format!(
                "floh.http.request: the first argument must be the method: GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS{got}"
            ),
        ));
    };
    if !args.is_empty() {
        args.remove(0);
    }
    send(cx, "request", method, BodyArgument::AfterUrl, args)
}

/// `args` are the call's arguments from the URL on; `name` is the function
/// errors are reported under.
fn send<'js>(
    cx: Ctx<'js>,
    name: &str,
    method: Method,
    body_argument: BodyArgument,
    args: Vec<Value<'js>>,
) -> Result<Value<'js>> {
    let mut args = args.into_iter();
    let url = match args
        .next()
        .and_then(|v| v.as_string().map(|s| s.to_string()))
    {
        Some(url) => url?,
        None => {
            return Err(Exception::throw_type(
                &cx,
                &format!("floh.http.{name}: the URL must be a string"),
            ));
        }
    };
    let body = match body_argument {
        BodyArgument::None => None,
        BodyArgument::AfterUrl => args.next(),
    };
    let mut headers = header_list(&cx, name, args.next())?;
    let body = encode_body(&cx, name, body, &mut headers)?;
    let request = Request {
        method,
        url,
        headers,
        body,
    };
    match http::send(&request) {
        Ok(response) => response_object(&cx, response),
        Err(error) => Err(throw_http_error(&cx, name, error)),
    }
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "get",
        Method::Head => "head",
        Method::Post => "post",
        Method::Put => "put",
        Method::Patch => "patch",
        Method::Delete => "delete",
        Method::Options => "options",
    }
}

/// Headers come as a plain object; `undefined` and `null` values are skipped
/// so that `{ Authorization: token ? 'Bearer ' + token : undefined }` works.
fn header_list<'js>(
    cx: &Ctx<'js>,
    name: &str,
    value: Option<Value<'js>>,
) -> Result<Vec<(String, String)>> {
    let Some(value) = value.filter(|v| !v.is_undefined() && !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Some(object) = value.as_object() else {
        return Err(Exception::throw_type(
            cx,
            &format!("floh.http.{name}: headers must be an object of name/value pairs"),
        ));
    };
    let mut headers = Vec::new();
    for entry in object.props::<String, Value<'js>>() {
        let (key, value) = entry?;
        if value.is_undefined() || value.is_null() {
            continue;
        }
        headers.push((key, crate::floh_global::display(cx, value)?));
    }
    Ok(headers)
}

/// Strings are sent as they are; typed arrays and `ArrayBuffer`s as bytes;
/// any other object as JSON. A JSON content type is added when the caller set
/// none and the body is JSON (an object, or a string holding an object/array),
/// because that is what the spec's examples expect the upstream to receive.
fn encode_body<'js>(
    cx: &Ctx<'js>,
    name: &str,
    body: Option<Value<'js>>,
    headers: &mut Vec<(String, String)>,
) -> Result<Option<Vec<u8>>> {
    let Some(body) = body.filter(|v| !v.is_undefined() && !v.is_null()) else {
        return Ok(None);
    };
    let has_content_type = headers
        .iter()
        .any(|(key, _)| key.eq_ignore_ascii_case("content-type"));
    let (bytes, is_json) = if let Some(text) = body.as_string() {
        let text = text.to_string()?;
        let looks_like_json = matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['));
        (text.into_bytes(), looks_like_json)
    } else if let Some(bytes) = binary_bytes(&body) {
        (bytes, false)
    } else if body.is_object() || body.is_number() || body.is_bool() {
        match cx.json_stringify(body)? {
            Some(json) => (json.to_string()?.into_bytes(), true),
            None => return Ok(None),
        }
    } else {
        return Err(Exception::throw_type(
            cx,
            &format!("floh.http.{name}: the body must be a string, an object or bytes"),
        ));
    };
    if is_json && !has_content_type {
        headers.push(("content-type".into(), "application/json".into()));
    }
    Ok(Some(bytes))
}

fn binary_bytes(value: &Value<'_>) -> Option<Vec<u8>> {
    let object = value.as_object()?;
    if let Some(buffer) = object.as_array_buffer() {
        return buffer.as_bytes().map(<[u8]>::to_vec);
    }
    let typed = javy::quickjs::TypedArray::<u8>::from_object(object.clone()).ok()?;
    typed.as_bytes().map(<[u8]>::to_vec)
}

fn response_object<'js>(cx: &Ctx<'js>, response: Response) -> Result<Value<'js>> {
    let object = Object::new(cx.clone())?;
    object.set("status", response.status)?;
    let headers = Object::new(cx.clone())?;
    let mut content_type = String::new();
    for (key, value) in &response.headers {
        if key == "content-type" {
            content_type.clone_from(value);
        }
        // Repeated headers are joined as RFC 9110 allows for list values.
        let joined = match headers.get::<_, Option<String>>(key.as_str())? {
            Some(previous) => format!("{previous}, {value}"),
            None => value.clone(),
        };
        headers.set(key.as_str(), joined)?;
    }
    object.set("headers", headers)?;
    object.set("body", decode_body(cx, &content_type, response.body)?)?;
    Ok(object.into_value())
}

/// JSON is parsed once, here; anything else is handed over as text.
fn decode_body<'js>(cx: &Ctx<'js>, content_type: &str, body: Vec<u8>) -> Result<Value<'js>> {
    let text = match String::from_utf8(body) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    };
    let declared_json = content_type.to_ascii_lowercase().contains("json");
    let undeclared_json = content_type.is_empty()
        && matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['));
    if declared_json || undeclared_json {
        match cx.json_parse(text.as_str()) {
            Ok(value) => return Ok(value),
            // Not JSON after all: clear the pending exception, fall back to text.
            Err(_) => drop(cx.catch()),
        }
    }
    Ok(javy::quickjs::String::from_str(cx.clone(), &text)?.into_value())
}

fn throw_http_error(cx: &Ctx<'_>, name: &str, error: HttpError) -> javy::quickjs::Error {
    let (code, detail) = match error {
        HttpError::Denied(reason) => (
            "EGRESS_DENIED",
            format!("refused by the egress policy: {reason}"),
        ),
        HttpError::InvalidRequest(reason) => {
            ("INVALID_REQUEST", format!("invalid request: {reason}"))
        }
        HttpError::Timeout => ("TIMEOUT", "timed out".to_string()),
        HttpError::Connection(reason) => {
            ("CONNECTION_FAILED", format!("connection failed: {reason}"))
        }
        HttpError::ResponseTooLarge(limit) => (
            "RESPONSE_TOO_LARGE",
            format!("the response body exceeds the limit of {limit} bytes"),
        ),
        HttpError::LimitExceeded(reason) => ("LIMIT_EXCEEDED", reason),
    };
    let message = format!("floh.http.{name}: {detail}");
    match Exception::from_message(cx.clone(), &message) {
        Ok(exception) => {
            // A script can branch on `e.code` without parsing messages.
            let _ = exception.as_object().set("code", code);
            exception.throw()
        }
        Err(error) => error,
    }
}
