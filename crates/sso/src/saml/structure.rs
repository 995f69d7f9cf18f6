//! The shape a SAML response must have before any signature code sees it.
//!
//! XML signature wrapping works by making the part of a document that is signed differ from the
//! part that is read: a forged assertion beside, around or inside the signed one, a signed
//! assertion moved into `Advice`, `Extensions` or a signature's `Object`, a signature that moved
//! away from what it signs. And libxmlsec1 follows whatever a `ds:Reference` names (other
//! documents, `http://`, `file://`) and runs whatever transform it lists, before it compares any
//! signature value. So Portico reads the decoded document once, namespace-aware and without
//! trusting it, and accepts only the shape IdPs send:
//!
//! - the root is a protocol `Response`, whose children follow the schema's order (`Issuer`,
//!   `Signature`, `Extensions`, `Status`, then the assertion);
//! - exactly one `Assertion` or `EncryptedAssertion` in the whole document, a direct child of
//!   the `Response`, and no other `Response` inside it;
//! - a `Signature` only directly in the `Response` or in the `Assertion` (right after its
//!   `Issuer`), one at most for each, with exactly one `Reference` naming its own parent
//!   (`#ID`, or `""` for the `Response`), exactly the enveloped and exclusive-c14n transforms,
//!   and nothing that points elsewhere (`Object`, `Manifest`, `RetrievalMethod`, other `URI`s);
//! - every `ID` unique; no namespaced attribute that libxml2 or libxmlsec1 read by local name
//!   (`xml:id`, `x:URI`, `x:Algorithm`), and none at all inside a signature;
//! - no comments (a comment splits a NameID into what is signed and what is read), no
//!   processing instructions.
//!
//! Anything else is refused with its own [`Refusal`], before libxmlsec1 parses the document.

use std::collections::HashSet;

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use super::Refusal;

const PROTOCOL: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N_NS: &[u8] = b"http://www.w3.org/2001/10/xml-exc-c14n#";

/// The only Reference transforms accepted, in this order.
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// Canonicalisations accepted for `SignedInfo` (neither keeps comments).
const SIGNED_INFO_C14N: [&str; 2] = [EXC_C14N, "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"];

/// The most elements a response may nest: real ones go eight or nine deep.
const MAX_DEPTH: usize = 64;

/// Which kind of assertion the response carries (it carries one at most).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionKind {
    Plain,
    Encrypted,
}

/// What a well-shaped response says, read without trusting it: nothing here is signed yet.
#[derive(Debug, Clone)]
pub struct Shape {
    pub destination: Option<String>,
    pub in_response_to: Option<String>,
    pub status: Option<String>,
    pub status_message: Option<String>,
    pub assertion: Option<AssertionKind>,
    /// A signature directly in the `Response`, naming it.
    pub response_signed: bool,
    /// A signature directly in the (plain) `Assertion`, naming it.
    pub assertion_signed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Protocol,
    Assertion,
    Dsig,
    ExcC14n,
    Other,
}

/// One element of the document, as much of it as the checks need.
#[derive(Debug)]
struct Node {
    parent: Option<usize>,
    ns: Ns,
    local: String,
    attrs: Vec<(Option<String>, String, String)>,
    children: Vec<usize>,
    text: String,
}

impl Node {
    fn is(&self, ns: Ns, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    /// An attribute without a namespace prefix.
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(prefix, local, _)| prefix.is_none() && local == name).map(|(_, _, v)| v.as_str())
    }
}

fn unexpected(detail: impl Into<String>) -> Refusal {
    Refusal::UnexpectedStructure(detail.into())
}

fn placement(detail: impl Into<String>) -> Refusal {
    Refusal::SignaturePlacement(detail.into())
}

fn classify(resolved: &ResolveResult<'_>) -> Ns {
    match resolved {
        ResolveResult::Bound(ns) if ns.as_ref() == PROTOCOL => Ns::Protocol,
        ResolveResult::Bound(ns) if ns.as_ref() == ASSERTION => Ns::Assertion,
        ResolveResult::Bound(ns) if ns.as_ref() == DSIG => Ns::Dsig,
        ResolveResult::Bound(ns) if ns.as_ref() == EXC_C14N_NS => Ns::ExcC14n,
        _ => Ns::Other,
    }
}

