//! Node affinity: `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`,
//! the node selector terms a pod's node must match, as upstream's
//! `staging/src/k8s.io/component-helpers/scheduling/corev1/nodeaffinity/nodeaffinity.go`
//! (`LazyErrorNodeSelector.Match`) evaluates them.
//!
//! - The terms are ORed; a term with neither `matchExpressions` nor `matchFields` matches no
//!   node (`isEmptyNodeSelectorTerm`), and no terms at all match nothing.
//! - Within a term, every expression and every field requirement must hold (ANDed).
//! - `matchExpressions` test the node's labels as a label selector does
//!   (`k8s.io/apimachinery/pkg/labels`, `Requirement.Matches`): `In` (the label is one of the
//!   values), `NotIn` (absent, or none of them), `Exists`, `DoesNotExist`, `Gt`/`Lt` (the
//!   label's value and the one value both parse as integers, and compare so).
//! - `matchFields` test the node's fields; the only one is `metadata.name`, with `In` or
//!   `NotIn` and one value (`nodeSelectorRequirementsAsFieldSelector`).
//! - A term that does not parse (a `Gt` value that is not an integer) matches no node; the
//!   other terms still may (the "lazy error" of upstream's selector).
//!
//! `preferredDuringSchedulingIgnoredDuringExecution` is accepted by the scenario loader and not
//! scored; pod affinity and anti-affinity likewise (the loader says so in a note).
//!
//! Knows node names and labels, nothing of the cluster around them.

use super::objects::Labels;

/// `NodeSelectorOperator` (`k8s.io/api/core/v1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeSelectorOperator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

impl NodeSelectorOperator {
    /// The operator as written in YAML, `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "In" => NodeSelectorOperator::In,
            "NotIn" => NodeSelectorOperator::NotIn,
            "Exists" => NodeSelectorOperator::Exists,
            "DoesNotExist" => NodeSelectorOperator::DoesNotExist,
            "Gt" => NodeSelectorOperator::Gt,
            "Lt" => NodeSelectorOperator::Lt,
            _ => return None,
        })
    }
}

/// One `NodeSelectorRequirement`: a key, an operator and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSelectorRequirement {
    pub key: String,
    pub operator: NodeSelectorOperator,
    pub values: Vec<String>,
}

/// One `NodeSelectorTerm`: its requirements are ANDed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSelectorTerm {
    /// On the node's labels.
    pub match_expressions: Vec<NodeSelectorRequirement>,
    /// On the node's fields (`metadata.name`).
    pub match_fields: Vec<NodeSelectorRequirement>,
}

/// `requiredDuringSchedulingIgnoredDuringExecution`: its terms are ORed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSelector {
    pub terms: Vec<NodeSelectorTerm>,
}

/// The field a `matchFields` requirement may name (`metav1.ObjectNameField`).
pub const NODE_NAME_FIELD: &str = "metadata.name";

impl NodeSelector {
    /// The selector the DaemonSet controller gives each daemon pod, replacing the template's
    /// required terms: one term, `matchFields` `metadata.name In [node]`
    /// (`ReplaceDaemonSetPodNodeNameNodeAffinity`, `pkg/controller/daemon/util/daemonset_util.go`).
    pub fn node_name(node: &str) -> Self {
        NodeSelector {
            terms: vec![NodeSelectorTerm {
                match_expressions: Vec::new(),
                match_fields: vec![NodeSelectorRequirement {
                    key: NODE_NAME_FIELD.into(),
                    operator: NodeSelectorOperator::In,
                    values: vec![node.into()],
                }],
            }],
        }
    }

    /// Whether the node named `name` with `labels` matches one of the terms
    /// (`LazyErrorNodeSelector.Match`).
    pub fn matches(&self, name: &str, labels: &Labels) -> bool {
        self.terms.iter().any(|t| t.matches(name, labels))
    }
}

impl NodeSelectorTerm {
    /// Every requirement holds; an empty term matches nothing (`isEmptyNodeSelectorTerm`).
    pub fn matches(&self, name: &str, labels: &Labels) -> bool {
        if self.match_expressions.is_empty() && self.match_fields.is_empty() {
            return false;
        }
        self.match_expressions
            .iter()
            .all(|r| r.matches_label(labels))
            && self.match_fields.iter().all(|r| r.matches_field(name))
    }
}

