//! A Markdown template filled from named values, small enough to read at a glance (the
//! report needs no loops, filters or escaping, so no template crate):
//!
//! - `{{name}}` anywhere in a line is replaced by the text `name`;
//! - a line that is only `{{#name}}` starts a section, kept when `name` is shown (a flag that
//!   is set, or a text that is not empty), up to a line that is only `{{/name}}`; `{{^name}}`
//!   keeps it when `name` is not shown. A hidden section's placeholders need no value;
//! - a line that is only a placeholder whose text is empty is left out, and every run of
//!   blank lines outside a code block is folded into one, so what is left out leaves no gap.
//!
//! A placeholder with no value, or a section left open, is an error: the template and the
//! code that fills it must agree.

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Flag(bool),
}

/// The values a template is filled with, by name.
#[derive(Debug, Default)]
pub struct Values(BTreeMap<String, Value>);

impl Values {
    /// Sets the text `name`.
    pub fn text(&mut self, name: &str, text: impl Into<String>) {
        self.0.insert(name.into(), Value::Text(text.into()));
    }

    /// Sets whether the sections named `name` are shown.
    pub fn flag(&mut self, name: &str, shown: bool) {
        self.0.insert(name.into(), Value::Flag(shown));
    }

    fn shown(&self, name: &str) -> Result<bool, String> {
        match self.0.get(name) {
            Some(Value::Flag(shown)) => Ok(*shown),
            Some(Value::Text(text)) => Ok(!text.is_empty()),
            None => Err(format!("no value for the section {name:?}")),
        }
    }

    fn text_of(&self, name: &str) -> Result<&str, String> {
        match self.0.get(name) {
            Some(Value::Text(text)) => Ok(text),
            Some(Value::Flag(_)) => Err(format!("{name:?} is a flag, not a text")),
            None => Err(format!("no value for {{{{{name}}}}}")),
        }
    }
}

/// What a line that holds one tag and nothing else is.
enum Standalone<'a> {
    Open { name: &'a str, inverted: bool },
    Close(&'a str),
    Text(&'a str),
}

fn standalone(line: &str) -> Option<Standalone<'_>> {
    let inner = line.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") {
        return None;
    }
    Some(if let Some(name) = inner.strip_prefix('#') {
        Standalone::Open {
            name,
            inverted: false,
        }
    } else if let Some(name) = inner.strip_prefix('^') {
        Standalone::Open {
            name,
            inverted: true,
        }
    } else if let Some(name) = inner.strip_prefix('/') {
        Standalone::Close(name)
    } else {
        Standalone::Text(inner)
    })
}

/// `template` filled with `values`.
pub fn render(template: &str, values: &Values) -> Result<String, String> {
    let mut out = String::new();
    // The open sections: their names, and whether each keeps its lines.
    let mut open: Vec<(&str, bool)> = Vec::new();
    for (number, line) in template.lines().enumerate() {
        let at = |why: String| format!("template line {}: {why}", number + 1);
        let visible = open.iter().all(|(_, kept)| *kept);
        match standalone(line) {
            Some(Standalone::Open { name, inverted }) => {
                let kept = visible && values.shown(name).map_err(at)? != inverted;
                open.push((name, kept));
            }
            Some(Standalone::Close(name)) => match open.pop() {
                Some((opened, _)) if opened == name => {}
                other => {
                    return Err(at(format!(
                        "{{{{/{name}}}}} closes {:?}",
                        other.map(|(opened, _)| opened)
                    )))
                }
            },
            _ if !visible => {}
            Some(Standalone::Text(name)) => {
                let text = values.text_of(name).map_err(at)?;
                if !text.is_empty() {
                    out.push_str(text);
                    out.push('\n');
                }
            }
            None => {
                out.push_str(&substitute(line, values).map_err(at)?);
                out.push('\n');
            }
        }
    }
    if let Some((name, _)) = open.pop() {
        return Err(format!("the section {name:?} is not closed"));
    }
    Ok(fold_blank_lines(&out))
}

/// `line` with each `{{name}}` replaced by its text (values are not scanned again).
fn substitute(line: &str, values: &Values) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("a {{ is not closed")?;
        let name = &after[..end];
        if name.starts_with(['#', '^', '/']) {
            return Err(format!(
                "the section tag {{{{{name}}}}} must be alone on its line"
            ));
        }
        out.push_str(values.text_of(name)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One blank line at most between two others, none first or last; code blocks as they are.
fn fold_blank_lines(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    let mut after_blank = true;
    for line in text.lines() {
        let blank = !fenced && line.trim().is_empty();
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if blank && after_blank {
            continue;
        }
        after_blank = blank;
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        let mut v = Values::default();
        v.text("who", "berth");
        v.text("empty", "");
        v.text("table", "| a |\n|---|\n| 1 |");
        v.flag("on", true);
        v.flag("off", false);
        v
    }

    #[test]
    fn placeholders_and_sections_are_filled() {
        let template = "# {{who}} and {{who}}\n\n{{#on}}\nshown {{who}}\n{{/on}}\n\
                        {{#off}}\nhidden {{nothing}}\n{{/off}}\n{{^off}}\nelse\n{{/off}}\n\n\
                        {{table}}\n{{#empty}}\nno\n{{/empty}}\n";
        assert_eq!(
            render(template, &values()).unwrap(),
            "# berth and berth\n\nshown berth\nelse\n\n| a |\n|---|\n| 1 |\n"
        );
    }

    #[test]
    fn what_is_left_out_leaves_no_gap_but_code_blocks_keep_theirs() {
        let template = "a\n\n{{empty}}\n\n{{#off}}\nx\n{{/off}}\n\nb\n```\n1\n\n\n2\n```\n\n\n";
        assert_eq!(
            render(template, &values()).unwrap(),
            "a\n\nb\n```\n1\n\n\n2\n```\n"
        );
    }

    #[test]
    fn a_template_that_disagrees_with_its_values_is_an_error() {
        let err = |template: &str| render(template, &values()).unwrap_err();
        assert!(err("x {{nothing}}\n").contains("no value for {{nothing}}"));
        assert!(err("{{#on}}\nx\n").contains("\"on\" is not closed"));
        assert!(err("{{#on}}\n{{/off}}\n").contains("closes Some(\"on\")"));
        assert!(err("a {{#on}} b\n").contains("alone on its line"));
        assert!(err("{{#nothing}}\n{{/nothing}}\n").contains("line 1"));
        assert!(err("{{on}}\n").contains("is a flag"));
    }
}