fn utf8(bytes: &[u8]) -> Result<String, Refusal> {
    std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| Refusal::MalformedXml("not UTF-8".into()))
}

/// Parses `xml` into a flat list of elements (index 0 is the root). Linear in the size of the
/// document; refuses comments, processing instructions, DOCTYPEs, unresolvable prefixes and
/// anything nested deeper than [`MAX_DEPTH`].
fn parse(xml: &str) -> Result<Vec<Node>, Refusal> {
    let mut reader = NsReader::from_str(xml.strip_prefix('\u{feff}').unwrap_or(xml));
    let mut nodes: Vec<Node> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut closed_root = false;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(|e| Refusal::MalformedXml(e.to_string()))?;
        let ns = classify(&resolved);
        if let ResolveResult::Unknown(prefix) = &resolved {
            return Err(Refusal::MalformedXml(format!(
                "the prefix `{}` is not declared",
                String::from_utf8_lossy(prefix)
            )));
        }
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if closed_root {
                    return Err(unexpected("a second root element"));
                }
                if open.len() >= MAX_DEPTH {
                    return Err(unexpected(format!("elements nested deeper than {MAX_DEPTH}")));
                }
                let node = element(&reader, e, ns, open.last().copied())?;
                let index = nodes.len();
                if let Some(parent) = open.last() {
                    nodes[*parent].children.push(index);
                }
                nodes.push(node);
                if matches!(event, Event::Start(_)) {
                    open.push(index);
                } else if open.is_empty() {
                    closed_root = true;
                }
            }
            Event::End(_) => {
                open.pop();
                if open.is_empty() {
                    closed_root = true;
                }
            }
            Event::Text(t) => {
                if let Some(current) = open.last() {
                    let text = t.decode().map_err(|e| Refusal::MalformedXml(e.to_string()))?;
                    nodes[*current].text.push_str(&text);
                } else if !t.as_ref().iter().all(u8::is_ascii_whitespace) {
                    return Err(Refusal::MalformedXml("text outside the root element".into()));
                }
            }
            Event::CData(t) => {
                if let Some(current) = open.last() {
                    nodes[*current].text.push_str(&utf8(t.as_ref())?);
                } else {
                    return Err(Refusal::MalformedXml("text outside the root element".into()));
                }
            }
            // Entity references (`&amp;`, `&#65;`) stand for text: an undeclared one is an error
            // for libxml2 too, and DOCTYPEs (the only way to declare one) are refused.
            Event::GeneralRef(r) => {
                let Some(current) = open.last() else {
                    return Err(Refusal::MalformedXml("a reference outside the root element".into()));
                };
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => {
                        let name = utf8(r.as_ref())?;
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(s) => s.to_owned(),
                            None => return Err(Refusal::MalformedXml(format!("undeclared entity `&{name};`"))),
                        }
                    }
                };
                nodes[*current].text.push_str(&resolved);
            }
            Event::Comment(_) => {
                // Outside the root a comment changes nothing, but no IdP sends one either.
                return Err(Refusal::Comment);
            }
            Event::PI(_) => return Err(unexpected("a processing instruction")),
            Event::DocType(_) => return Err(Refusal::Doctype),
            Event::Decl(_) => {
                if !nodes.is_empty() {
                    return Err(Refusal::MalformedXml("an XML declaration inside the document".into()));
                }
            }
            Event::Eof => break,
        }
    }
    if !open.is_empty() || nodes.is_empty() {
        return Err(Refusal::MalformedXml("the document ends early".into()));
    }
    Ok(nodes)
}

