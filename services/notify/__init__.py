"""notify: e-mail and SMS one-time codes, postal letters (PDF) and in-app notifications."""
