//! `spec.affinity` of a pod or pod template: the API server's checks of node affinity, its
//! conversion to [`NodeSelector`], and the notes for what kubesim accepts but does not act on.
//!
//! Validation follows `pkg/apis/core/validation/validation.go` (`validateAffinity`,
//! `validateNodeAffinity`, `ValidateNodeSelector`, `ValidateNodeSelectorTerm`,
//! `ValidateNodeSelectorRequirement`, `ValidateNodeFieldSelectorRequirement`,
//! `ValidatePreferredSchedulingTerms`) with its messages. Only the required node affinity
//! reaches the model; preferred node affinity, pod affinity and pod anti-affinity are checked
//! by nothing here, kept out of the model, and named in a note.

use super::validate::FieldError;
use super::validate::{dns1123_subdomain, forbidden, invalid, label_key, required, BadValue};
use crate::model::affinity::{
    NodeSelector, NodeSelectorOperator, NodeSelectorRequirement, NodeSelectorTerm, NODE_NAME_FIELD,
};
use k8s_openapi::api::core::v1 as core;

/// `validateAffinity` for the node affinity of the pod spec at `path` (`spec` or
/// `spec.template.spec`).
pub fn validate(a: Option<&core::Affinity>, path: &str, errs: &mut Vec<FieldError>) {
    let Some(na) = a.and_then(|a| a.node_affinity.as_ref()) else {
        return;
    };
    let np = format!("{path}.affinity.nodeAffinity");
    if let Some(req) = &na.required_during_scheduling_ignored_during_execution {
        let tp = format!("{np}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
        if req.node_selector_terms.is_empty() {
            errs.push(required(&tp, "must have at least one node selector term"));
        }
        for (i, t) in req.node_selector_terms.iter().enumerate() {
            term(t, &format!("{tp}[{i}]"), errs);
        }
    }
    for (i, p) in na
        .preferred_during_scheduling_ignored_during_execution
        .iter()
        .flatten()
        .enumerate()
    {
        let pp = format!("{np}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
        if !(1..=100).contains(&p.weight) {
            errs.push(invalid(
                &format!("{pp}.weight"),
                BadValue::Int(p.weight.into()),
                "must be in the range 1-100",
            ));
        }
        term(&p.preference, &format!("{pp}.preference"), errs);
    }
}

/// `ValidateNodeSelectorTerm`.
fn term(t: &core::NodeSelectorTerm, path: &str, errs: &mut Vec<FieldError>) {
    for (j, r) in t.match_expressions.iter().flatten().enumerate() {
        expression(r, &format!("{path}.matchExpressions[{j}]"), errs);
    }
    for (j, r) in t.match_fields.iter().flatten().enumerate() {
        field(r, &format!("{path}.matchFields[{j}]"), errs);
    }
}

/// `ValidateNodeSelectorRequirement`.
fn expression(r: &core::NodeSelectorRequirement, path: &str, errs: &mut Vec<FieldError>) {
    let n = r.values.as_ref().map_or(0, Vec::len);
    let values = format!("{path}.values");
    match r.operator.as_str() {
        "In" | "NotIn" if n == 0 => errs.push(required(
            &values,
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if n > 0 => errs.push(forbidden(
            &values,
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "Gt" | "Lt" if n != 1 => errs.push(required(
            &values,
            "must be specified single value when `operator` is 'Lt' or 'Gt'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
        op => errs.push(invalid(
            &format!("{path}.operator"),
            BadValue::Str(op.into()),
            "not a valid selector operator",
        )),
    }
    for m in label_key(&r.key) {
        errs.push(invalid(
            &format!("{path}.key"),
            BadValue::Str(r.key.clone()),
            &m,
        ));
    }
}

/// `ValidateNodeFieldSelectorRequirement`: `metadata.name` only, `In` or `NotIn`, one value
/// that is a node name (`ValidateNodeName`).
fn field(r: &core::NodeSelectorRequirement, path: &str, errs: &mut Vec<FieldError>) {
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" | "NotIn" => {
            if values.len() != 1 {
                errs.push(required(
                    &format!("{path}.values"),
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                ));
            }
        }
        op => errs.push(invalid(
            &format!("{path}.operator"),
            BadValue::Str(op.into()),
            "not a valid selector operator",
        )),
    }
    if r.key != NODE_NAME_FIELD {
        errs.push(invalid(
            &format!("{path}.key"),
            BadValue::Str(r.key.clone()),
            "not a valid field selector key",
        ));
        return;
    }
    for (i, v) in values.iter().enumerate() {
        for m in dns1123_subdomain(v) {
            errs.push(invalid(
                &format!("{path}.values[{i}]"),
                BadValue::Str(v.clone()),
                &m,
            ));
        }
    }
}

/// The required node affinity of a validated pod spec, `None` when not written.
pub fn convert(a: Option<&core::Affinity>) -> Option<NodeSelector> {
    let req = a?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?;
    let requirement = |r: &core::NodeSelectorRequirement| NodeSelectorRequirement {
        key: r.key.clone(),
        // Validation refused any other operator.
        operator: NodeSelectorOperator::parse(&r.operator).unwrap_or(NodeSelectorOperator::In),
        values: r.values.clone().unwrap_or_default(),
    };
    Some(NodeSelector {
        terms: req
            .node_selector_terms
            .iter()
            .map(|t| NodeSelectorTerm {
                match_expressions: t
                    .match_expressions
                    .iter()
                    .flatten()
                    .map(requirement)
                    .collect(),
                match_fields: t.match_fields.iter().flatten().map(requirement).collect(),
            })
            .collect(),
    })
}

/// What the pod spec at `path` asks of affinity that kubesim does not act on: `(field path,
/// note)`, one per kind of rule written.
pub fn notes(a: Option<&core::Affinity>, path: &str) -> Vec<(String, String)> {
    let Some(a) = a else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let preferred = a
        .node_affinity
        .as_ref()
        .and_then(|n| {
            n.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .filter(|p| !p.is_empty());
    if preferred.is_some() {
        out.push((
            format!("{path}.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution"),
            "preferred node affinity is accepted but not scored: kubesim's scheduler spreads and \
             packs as if it were absent (the required terms are honoured)"
                .to_string(),
        ));
    }
    let pod_rules = |p: Option<bool>, key: &str, what: &str| {
        p.filter(|written| *written).map(|_| {
            (
                format!("{path}.affinity.{key}"),
                format!(
                    "{what} is accepted but not simulated: kubesim's scheduler places the pod as if it were absent"
                ),
            )
        })
    };
    let written_pa = a.pod_affinity.as_ref().map(|p| {
        p.required_during_scheduling_ignored_during_execution
            .as_ref()
            .is_some_and(|v| !v.is_empty())
            || p.preferred_during_scheduling_ignored_during_execution
                .as_ref()
                .is_some_and(|v| !v.is_empty())
    });
    let written_anti = a.pod_anti_affinity.as_ref().map(|p| {
        p.required_during_scheduling_ignored_during_execution
            .as_ref()
            .is_some_and(|v| !v.is_empty())
            || p.preferred_during_scheduling_ignored_during_execution
                .as_ref()
                .is_some_and(|v| !v.is_empty())
    });
    out.extend(pod_rules(written_pa, "podAffinity", "pod affinity"));
    out.extend(pod_rules(
        written_anti,
        "podAntiAffinity",
        "pod anti-affinity",
    ));
    out
}
