//! The document as a checker: which operations it describes, and whether a real reply
//! (status, content type, body) is one it allows. Every reply checked is recorded, so the
//! suite can insist that each documented operation was driven.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

/// The committed document, as the server compiles it in.
pub const DOCUMENT: &str = include_str!("../../../openapi.json");

/// The HTTP methods an OpenAPI path item can name and the router can serve.
pub const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// An operation: lower-case method and path template (`/admin/v1/faults/{id}`).
pub type Op = (String, String);

pub fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("openapi.json is valid JSON")
}

/// Every operation the document describes.
pub fn operations(doc: &Value) -> BTreeSet<Op> {
    let paths = doc["paths"].as_object().expect("paths");
    let mut out = BTreeSet::new();
    for (path, item) in paths {
        for m in METHODS {
            if item.get(m).is_some() {
                out.insert((m.to_owned(), path.clone()));
            }
        }
    }
    out
}

/// RFC 6901 escaping of one JSON pointer segment.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// What was checked against the document.
#[derive(Debug, Default)]
pub struct Seen {
    /// Operation → statuses seen.
    pub statuses: BTreeMap<Op, BTreeSet<u16>>,
    /// `/cgi-bin/` operation → (success seen, error seen).
    pub wecom: BTreeMap<Op, (bool, bool)>,
}

/// The document and compiled validators, by the JSON pointer of the schema.
pub struct Spec {
    doc: Value,
    validators: HashMap<String, jsonschema::Validator>,
    pub seen: Seen,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec").field("seen", &self.seen).finish()
    }
}

impl Spec {
    pub fn new() -> Self {
        Self {
            doc: document(),
            validators: HashMap::new(),
            seen: Seen::default(),
        }
    }

    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// A validator for the schema at `pointer` in the document. The schema is the whole
    /// document with a root `$ref` to it, so the document's own `#/components/...`
    /// references resolve exactly as an OpenAPI tool resolves them.
    fn validator(&mut self, pointer: &str) -> &jsonschema::Validator {
        if !self.validators.contains_key(pointer) {
            let mut root = self.doc.clone();
            // A URI fragment: the braces of path templates are percent-encoded.
            let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
            root["$ref"] = Value::String(format!("#{fragment}"));
            let v = jsonschema::draft202012::options()
                .build(&root)
                .unwrap_or_else(|e| panic!("the schema at {pointer} does not compile: {e}"));
            self.validators.insert(pointer.to_owned(), v);
        }
        &self.validators[pointer]
    }

    /// The response object (following one `$ref`) and its pointer.
    fn response(&self, method: &str, path: &str, status: u16) -> (String, Value) {
        let op = self.doc["paths"][path]
            .get(method)
            .unwrap_or_else(|| panic!("{method} {path} is not in openapi.json"));
        let resp = op["responses"].get(status.to_string()).unwrap_or_else(|| {
            panic!("{method} {path} answered {status}, which openapi.json does not list")
        });
        match resp.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let pointer = r.strip_prefix('#').expect("a local $ref").to_owned();
                let target = self.doc.pointer(&pointer).expect("$ref resolves").clone();
                (pointer, target)
            }
            None => (
                format!(
                    "/paths/{}/{method}/responses/{status}",
                    escape(path),
                    status = status
                ),
                resp.clone(),
            ),
        }
    }

    /// Check one real reply of `method path` (a template) against the document; panics
    /// with the schema's complaints when it does not conform. Returns the body as JSON
    /// (a string for non-JSON bodies, `Null` for an empty one).
    pub fn check(
        &mut self,
        method: &str,
        path: &str,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Value {
        let method = method.to_ascii_lowercase();
        let (pointer, resp) = self.response(&method, path, status);
        let op = (method.clone(), path.to_owned());
        self.seen
            .statuses
            .entry(op.clone())
            .or_default()
            .insert(status);
        let Some(content) = resp.get("content").and_then(Value::as_object) else {
            assert!(
                body.is_empty(),
                "{method} {path} {status}: documented without a body, answered {}",
                String::from_utf8_lossy(body)
            );
            return Value::Null;
        };
        let media = content_type
            .and_then(|c| c.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .unwrap_or_else(|| panic!("{method} {path} {status}: no Content-Type"));
        assert!(
            content.contains_key(&media),
            "{method} {path} {status}: Content-Type {media} is not documented (documented: {:?})",
            content.keys().collect::<Vec<_>>()
        );
        let instance = if media.ends_with("json") {
            serde_json::from_slice(body).unwrap_or_else(|e| {
                panic!(
                    "{method} {path} {status}: not JSON ({e}): {}",
                    String::from_utf8_lossy(body)
                )
            })
        } else {
            Value::String(String::from_utf8(body.to_vec()).expect("UTF-8 text"))
        };
        let schema = format!("{pointer}/content/{}/schema", escape(&media));
        let errors: Vec<String> = self
            .validator(&schema)
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status}: the reply does not match openapi.json ({schema}):\n{}\nreply: {instance}",
            errors.join("\n")
        );
        if path.starts_with("/cgi-bin/") {
            let ok = instance["errcode"] == 0;
            let entry = self.seen.wecom.entry(op).or_default();
            if ok {
                entry.0 = true;
            } else {
                entry.1 = true;
            }
        }
        instance
    }

    /// The document must refuse `instance` at `status` (a test of the checker itself: a
    /// schema that accepts anything would pass every reply).
    pub fn refuses(&mut self, method: &str, path: &str, status: u16, instance: &Value) -> bool {
        let (pointer, _) = self.response(method, path, status);
        let schema = format!("{pointer}/content/application~1json/schema");
        !self.validator(&schema).is_valid(instance)
    }
}
