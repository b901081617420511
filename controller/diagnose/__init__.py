"""Explain why tasks stopped: a pure rule table, offline from files, online from AWS and NATS."""
from fleetctl.controller.diagnose.classify import Classification, TaskEvidence, classify, classify_task
from fleetctl.controller.diagnose.findings import Finding, group, has_problems
from fleetctl.controller.diagnose.rules import CATEGORIES, NATS_CATEGORIES, RULES, Rule, Severity, Stage

__all__ = ["CATEGORIES", "NATS_CATEGORIES", "RULES", "Classification", "Finding", "Rule", "Severity", "Stage",
           "TaskEvidence", "classify", "classify_task", "group", "has_problems"]