fn element(reader: &NsReader<&[u8]>, e: &BytesStart<'_>, ns: Ns, parent: Option<usize>) -> Result<Node, Refusal> {
    let local = utf8(e.local_name().as_ref())?;
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| Refusal::MalformedXml(e.to_string()))?;
        let key = a.key;
        if key.as_ref() == b"xmlns" || key.prefix().is_some_and(|p| p.as_ref() == b"xmlns") {
            continue;
        }
        let (resolved, name) = reader.resolver().resolve_attribute(key);
        let prefix = match resolved {
            ResolveResult::Unbound => None,
            ResolveResult::Bound(ns) => Some(utf8(ns.as_ref())?),
            ResolveResult::Unknown(p) => {
                return Err(Refusal::MalformedXml(format!(
                    "the prefix `{}` is not declared",
                    String::from_utf8_lossy(&p)
                )));
            }
        };
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| Refusal::MalformedXml(e.to_string()))?
            .into_owned();
        attrs.push((prefix, utf8(name.as_ref())?, value));
    }
    Ok(Node { parent, ns, local, attrs, children: Vec::new(), text: String::new() })
}

/// Reads and checks the shape of a response (see the module comment).
pub fn read(xml: &str) -> Result<Shape, Refusal> {
    let nodes = parse(xml)?;
    let root = &nodes[0];
    if !root.is(Ns::Protocol, "Response") {
        return Err(Refusal::MalformedXml("the document is not a SAML Response".into()));
    }
    ids_are_unique(&nodes)?;

    // At most one assertion in the whole document, directly in the Response; no other Response.
    let mut assertion: Option<(usize, AssertionKind)> = None;
    for (i, n) in nodes.iter().enumerate().skip(1) {
        let kind = match n.local.as_str() {
            "Assertion" => AssertionKind::Plain,
            "EncryptedAssertion" => AssertionKind::Encrypted,
            "Response" => return Err(unexpected("a second Response inside the response")),
            _ => continue,
        };
        if n.parent != Some(0) || n.ns != Ns::Assertion {
            return Err(unexpected(format!("an {} outside its place, directly in the Response", n.local)));
        }
        if assertion.is_some() {
            return Err(unexpected("more than one assertion"));
        }
        assertion = Some((i, kind));
    }

    // The Response's children, in the schema's order, each once, the assertion last.
    let order = ["Issuer", "Signature", "Extensions", "Status"];
    let mut next = 0;
    let mut response_signature = None;
    let mut status = None;
    for &child in &root.children {
        let n = &nodes[child];
        if assertion.is_some_and(|(at, _)| at == child) {
            next = order.len();
            continue;
        }
        let position = order[next.min(order.len())..]
            .iter()
            .position(|o| *o == n.local)
            .map(|p| p + next)
            .ok_or_else(|| unexpected(format!("`{}` out of place in the Response", n.local)))?;
        next = position + 1;
        let expected_ns = match n.local.as_str() {
            "Issuer" => Ns::Assertion,
            "Signature" => Ns::Dsig,
            _ => Ns::Protocol,
        };
        if n.ns != expected_ns {
            return Err(unexpected(format!("`{}` in an unexpected namespace", n.local)));
        }
        match n.local.as_str() {
            "Signature" => response_signature = Some(child),
            "Status" => status = Some(child),
            _ => {}
        }
    }
    if status.is_none() {
        return Err(unexpected("a Response without a Status"));
    }

    // The Assertion's children: a signature only right after its Issuer.
    let mut assertion_signature = None;
    if let Some((assertion_at, AssertionKind::Plain)) = assertion {
        let a = &nodes[assertion_at];
        for (position, &child) in a.children.iter().enumerate() {
            if nodes[child].local == "Signature" {
                let after_issuer = position == 1 && nodes[a.children[0]].is(Ns::Assertion, "Issuer");
                if !after_issuer || nodes[child].ns != Ns::Dsig {
                    return Err(placement("the assertion's signature is not right after its Issuer"));
                }
                assertion_signature = Some(child);
            }
        }
    }

    // No signature anywhere else.
    for (i, n) in nodes.iter().enumerate() {
        if n.local == "Signature" && Some(i) != response_signature && Some(i) != assertion_signature {
            let parent = n.parent.map(|p| nodes[p].local.as_str()).unwrap_or("the document");
            return Err(placement(format!("a Signature inside `{parent}`, where no signature belongs")));
        }
    }
    for signature in [response_signature, assertion_signature].into_iter().flatten() {
        check_signature(&nodes, signature)?;
    }

    let (mut status_code, mut status_message) = (None, None);
    if let Some(s) = status {
        for &c in &nodes[s].children {
            match nodes[c].local.as_str() {
                "StatusCode" if status_code.is_none() => status_code = nodes[c].attr("Value").map(str::to_owned),
                "StatusMessage" => status_message = Some(nodes[c].text.clone()),
                _ => {}
            }
        }
    }
    Ok(Shape {
        destination: root.attr("Destination").map(str::to_owned),
        in_response_to: root.attr("InResponseTo").map(str::to_owned),
        status: status_code,
        status_message,
        assertion: assertion.map(|(_, kind)| kind),
        response_signed: response_signature.is_some(),
        assertion_signed: assertion_signature.is_some(),
    })
}

