"""The workflow engine: rules, triggers, actions and the runner (issue 5)."""
