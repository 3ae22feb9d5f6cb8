//! A scenario file with timeline events added: what `kubesim explore` writes for the fault
//! timeline it found, so that `kubesim run` replays it.
//!
//! The Scenario document is read as YAML, given the events after its own `spec.events` and a
//! new `metadata.name`, and written again (its comments do not survive); every other document
//! (the Kubernetes objects, with their comments) is copied as written. Relative file names the
//! Scenario document holds (`spec.manifests`, empirical distributions' `file`) are passed
//! through `rebase`, for a file written in another folder.

use super::yaml::is_marker;
use serde_yaml::{Mapping, Value};

/// `text` with `events` appended to its Scenario document's `spec.events`, its
/// `metadata.name` replaced by `name`, `header` (comment lines) first, and its relative file
/// names passed through `rebase`. An error when the text has no Scenario document.
pub fn with_events(
    text: &str,
    events: &[Value],
    name: &str,
    header: &str,
    rebase: &dyn Fn(&str) -> String,
) -> Result<String, String> {
    let mut chunks: Vec<String> = vec![String::new()];
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if is_marker(bare, "---") || is_marker(bare, "...") {
            chunks.push(String::new());
            // Text after `---` on the marker's line belongs to the document.
            if let Some(rest) = bare.strip_prefix("---") {
                if !rest.trim().is_empty() {
                    chunks
                        .last_mut()
                        .expect("pushed")
                        .push_str(rest.trim_start());
                    chunks.last_mut().expect("pushed").push('\n');
                }
            }
            continue;
        }
        chunks
            .last_mut()
            .expect("one chunk at least")
            .push_str(line);
    }
    let mut out = String::from(header);
    let mut found = false;
    let mut first = true;
    for chunk in chunks {
        let value: Option<Value> = serde_yaml::from_str(&chunk).ok();
        let Some(value) = value.filter(|v| !v.is_null()) else {
            continue;
        };
        if !first {
            out.push_str("---\n");
        }
        first = false;
        let is_scenario = value.get("kind").and_then(Value::as_str) == Some("Scenario");
        if is_scenario && !found {
            found = true;
            let v = edit(value, events, name, rebase)?;
            out.push_str(&serde_yaml::to_string(&v).map_err(|e| e.to_string())?);
        } else {
            out.push_str(&chunk);
            if !chunk.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    if !found {
        return Err("no Scenario document".into());
    }
    Ok(out)
}

fn edit(
    mut doc: Value,
    events: &[Value],
    name: &str,
    rebase: &dyn Fn(&str) -> String,
) -> Result<Value, String> {
    let m = doc
        .as_mapping_mut()
        .ok_or("the Scenario document is not a mapping")?;
    let meta = m
        .entry(Value::from("metadata"))
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    if let Some(meta) = meta.as_mapping_mut() {
        meta.insert(Value::from("name"), Value::from(name));
    }
    let spec = m
        .entry(Value::from("spec"))
        .or_insert_with(|| Value::Mapping(Mapping::new()))
        .as_mapping_mut()
        .ok_or("spec is not a mapping")?;
    let list = spec
        .entry(Value::from("events"))
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if list.is_null() {
        *list = Value::Sequence(Vec::new());
    }
    list.as_sequence_mut()
        .ok_or("spec.events is not a list")?
        .extend(events.iter().cloned());
    let rebase_value = |v: &mut Value| {
        if let Some(s) = v.as_str() {
            *v = Value::from(rebase(s));
        }
    };
    if let Some(files) = spec.get_mut("manifests").and_then(Value::as_sequence_mut) {
        files.iter_mut().for_each(rebase_value);
    }
    // Empirical distributions: behaviors[].serviceTime.file and traffic[].thinkTime.file.
    for (list, key) in [("behaviors", "serviceTime"), ("traffic", "thinkTime")] {
        if let Some(items) = spec.get_mut(list).and_then(Value::as_sequence_mut) {
            for item in items {
                if let Some(f) = item.get_mut(key).and_then(|d| d.get_mut("file")) {
                    rebase_value(f);
                }
            }
        }
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# a comment that goes\napiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: demo\nspec:\n  manifests: [web.yaml]\n  events:\n    - at: 10s\n      nodeDown: {node: node-1}\n---\n# the lesson's comment stays\napiVersion: v1\nkind: Service   # and this one\nmetadata: {name: web}\n";

    #[test]
    fn events_follow_the_scenarios_own_and_other_documents_stay_as_written() {
        let ev: Value = serde_yaml::from_str("{at: 20s, nodeUp: {node: node-1}}").unwrap();
        let out = with_events(TEXT, &[ev], "demo-minimal", "# header\n", &|f| {
            format!("../x/{f}")
        })
        .unwrap();
        assert!(out.starts_with("# header\n"), "{out}");
        assert!(
            out.contains(
                "# the lesson's comment stays\napiVersion: v1\nkind: Service   # and this one\n"
            ),
            "{out}"
        );
        let doc: Value = serde_yaml::from_str(out.split("---\n").next().unwrap()).unwrap();
        assert_eq!(doc["metadata"]["name"], Value::from("demo-minimal"));
        assert_eq!(doc["spec"]["manifests"][0], Value::from("../x/web.yaml"));
        let events = doc["spec"]["events"].as_sequence().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1]["at"], Value::from("20s"));
    }

    #[test]
    fn a_text_without_a_scenario_is_an_error() {
        let e = with_events("apiVersion: v1\nkind: Service\n", &[], "x", "", &|f| {
            f.into()
        });
        assert!(e.is_err());
    }
}
