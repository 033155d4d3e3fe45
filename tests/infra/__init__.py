"""The stack as CloudFormation receives it: the template, its alarms and roles, and the deploy rehearsal."""
