"""One router module per resource: workflows, runs, tasks, events, decisions, health."""
