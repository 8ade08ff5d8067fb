"""access: trusted circle, presence passwords, emergency access, assistants, audit trail."""
