"""Execution: a validated transaction → a landed, settled Jito bundle, never lost, never sent twice."""