/// Attribute names libxml2 and libxmlsec1 look up without regard to namespaces
/// (`xmlGetProp` returns the first attribute of that local name, prefixed or not): a prefixed
/// copy placed first would be what they read, and not what is checked here.
/// (`Type` is read that way too, but only on signature elements, where no prefixed attribute
/// is accepted at all; elsewhere `xsi:type` is everyday SAML.)
const NAMESPACE_BLIND: [&str; 4] = ["id", "uri", "algorithm", "prefixlist"];

/// Every `ID` value names one element, and no attribute that libxml2 or libxmlsec1 read by
/// local name (`ID`, `URI`, `Algorithm`, `PrefixList`) carries a prefix anywhere:
/// `xml:id` is an ID to libxml2 too, and `x:URI` would be the reference libxmlsec1 follows.
fn ids_are_unique(nodes: &[Node]) -> Result<(), Refusal> {
    let mut seen = HashSet::new();
    for n in nodes {
        for (prefix, local, value) in &n.attrs {
            if prefix.is_some() && NAMESPACE_BLIND.iter().any(|b| local.eq_ignore_ascii_case(b)) {
                return Err(unexpected(format!("a namespaced `{local}` attribute on `{}`", n.local)));
            }
            if local == "ID" && !seen.insert(value.as_str()) {
                return Err(unexpected(format!("the ID `{value}` is used twice")));
            }
        }
    }
    Ok(())
}