impl NodeSelectorRequirement {
    /// `labels.Requirement.Matches` on the node's labels.
    fn matches_label(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            NodeSelectorOperator::In => value.is_some_and(|v| self.values.contains(v)),
            NodeSelectorOperator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            NodeSelectorOperator::Exists => value.is_some(),
            NodeSelectorOperator::DoesNotExist => value.is_none(),
            NodeSelectorOperator::Gt | NodeSelectorOperator::Lt => {
                // `NewRequirement` refuses anything but one integer; `Matches` is false for a
                // label whose value is not one.
                let [bound] = self.values.as_slice() else {
                    return false;
                };
                let (Ok(bound), Some(Ok(have))) =
                    (bound.parse::<i64>(), value.map(|v| v.parse::<i64>()))
                else {
                    return false;
                };
                if self.operator == NodeSelectorOperator::Gt {
                    have > bound
                } else {
                    have < bound
                }
            }
        }
    }

    /// `fields.OneTermEqualSelector` / `OneTermNotEqualSelector` on the node's fields: only
    /// `metadata.name`, `In` or `NotIn`, one value.
    fn matches_field(&self, name: &str) -> bool {
        let [value] = self.values.as_slice() else {
            return false;
        };
        if self.key != NODE_NAME_FIELD {
            // An unknown field is absent: `In` fails, `NotIn` holds (a fields.Set lookup).
            return self.operator == NodeSelectorOperator::NotIn;
        }
        match self.operator {
            NodeSelectorOperator::In => value == name,
            NodeSelectorOperator::NotIn => value != name,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NodeSelectorOperator::*;

    fn req(key: &str, operator: NodeSelectorOperator, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn term(exprs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_expressions: exprs,
            match_fields: Vec::new(),
        }
    }

    // Cases of upstream's `TestNodeAffinity`
    // (`pkg/scheduler/framework/plugins/nodeaffinity/node_affinity_test.go`), by their names.
    #[test]
    fn expressions_follow_label_selector_semantics() {
        let node = labels(&[("foo", "bar"), ("kernel-version", "0206")]);
        let one = |r| NodeSelector {
            terms: vec![term(vec![r])],
        };
        assert!(one(req("foo", In, &["bar", "value2"])).matches("n", &node));
        assert!(!one(req("foo", In, &["value1", "value2"])).matches("n", &node));
        assert!(!one(req("foo", NotIn, &["bar"])).matches("n", &node));
        assert!(one(req("absent", NotIn, &["x"])).matches("n", &node));
        assert!(one(req("foo", Exists, &[])).matches("n", &node));
        assert!(!one(req("foo", DoesNotExist, &[])).matches("n", &node));
        assert!(one(req("absent", DoesNotExist, &[])).matches("n", &node));
        // "Pod with matchExpressions using Gt operator that matches the existing node":
        // 0206 parses as 206.
        assert!(one(req("kernel-version", Gt, &["0204"])).matches("n", &node));
        assert!(!one(req("kernel-version", Lt, &["0204"])).matches("n", &node));
        assert!(
            !one(req("foo", Gt, &["1"])).matches("n", &node),
            "bar is no integer"
        );
        assert!(!one(req("kernel-version", Gt, &["x"])).matches("n", &node));
    }

    #[test]
    fn terms_are_ored_and_expressions_anded() {
        let node = labels(&[("foo", "bar"), ("zone", "a")]);
        let both = term(vec![req("foo", In, &["bar"]), req("zone", In, &["b"])]);
        assert!(!NodeSelector {
            terms: vec![both.clone()]
        }
        .matches("n", &node));
        let either = NodeSelector {
            terms: vec![both, term(vec![req("zone", In, &["a"])])],
        };
        assert!(either.matches("n", &node));
        // "Pod with an empty NodeSelectorTerms in affinity can't schedule onto any node", and
        // an empty term among others is skipped.
        assert!(!NodeSelector { terms: vec![] }.matches("n", &node));
        assert!(!NodeSelector {
            terms: vec![NodeSelectorTerm::default()]
        }
        .matches("n", &node));
        // A term that does not parse matches nothing; the next one still may.
        let lazy = NodeSelector {
            terms: vec![
                term(vec![req("zone", Gt, &["a"])]),
                term(vec![req("foo", Exists, &[])]),
            ],
        };
        assert!(lazy.matches("n", &node));
    }

    #[test]
    fn fields_match_the_node_name() {
        let none = Labels::new();
        assert!(NodeSelector::node_name("node-1").matches("node-1", &none));
        assert!(!NodeSelector::node_name("node-1").matches("node-2", &none));
        let not_in = NodeSelector {
            terms: vec![NodeSelectorTerm {
                match_expressions: Vec::new(),
                match_fields: vec![req(NODE_NAME_FIELD, NotIn, &["node-1"])],
            }],
        };
        assert!(!not_in.matches("node-1", &none));
        assert!(not_in.matches("node-2", &none));
        // Labels and fields in one term are ANDed.
        let both = NodeSelector {
            terms: vec![NodeSelectorTerm {
                match_expressions: vec![req("foo", Exists, &[])],
                match_fields: vec![req(NODE_NAME_FIELD, In, &["node-1"])],
            }],
        };
        assert!(!both.matches("node-1", &none));
        assert!(both.matches("node-1", &labels(&[("foo", "")])));
    }
}
