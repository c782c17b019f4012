"""Retention: the plan of what falls due and when, and the sweep that erases it (the rules' own
arithmetic is `pigment_cli.policy.rules`)."""
