//! WeCom's callback XML: a flat `<xml>` root whose children are leaves (text or CDATA) or,
//! for a few events (`OperatedUser`), one more level of leaves.
//!
//! Parsing uses quick-xml (no DTDs, no entity expansion beyond XML's five and character
//! references), never string slicing; building writes every string value as CDATA with
//! `]]>` split across two sections, so no value can end the section early.

use quick_xml::events::Event as XmlEvent;
use quick_xml::Reader;

/// Deeper than any WeCom callback; bounds the work on hostile input.
const MAX_DEPTH: usize = 8;

/// Why a body is not a callback XML document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("malformed XML: {0}")]
    Syntax(String),
    #[error("the root element is <{found}>, expected <xml>")]
    Root { found: String },
    #[error("no <xml> root element")]
    Empty,
    #[error("<{0}> is missing")]
    Missing(&'static str),
    #[error("<{field}> has an invalid value {value:?}")]
    Invalid { field: &'static str, value: String },
    #[error("elements nested deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// One element: its name, its text (leaves) and its children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child called `name`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// The text of a child that must be there.
    pub fn required(&self, name: &'static str) -> Result<&str, XmlError> {
        self.text_of(name).ok_or(XmlError::Missing(name))
    }
}

fn syntax(e: impl std::fmt::Display) -> XmlError {
    XmlError::Syntax(e.to_string())
}

fn name_of(raw: &[u8]) -> Result<String, XmlError> {
    std::str::from_utf8(raw)
        .map(str::to_owned)
        .map_err(|_| XmlError::Syntax("an element name is not UTF-8".into()))
}

/// Parse a document whose root is `<xml>`.
pub fn parse(xml: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(xml);
    // (element, had CDATA) per open element.
    let mut stack: Vec<(Element, bool)> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(syntax)?;
        match event {
            XmlEvent::Start(start) => {
                if root.is_some() {
                    return Err(XmlError::Syntax("content after the root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let name = name_of(start.name().as_ref())?;
                if stack.is_empty() && name != "xml" {
                    return Err(XmlError::Root { found: name });
                }
                stack.push((
                    Element {
                        name,
                        ..Element::default()
                    },
                    false,
                ));
            }
            XmlEvent::Empty(empty) => {
                let name = name_of(empty.name().as_ref())?;
                let element = Element {
                    name,
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some((parent, _)) => parent.children.push(element),
                    None if root.is_none() && element.name == "xml" => root = Some(element),
                    None if root.is_none() => {
                        return Err(XmlError::Root {
                            found: element.name,
                        })
                    }
                    None => return Err(XmlError::Syntax("content after the root element".into())),
                }
            }
            XmlEvent::End(_) => {
                // quick-xml checks that end tags match their start tags.
                let (mut element, had_cdata) = stack
                    .pop()
                    .ok_or_else(|| XmlError::Syntax("unbalanced end tag".into()))?;
                if !element.children.is_empty() {
                    element.text.clear();
                } else if !had_cdata {
                    element.text = element.text.trim().to_owned();
                }
                match stack.last_mut() {
                    Some((parent, _)) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            XmlEvent::Text(text) => {
                let decoded = text.decode().map_err(syntax)?;
                match stack.last_mut() {
                    Some((element, _)) => element.text.push_str(&decoded),
                    None if decoded.trim().is_empty() => {}
                    None => return Err(XmlError::Syntax("text outside the root element".into())),
                }
            }
            XmlEvent::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref().map_err(syntax)? {
                    Some(c) => c,
                    None => {
                        let name = reference.decode().map_err(syntax)?;
                        match &*name {
                            "lt" => '<',
                            "gt" => '>',
                            "amp" => '&',
                            "apos" => '\'',
                            "quot" => '"',
                            other => {
                                return Err(XmlError::Syntax(format!("unknown entity &{other};")))
                            }
                        }
                    }
                };
                match stack.last_mut() {
                    Some((element, _)) => element.text.push(resolved),
                    None => return Err(XmlError::Syntax("text outside the root element".into())),
                }
            }
            XmlEvent::CData(cdata) => {
                let decoded = cdata.decode().map_err(syntax)?;
                match stack.last_mut() {
                    Some((element, had_cdata)) => {
                        element.text.push_str(&decoded);
                        *had_cdata = true;
                    }
                    None => return Err(XmlError::Syntax("CDATA outside the root element".into())),
                }
            }
            XmlEvent::DocType(_) => {
                return Err(XmlError::Syntax("a DOCTYPE is not allowed".into()));
            }
            XmlEvent::Decl(_) | XmlEvent::Comment(_) | XmlEvent::PI(_) => {}
            XmlEvent::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Syntax(
            "the document ends inside an element".into(),
        ));
    }
    root.ok_or(XmlError::Empty)
}

/// Append `value` as CDATA; a `]]>` inside is split so it cannot close the section.
pub fn push_cdata(out: &mut String, value: &str) {
    out.push_str("<![CDATA[");
    out.push_str(&value.replace("]]>", "]]]]><![CDATA[>"));
    out.push_str("]]>");
}

/// Append `<name><![CDATA[value]]></name>`.
pub fn push_text(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    push_cdata(out, value);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Append `<name>number</name>` (WeCom writes numbers without CDATA).
pub fn push_number(out: &mut String, name: &str, value: i64) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&value.to_string());
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cdata_text_entities_and_nesting() {
        let doc = parse(
            "<?xml version=\"1.0\"?>\n<xml>\n  <A><![CDATA[ x<y ]]></A>\n  <B> 12 </B>\n  \
             <C>a &amp; b &#x4e2d;</C>\n  <D><E><![CDATA[e]]></E></D><F/>\n</xml>",
        )
        .unwrap();
        assert_eq!(doc.text_of("A"), Some(" x<y "));
        assert_eq!(doc.text_of("B"), Some("12"));
        assert_eq!(doc.text_of("C"), Some("a & b 中"));
        assert_eq!(doc.child("D").unwrap().text_of("E"), Some("e"));
        assert_eq!(doc.text_of("F"), Some(""));
        assert_eq!(doc.required("G"), Err(XmlError::Missing("G")));
    }

    #[test]
    fn cdata_that_contains_its_terminator_round_trips() {
        for value in ["]]>", "a]]>b]]>", "]]", "]]]]>", "<![CDATA[x]]>", ""] {
            let mut xml = String::from("<xml>");
            push_text(&mut xml, "V", value);
            xml.push_str("</xml>");
            assert_eq!(parse(&xml).unwrap().text_of("V"), Some(value), "{xml}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_callback_document() {
        assert!(matches!(parse("<root/>"), Err(XmlError::Root { .. })));
        assert!(matches!(parse("<a><b/></a>"), Err(XmlError::Root { .. })));
        assert_eq!(parse(""), Err(XmlError::Empty));
        assert!(matches!(
            parse("<xml><A></B></xml>"),
            Err(XmlError::Syntax(_))
        ));
        assert!(matches!(parse("<xml><A>"), Err(XmlError::Syntax(_))));
        assert!(matches!(parse("<xml/><xml/>"), Err(XmlError::Syntax(_))));
        assert!(matches!(
            parse("<xml>&bogus;</xml>"),
            Err(XmlError::Syntax(_))
        ));
        assert!(matches!(
            parse("<!DOCTYPE x [<!ENTITY e \"boom\">]><xml>&e;</xml>"),
            Err(XmlError::Syntax(_))
        ));
        let deep = format!("<xml>{}{}</xml>", "<a>".repeat(20), "</a>".repeat(20));
        assert_eq!(parse(&deep), Err(XmlError::TooDeep));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".{0,200}") {
            let _ = parse(&s);
            let _ = parse(&format!("<xml>{s}</xml>"));
        }
    }
}