fn children<'a>(nodes: &'a [Node], of: usize) -> impl Iterator<Item = (usize, &'a Node)> + 'a {
    nodes[of].children.iter().map(move |c| (*c, &nodes[*c]))
}

/// Children of `of` that are elements, as (ns, local name) pairs, must be exactly `expected`
/// (a `?` suffix marks an optional one).
fn exact_children(nodes: &[Node], of: usize, expected: &[&str]) -> Result<Vec<usize>, Refusal> {
    let found: Vec<(usize, &Node)> = children(nodes, of).collect();
    let mut out = Vec::new();
    let mut i = 0;
    for want in expected {
        let (name, optional) = match want.strip_suffix('?') {
            Some(n) => (n, true),
            None => (*want, false),
        };
        match found.get(i) {
            Some((index, n)) if n.ns == Ns::Dsig && n.local == name => {
                out.push(*index);
                i += 1;
            }
            _ if optional => out.push(usize::MAX),
            _ => {
                return Err(Refusal::SignatureContent(format!(
                    "`{}` lacks its `{name}`, or has something else in its place",
                    nodes[of].local
                )));
            }
        }
    }
    if let Some((_, extra)) = found.get(i) {
        return Err(Refusal::SignatureContent(format!(
            "`{}` carries `{}`, which Portico does not accept in a signature",
            nodes[of].local, extra.local
        )));
    }
    Ok(out)
}

/// One signature: exactly one Reference to its own parent, exactly the enveloped and
/// exclusive-c14n transforms, nothing that names another document, and no attribute with a
/// namespace prefix on any of its elements (an `xsl:version` makes an `InclusiveNamespaces`
/// element a stylesheet to libxslt).
fn check_signature(nodes: &[Node], signature: usize) -> Result<(), Refusal> {
    let parent = nodes[signature].parent.ok_or_else(|| placement("a Signature as the root"))?;
    let mut stack = vec![signature];
    while let Some(at) = stack.pop() {
        let n = &nodes[at];
        if let Some((_, local, _)) = n.attrs.iter().find(|(prefix, ..)| prefix.is_some()) {
            return Err(Refusal::SignatureContent(format!("`{}` carries the namespaced attribute `{local}`", n.local)));
        }
        stack.extend(n.children.iter().copied());
    }
    let parts = exact_children(nodes, signature, &["SignedInfo", "SignatureValue", "KeyInfo?"])?;
    let signed_info = parts[0];
    let info = exact_children(nodes, signed_info, &["CanonicalizationMethod", "SignatureMethod", "Reference"])?;
    let c14n = &nodes[info[0]];
    if !c14n.attr("Algorithm").is_some_and(|a| SIGNED_INFO_C14N.contains(&a)) {
        return Err(Refusal::SignatureTransform(format!(
            "SignedInfo is canonicalised with `{}`",
            c14n.attr("Algorithm").unwrap_or("(none)")
        )));
    }
    inclusive_namespaces_only(nodes, info[0])?;
    if !nodes[info[1]].children.is_empty() {
        return Err(Refusal::SignatureContent("the SignatureMethod carries parameters".into()));
    }
    let reference = &nodes[info[2]];
    let uri = reference.attr("URI").ok_or_else(|| Refusal::SignatureReference("a Reference without a URI".into()))?;
    let target = nodes[parent].attr("ID");
    let names_parent = match uri.strip_prefix('#') {
        Some(id) => target == Some(id),
        None => uri.is_empty() && parent == 0,
    };
    if !names_parent {
        let shown: String = uri.chars().take(120).collect();
        return Err(Refusal::SignatureReference(format!(
            "the Reference names `{shown}`, not the element the signature sits in"
        )));
    }
    let in_reference = exact_children(nodes, info[2], &["Transforms", "DigestMethod", "DigestValue"])?;
    let transforms: Vec<(usize, &Node)> = children(nodes, in_reference[0]).collect();
    let algorithms: Vec<&str> = transforms.iter().map(|(_, t)| t.attr("Algorithm").unwrap_or("(none)")).collect();
    if transforms.iter().any(|(_, t)| !t.is(Ns::Dsig, "Transform")) || algorithms != [ENVELOPED, EXC_C14N] {
        return Err(Refusal::SignatureTransform(format!(
            "the Reference's transforms are [{}]; Portico accepts exactly enveloped-signature then exclusive c14n",
            algorithms.join(", ")
        )));
    }
    if !nodes[transforms[0].0].children.is_empty() {
        return Err(Refusal::SignatureTransform("the enveloped-signature transform carries parameters".into()));
    }
    inclusive_namespaces_only(nodes, transforms[1].0)?;
    for part in [in_reference[1], in_reference[2], parts[1]] {
        if !nodes[part].children.is_empty() {
            return Err(Refusal::SignatureContent(format!("`{}` has child elements", nodes[part].local)));
        }
    }
    // KeyInfo is never used (the certificate is pinned), but it must not point anywhere either.
    if parts[2] != usize::MAX {
        let mut stack = vec![parts[2]];
        while let Some(at) = stack.pop() {
            let n = &nodes[at];
            if matches!(n.local.as_str(), "RetrievalMethod" | "Object" | "Manifest" | "EncryptedKey")
                || n.attrs.iter().any(|(_, name, _)| name == "URI")
            {
                return Err(Refusal::SignatureReference(format!(
                    "the KeyInfo carries `{}`, which points elsewhere",
                    n.local
                )));
            }
            stack.extend(n.children.iter().copied());
        }
    }
    Ok(())
}

/// An exclusive-c14n method may name the prefixes it keeps, and nothing else.
fn inclusive_namespaces_only(nodes: &[Node], method: usize) -> Result<(), Refusal> {
    let params: Vec<(usize, &Node)> = children(nodes, method).collect();
    let ok = nodes[method].attr("Algorithm") == Some(EXC_C14N)
        && params.len() <= 1
        && params.iter().all(|(_, p)| {
            p.is(Ns::ExcC14n, "InclusiveNamespaces")
                && p.children.is_empty()
                && p.text.trim().is_empty()
                && p.attrs.iter().all(|(prefix, local, _)| prefix.is_none() && local == "PrefixList")
        });
    if params.is_empty() || ok {
        Ok(())
    } else {
        Err(Refusal::SignatureTransform("a canonicalisation carries parameters other than InclusiveNamespaces".into()))
    }
}
