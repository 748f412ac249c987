//! Command names: JavaScript identifiers derived from `operationId` (or
//! method and path), camelCased and made unique.

use std::collections::HashSet;

/// Words JavaScript reserves; a command named like one gets a suffix.
const RESERVED: &[&str] = &[
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "implements",
    "import",
    "in",
    "instanceof",
    "interface",
    "let",
    "new",
    "null",
    "package",
    "private",
    "protected",
    "public",
    "return",
    "static",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
    "eval",
    "arguments",
    "floh",
];

/// Whether `name` can be written as it is where a script names it: an
/// ASCII identifier that is not a reserved word (nor `floh`, `eval` or
/// `arguments`, which a global function of that name would shadow).
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !RESERVED.contains(&name)
}

/// `list-users`, `ListUsers`, `users.list`, `get_user_by_id` → camelCase.
pub fn camel_case(text: &str) -> String {
    let mut out = String::new();
    for word in text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut chars = word.chars();
        let Some(first) = chars.next() else { continue };
        if out.is_empty() {
            out.push(first.to_ascii_lowercase());
        } else {
            out.push(first.to_ascii_uppercase());
        }
        out.extend(chars);
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "op");
    }
    out
}

/// `GET /users/{id}/groups` → `getUsersByIdGroups`.
pub fn from_method_and_path(method: &str, path: &str) -> String {
    let mut words = vec![method.to_ascii_lowercase()];
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(parameter) => words.push(format!("by {parameter}")),
            None => words.push(segment.to_string()),
        }
    }
    camel_case(&words.join(" "))
}

/// Hands out names that are valid, not reserved and not yet used.
#[derive(Default)]
pub struct UniqueNames {
    used: HashSet<String>,
}

impl UniqueNames {
    /// Reserve a name (e.g. `test`, which every connector has).
    pub fn reserve(&mut self, name: &str) {
        self.used.insert(name.to_string());
    }

    /// `wanted`, or `wanted2`, `wanted3`… when taken.
    pub fn claim(&mut self, wanted: &str) -> String {
        let mut base = wanted.to_string();
        if RESERVED.contains(&base.as_str()) {
            base.push_str("Operation");
        }
        let mut candidate = base.clone();
        let mut n = 2;
        while !self.used.insert(candidate.clone()) {
            candidate = format!("{base}{n}");
            n += 1;
        }
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_ascii_names_that_are_not_reserved() {
        assert!(is_identifier("listUsers"));
        assert!(is_identifier("_private$2"));
        assert!(!is_identifier("2fa"));
        assert!(!is_identifier("list-users"));
        assert!(!is_identifier("delete"));
        assert!(!is_identifier("floh"));
        assert!(!is_identifier(""));
    }

    #[test]
    fn operation_ids_become_camel_case_identifiers() {
        assert_eq!(camel_case("list-users"), "listUsers");
        assert_eq!(camel_case("ListUsers"), "listUsers");
        assert_eq!(camel_case("users.list"), "usersList");
        assert_eq!(camel_case("get_user_by_id"), "getUserById");
        assert_eq!(camel_case("repos/get-content"), "reposGetContent");
        assert_eq!(camel_case("2fa-enable"), "op2faEnable");
        assert_eq!(camel_case("***"), "op");
    }

    #[test]
    fn method_and_path_name_operations_without_ids() {
        assert_eq!(
            from_method_and_path("GET", "/users/{id}/groups"),
            "getUsersByIdGroups"
        );
        assert_eq!(from_method_and_path("post", "/"), "post");
    }

    #[test]
    fn names_are_unique_and_never_reserved() {
        let mut names = UniqueNames::default();
        names.reserve("test");
        assert_eq!(names.claim("test"), "test2");
        assert_eq!(names.claim("delete"), "deleteOperation");
        assert_eq!(names.claim("listUsers"), "listUsers");
        assert_eq!(names.claim("listUsers"), "listUsers2");
    }
}
